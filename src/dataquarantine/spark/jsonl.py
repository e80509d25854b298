"""``read_jsonl``: JSON lines as a DataFrame of raw lines with their file and byte offset.

Spark's ``text`` source gives neither a line's position nor its exact bytes (it also splits on
a lone ``\\r``), and record ids need both. This Python data source reads local files in byte
ranges (:mod:`~dataquarantine.spark.jsonl_lines`): each row is one non-blank line, as the
default reader counts records, with ``path`` (the file's ``file:`` URI, as the default engine
names it), ``offset`` (where the line starts) and ``value`` (its bytes, terminator included,
any bytes at all: judging them is the engine's job).
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition
from pyspark.sql.types import StructType

from dataquarantine.errors import ConfigError
from dataquarantine.spark.columns import JSONL_SCHEMA, LINE_OFFSET, LINE_PATH, LINE_VALUE
from dataquarantine.spark.jsonl_lines import is_blank, lines_in_range
from dataquarantine.spark.objects import input_size, input_uri, is_object, list_objects, open_input

__all__ = ["DEFAULT_SPLIT_BYTES", "SOURCE_NAME", "JsonLinesSource", "list_files", "read_jsonl"]

SOURCE_NAME: Final = "dataquarantine_jsonl"
#: Bytes per Spark partition (a partition owns the lines that start in its range).
DEFAULT_SPLIT_BYTES: Final = 128 << 20
_ROWS_PER_BATCH: Final = 10_000
_ARROW_SCHEMA: Final = pa.schema(
    [
        pa.field(LINE_PATH, pa.string(), nullable=False),
        pa.field(LINE_OFFSET, pa.int64(), nullable=False),
        pa.field(LINE_VALUE, pa.binary(), nullable=False),
    ]
)


def list_files(paths: Sequence[str]) -> list[str]:
    """The absolute paths of the files named by ``paths``: files, globs, and folders (their
    files, not recursively, without hidden ones: names starting with ``.`` or ``_``, as Spark
    skips them)."""
    found: list[str] = []
    for given in paths:
        if is_object(given):  # s3:// or s3a://
            found.extend(list_objects(given))
            continue
        matches = sorted(glob.glob(given)) if glob.has_magic(given) else [given]
        if not matches:
            raise ConfigError(f"no input matches {given!r}")
        for match in matches:
            if os.path.isdir(match):
                found.extend(
                    os.path.abspath(p)
                    for p in sorted(Path(match).iterdir())
                    if p.is_file() and not p.name.startswith((".", "_"))
                )
            elif os.path.isfile(match):
                found.append(os.path.abspath(match))
            else:
                raise ConfigError(f"input {match!r} does not exist")
    return found


class _Reader(DataSourceReader):
    def __init__(self, files: list[str], split_bytes: int) -> None:
        self.files = files
        self.split_bytes = split_bytes

    def partitions(self) -> Sequence[InputPartition]:
        ranges: list[InputPartition] = []
        for name in self.files:
            size = input_size(name)
            for start in range(0, max(size, 1), self.split_bytes):
                ranges.append(InputPartition((name, start, min(start + self.split_bytes, size))))
        return ranges

    def read(self, partition: InputPartition) -> Iterator[Any]:
        name, start, end = partition.value
        uri = input_uri(name)
        offsets: list[int] = []
        values: list[bytes] = []
        with open_input(name) as stream:
            for offset, line in lines_in_range(stream, start, end):
                if is_blank(line, offset):
                    continue
                offsets.append(offset)
                values.append(line)
                if len(values) >= _ROWS_PER_BATCH:
                    yield _batch(uri, offsets, values)
                    offsets, values = [], []
        if values:
            yield _batch(uri, offsets, values)


def _batch(uri: str, offsets: list[int], values: list[bytes]) -> Any:
    return pa.RecordBatch.from_arrays(
        [pa.array([uri] * len(values), pa.string()), pa.array(offsets, pa.int64()),
         pa.array(values, pa.binary())],
        schema=_ARROW_SCHEMA,
    )  # fmt: skip


class JsonLinesSource(DataSource):
    """The ``dataquarantine_jsonl`` data source (options: ``files``, a JSON list of local
    paths, and ``split_bytes``). Use :func:`read_jsonl`."""

    @classmethod
    def name(cls) -> str:
        return SOURCE_NAME

    def schema(self) -> StructType:
        return JSONL_SCHEMA

    def reader(self, schema: StructType) -> DataSourceReader:
        files = json.loads(self.options.get("files", "[]"))
        split_bytes = int(self.options.get("split_bytes", str(DEFAULT_SPLIT_BYTES)))
        return _Reader(list(files), split_bytes)


def read_jsonl(
    spark: SparkSession, paths: str | Sequence[str], *, split_bytes: int = DEFAULT_SPLIT_BYTES
) -> DataFrame:
    """JSON lines files (paths, globs or folders; local, or ``s3://`` / ``s3a://`` objects
    read with boto3, see :mod:`~dataquarantine.spark.objects`) as a DataFrame of
    :data:`~dataquarantine.spark.columns.JSONL_SCHEMA`, one row per non-blank line. Files are
    listed now; nothing is read until the DataFrame is used."""
    if split_bytes < 1:
        raise ConfigError(f"split_bytes must be at least 1, got {split_bytes}")
    files = list_files([paths] if isinstance(paths, str) else list(paths))
    spark.dataSource.register(JsonLinesSource)
    return (
        spark.read.format(SOURCE_NAME)
        .option("files", json.dumps(files))
        .option("split_bytes", str(split_bytes))
        .load()
    )
