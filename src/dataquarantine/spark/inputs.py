"""The inputs of ``validate --engine spark``: files, globs and folders as one DataFrame.

Parquet goes through Spark's own reader (any filesystem the cluster has: ``s3a://`` too), JSON
lines through :func:`~dataquarantine.spark.jsonl.read_jsonl` and CSV through
:func:`~dataquarantine.spark.csv_input.read_csv` (local files, and ``s3://`` or ``s3a://``
objects read with boto3: :mod:`~dataquarantine.spark.objects`). The format comes from
``--format``, else from the names' extensions (a folder's from its files'); all inputs of one
run share it.
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Literal

from pyspark.sql import DataFrame, SparkSession

from dataquarantine.errors import ConfigError
from dataquarantine.spark.csv_input import read_csv
from dataquarantine.spark.jsonl import read_jsonl
from dataquarantine.spark.objects import is_object

__all__ = ["SparkFormat", "input_format", "read_inputs", "session"]

SparkFormat = Literal["jsonl", "parquet", "csv"]

_SUFFIXES: Final[dict[str, SparkFormat]] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
}


def _format_of(path: str) -> SparkFormat | None:
    name = path.rstrip("/")
    if "://" not in name and os.path.isdir(name):
        inside = sorted(
            p for p in Path(name).iterdir() if p.is_file() and not p.name.startswith((".", "_"))
        )
        return _format_of(str(inside[0])) if inside else None
    if "://" not in name and glob.has_magic(name):
        matches = sorted(glob.glob(name))
        return _format_of(matches[0]) if matches else None
    return _SUFFIXES.get(os.path.splitext(name)[1].lower())


def input_format(inputs: Sequence[str], given: str | None) -> SparkFormat:
    """The one format of ``inputs`` (``given`` wins); :class:`ConfigError` when it cannot be
    told or when inputs mix formats."""
    found: set[SparkFormat] = set()
    for path in inputs:
        fmt = _SUFFIXES.get(f".{given}") if given else _format_of(path)
        if fmt is None:
            raise ConfigError(f"cannot tell the format of {path!r}: give --format")
        found.add(fmt)
    if len(found) != 1:
        raise ConfigError(f"--engine spark takes inputs of one format, not {sorted(found)}")
    (fmt,) = found
    return fmt


def read_inputs(spark: SparkSession, inputs: Sequence[str], fmt: SparkFormat) -> DataFrame:
    """``inputs`` as one DataFrame that :func:`~dataquarantine.spark.run.run` accepts."""
    if fmt == "parquet":
        return spark.read.parquet(*inputs)
    local = [p.removeprefix("file://") for p in inputs]
    if any("://" in p and not is_object(p) for p in local):
        raise ConfigError(f"--engine spark reads {fmt} from local files and s3:// only")
    return read_jsonl(spark, local) if fmt == "jsonl" else read_csv(spark, local)


def session(master: str | None, *, progress: bool) -> tuple[SparkSession, bool]:
    """The active SparkSession (and ``False``), or a new one on ``master`` (default
    ``local[*]``) with the settings verdicts need (UTC), and ``True``: the caller stops it."""
    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    built = (
        SparkSession.builder.master(master or "local[*]")
        .appName("dataquarantine validate")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "true" if progress else "false")
        .getOrCreate()
    )
    built.sparkContext.setLogLevel("ERROR")
    return built, True
