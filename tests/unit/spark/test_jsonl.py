"""read_jsonl's file listing: files, globs and folders, as absolute paths (executors may run
elsewhere), without hidden files; a name that matches nothing is a usage error."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.fixtures.spark import require_spark

require_spark()

from dataquarantine.errors import ConfigError
from dataquarantine.spark.jsonl import list_files


def test_files_globs_and_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("b.jsonl", "a.jsonl", "_SUCCESS", ".hidden.jsonl"):
        (folder / name).write_text("{}\n")
    (folder / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    assert list_files(["in"]) == [str(folder / "a.jsonl"), str(folder / "b.jsonl")]
    assert list_files(["in/b.*"]) == [str(folder / "b.jsonl")]
    assert list_files(["in/_SUCCESS"]) == [str(folder / "_SUCCESS")]
    with pytest.raises(ConfigError, match="no input matches"):
        list_files(["in/*.csv"])
    with pytest.raises(ConfigError, match="does not exist"):
        list_files(["missing.jsonl"])
