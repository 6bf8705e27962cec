"""The agent's and trainer's modules import one another as a DAG: no module imports, at any depth
and even late (inside a function), one that imports it back."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _modules() -> dict[str, Path]:
    out = {}
    for path in [*(REPO / "agent").rglob("*.py"), *(REPO / "trainer").rglob("*.py")]:
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imported(tree: ast.AST) -> set[str]:
    """Every module named by an import in ``tree`` (``from a import b`` names ``a`` and ``a.b``),
    except those only imported for type checking."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """module -> the project's modules it imports."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps = graph.setdefault(name, set())
        for dep in _imported(ast.parse(path.read_text(encoding="utf-8"))):
            while dep and dep not in modules:
                dep = dep.rpartition(".")[0]
            if dep and dep != name:
                deps.add(dep)
    return graph


def test_no_import_cycles() -> None:
    graph = import_graph()
    assert sum(map(len, graph.values())) > 100  # the walk found the imports
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_the_check_sees_a_cycle() -> None:
    graph = import_graph()
    graph["agent.errors"].add("agent.config")  # agent.config imports agent.errors
    with pytest.raises(CycleError):
        TopologicalSorter(graph).prepare()
