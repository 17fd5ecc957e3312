"""Fixtures for the interchange tests: the shop dataset of shop_dataset.py on disk, good or spoilt."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from shop_dataset import Rows, good_rows, write_dataset


@pytest.fixture
def good_dataset(tmp_path) -> Path:
    return write_dataset(tmp_path / "dataset", good_rows())


@pytest.fixture
def spoilt_dataset(tmp_path) -> Callable[[Callable[[Rows], None]], Path]:
    """Write the good dataset after `spoil(rows)` changed a copy of its rows."""

    def write(spoil: Callable[[Rows], None]) -> Path:
        rows = good_rows()
        spoil(rows)
        return write_dataset(tmp_path / "spoilt", rows)

    return write
