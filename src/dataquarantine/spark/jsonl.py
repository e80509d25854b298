"""``read_jsonl``: JSON lines as a DataFrame of raw lines with their file and byte offset.

Spark's ``text`` source gives neither a line's position nor its exact bytes (it also splits on
a lone ``\\r``), and record ids need both. This Python data source reads local files in byte
ranges (:mod:`~dataquarantine.spark.jsonl_lines`): each row is one non-blank line, as the
default reader counts records, with ``path`` (the file's ``file:`` URI, as the default engine
names it), ``offset`` (where the line starts) and ``value`` (its bytes, terminator included,
any bytes at all: judging them is the engine's job).

:func:`judged_jsonl` reads the same files with the engine tier inside the reader: each batch
of lines is judged by the Python worker that read it, so the lines cross from Python to the
JVM once, instead of to the JVM and back to a ``mapInArrow`` worker and again to the JVM.
:func:`~dataquarantine.spark.frames.check` takes that path for a frame ``read_jsonl`` made.
"""

from __future__ import annotations

import base64
import glob
import json
import math
import os
import pickle
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition
from pyspark.sql.types import StructType

from dataquarantine.errors import ConfigError
from dataquarantine.spark.columns import (
    JSONL_SCHEMA,
    LINE_OFFSET,
    LINE_PATH,
    LINE_VALUE,
    engine_fields,
)
from dataquarantine.spark.engine import EngineTask, run_engine
from dataquarantine.spark.jsonl_lines import line_blocks
from dataquarantine.spark.objects import input_size, input_uri, is_object, list_objects, open_input

__all__ = [
    "DEFAULT_SPLIT_BYTES",
    "SOURCE_NAME",
    "JsonLinesSource",
    "JsonlOrigin",
    "jsonl_origin",
    "judged_jsonl",
    "list_files",
    "read_jsonl",
]

SOURCE_NAME: Final = "dataquarantine_jsonl"
#: The most bytes per Spark partition (a partition owns the lines that start in its range).
DEFAULT_SPLIT_BYTES: Final = 128 << 20
#: The fewest bytes per partition when the input is cut to keep every core busy.
_MIN_SPLIT_BYTES: Final = 4 << 20
#: The attribute of a ``read_jsonl`` frame holding its :class:`JsonlOrigin`.
_ORIGIN: Final = "_dq_jsonl_origin"
_TASK_OPTION: Final = "engine_task"
_REMEDIATE_OPTION: Final = "remediate"
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


@dataclass(frozen=True, slots=True)
class JsonlOrigin:
    """What a ``read_jsonl`` frame reads: the files and the bytes per partition."""

    files: tuple[str, ...]
    split_bytes: int


class _Reader(DataSourceReader):
    def __init__(self, files: list[str], split_bytes: int, task: EngineTask | None) -> None:
        self.files = files
        self.split_bytes = split_bytes
        self.task = task

    def partitions(self) -> Sequence[InputPartition]:
        ranges: list[InputPartition] = []
        for name in self.files:
            size = input_size(name)
            for start in range(0, max(size, 1), self.split_bytes):
                ranges.append(InputPartition((name, start, min(start + self.split_bytes, size))))
        return ranges

    def read(self, partition: InputPartition) -> Iterator[Any]:
        batches = _line_batches(partition)
        return batches if self.task is None else _judged(self.task, batches)


