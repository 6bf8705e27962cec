"""Where the real datasets are (``../shared/datasets/real`` beside the checkout), or a skip."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REAL = REPO.parent / "shared" / "datasets" / "real"


def real_dataset(name: str) -> Path:
    """``../shared/datasets/real/<name>`` or a skip saying it is absent."""
    path = REAL / name
    if not path.is_dir():
        pytest.skip(f"{path} is not present beside the checkout (real {name} files)")
    return path
