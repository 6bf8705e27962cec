"""Lazily imported backends, registered by name (the pattern of python-can's ``BACKENDS``).

A registry maps a backend name to ``(module, attribute)``. The module is imported only when the
backend is asked for, so an optional dependency (pyshark, amqtt, ...) is needed only by users who
choose it, and a missing one turns into a :class:`~agent.errors.BackendError` that says which
package to install.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

from agent.errors import BackendError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table of lazily imported backends of one kind (sources, sinks, feature kinds...)."""

    def __init__(self, kind: str, entries: Mapping[str, tuple[str, str]], extras: Mapping[str, str] | None = None):
        """:param kind: what the backends are, for messages ("capture source").
        :param entries: backend name -> (module path, attribute name).
        :param extras: backend name -> how to install its optional dependency, for messages.
        """
        self.kind = kind
        self._entries = dict(entries)
        self._extras = dict(extras or {})

    def names(self) -> list[str]:
        """The registered backend names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def register(self, name: str, module: str, attribute: str) -> None:
        """Add (or replace) a backend; third-party code may register its own."""
        self._entries[name] = (module, attribute)

    def load(self, name: str) -> T:
        """Import and return the backend object registered under ``name``."""
        try:
            module_name, attribute = self._entries[name]
        except KeyError:
            raise BackendError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}"
            ) from None
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            hint = self._extras.get(name, f"the package that provides {module_name}")
            raise BackendError(
                f"{self.kind} {name!r} needs an optional dependency that is not installed "
                f"({exc.name or exc}); install {hint}"
            ) from exc
        obj: Any = getattr(module, attribute)
        return obj