def _judged(task: EngineTask, batches: Iterator[Any]) -> Iterator[Any]:
    """``run_engine``'s batches with the declared schema (Spark compares nullability too)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    schema = to_arrow_schema(StructType([*JSONL_SCHEMA.fields, *engine_fields(task.remediate)]))
    for batch in run_engine(task, batches):
        yield pa.RecordBatch.from_arrays(batch.columns, schema=schema)


def _line_batches(partition: InputPartition) -> Iterator[Any]:
    name, start, end = partition.value
    uri = input_uri(name)
    with open_input(name) as stream:
        for offsets, values in line_blocks(stream, start, end):
            if len(values):
                yield pa.RecordBatch.from_arrays(
                    [pa.repeat(pa.scalar(uri, pa.string()), len(values)), offsets, values],
                    schema=_ARROW_SCHEMA,
                )


class JsonLinesSource(DataSource):
    """The ``dataquarantine_jsonl`` data source (options: ``files``, a JSON list of local
    paths, and ``split_bytes``). Use :func:`read_jsonl`."""

    @classmethod
    def name(cls) -> str:
        return SOURCE_NAME

    def schema(self) -> StructType:
        if _TASK_OPTION in self.options:
            fix = self.options.get(_REMEDIATE_OPTION) == "1"
            return StructType([*JSONL_SCHEMA.fields, *engine_fields(fix)])
        return JSONL_SCHEMA

    def reader(self, schema: StructType) -> DataSourceReader:
        files = json.loads(self.options.get("files", "[]"))
        split_bytes = int(self.options.get("split_bytes", str(DEFAULT_SPLIT_BYTES)))
        shipped = self.options.get(_TASK_OPTION)
        # the driver pickled it (judged_jsonl), as pyspark ships any mapInArrow function
        task = None if shipped is None else pickle.loads(base64.b64decode(shipped))  # noqa: S301
        return _Reader(list(files), split_bytes, task)


def _split_bytes(spark: SparkSession, files: list[str]) -> int:
    """At most :data:`DEFAULT_SPLIT_BYTES`, cutting the input into a multiple of the cores'
    count of equal ranges (3 ranges on 2 cores would leave one core idle half the time)."""
    total = sum(input_size(f) for f in files)
    try:
        cores = max(1, int(spark.sparkContext.defaultParallelism))
    except Exception:  # Spark Connect has no SparkContext
        cores = 1
    parts = math.ceil(math.ceil(total / DEFAULT_SPLIT_BYTES) / cores) * cores
    return max(_MIN_SPLIT_BYTES, math.ceil(total / max(parts, 1)))


def read_jsonl(
    spark: SparkSession, paths: str | Sequence[str], *, split_bytes: int | None = None
) -> DataFrame:
    """JSON lines files (paths, globs or folders; local, or ``s3://`` / ``s3a://`` objects
    read with boto3, see :mod:`~dataquarantine.spark.objects`) as a DataFrame of
    :data:`~dataquarantine.spark.columns.JSONL_SCHEMA`, one row per non-blank line. Files are
    listed now; nothing is read until the DataFrame is used. ``split_bytes``: bytes per
    partition (default: the input in equal ranges of at most :data:`DEFAULT_SPLIT_BYTES`,
    a multiple of the cores in number)."""
    if split_bytes is not None and split_bytes < 1:
        raise ConfigError(f"split_bytes must be at least 1, got {split_bytes}")
    files = list_files([paths] if isinstance(paths, str) else list(paths))
    origin = JsonlOrigin(tuple(files), split_bytes or _split_bytes(spark, files))
    df = _load(spark, origin, {})
    setattr(df, _ORIGIN, origin)
    return df


def jsonl_origin(df: DataFrame) -> JsonlOrigin | None:
    """What ``df`` reads if :func:`read_jsonl` made it (``None`` for any other frame, one
    derived from it included)."""
    origin = getattr(df, _ORIGIN, None)
    return origin if isinstance(origin, JsonlOrigin) else None


def judged_jsonl(spark: SparkSession, origin: JsonlOrigin, task: EngineTask) -> DataFrame:
    """The lines of ``origin`` judged as they are read: ``read_jsonl``'s columns followed by
    :func:`~dataquarantine.spark.columns.engine_fields`, as ``run_engine`` appends them."""
    shipped = base64.b64encode(pickle.dumps(task, protocol=5)).decode("ascii")
    fix = "1" if task.remediate else "0"
    return _load(spark, origin, {_TASK_OPTION: shipped, _REMEDIATE_OPTION: fix})


def _load(spark: SparkSession, origin: JsonlOrigin, options: dict[str, str]) -> DataFrame:
    spark.dataSource.register(JsonLinesSource)
    reader = (
        spark.read.format(SOURCE_NAME)
        .option("files", json.dumps(list(origin.files)))
        .option("split_bytes", str(origin.split_bytes))
    )
    for key, value in options.items():
        reader = reader.option(key, value)
    return reader.load()
