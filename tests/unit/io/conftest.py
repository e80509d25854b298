"""Factory fixtures for the io tests: input files written into the test's tmp_path."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

MakeFile = Callable[..., Path]


@pytest.fixture
def make_file(tmp_path: Path) -> MakeFile:
    """``make_file(content, suffix=".jsonl")``: a new file holding ``content`` (bytes or str)."""
    counter = itertools.count()

    def make(content: bytes | str, suffix: str = ".jsonl") -> Path:
        path = tmp_path / f"input-{next(counter)}{suffix}"
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    return make


@pytest.fixture
def make_parquet(tmp_path: Path) -> MakeFile:
    """``make_parquet(table_or_columns, row_group_size=None)``: a new Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    counter = itertools.count()

    def make(data: Any, row_group_size: int | None = None) -> Path:
        table = data if isinstance(data, pa.Table) else pa.table(data)
        path = tmp_path / f"input-{next(counter)}.parquet"
        pq.write_table(table, path, row_group_size=row_group_size)
        return path

    return make
