"""The inputs of ``validate --engine spark``: one format per run, told by ``--format`` or by
the names (a folder's by its files, a glob's by its matches)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.fixtures.spark import require_spark

require_spark()

from dataquarantine.errors import ConfigError
from dataquarantine.spark.inputs import input_format


def test_the_format_comes_from_names_folders_and_globs(tmp_path: Path) -> None:
    folder = tmp_path / "lake"
    folder.mkdir()
    (folder / "_SUCCESS").write_text("")
    (folder / "part-0.parquet").write_bytes(b"")
    (tmp_path / "a.ndjson").write_text("{}\n")
    (tmp_path / "b.csv").write_text("x\n")
    assert input_format([str(folder)], None) == "parquet"
    assert input_format([str(tmp_path / "*.ndjson")], None) == "jsonl"
    assert input_format([str(tmp_path / "b.csv")], None) == "csv"
    assert input_format(["s3a://bucket/events/part-1.parquet"], None) == "parquet"
    assert input_format([str(tmp_path / "b.csv")], "jsonl") == "jsonl"  # --format wins


def test_unknown_or_mixed_formats_are_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text("{}\n")
    (tmp_path / "b.csv").write_text("x\n")
    (tmp_path / "c.txt").write_text("x\n")
    with pytest.raises(ConfigError, match="one format"):
        input_format([str(tmp_path / "a.jsonl"), str(tmp_path / "b.csv")], None)
    with pytest.raises(ConfigError, match="give --format"):
        input_format([str(tmp_path / "c.txt")], None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="give --format"):
        input_format([str(tmp_path / "empty")], None)
