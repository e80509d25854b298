"""``read_csv``: CSV files as the default engine reads them, one Spark partition per file.

A quoted CSV cell may hold line breaks, so a byte range cannot tell where a record starts
without reading the file from its beginning: each file is one partition, read by the default
engine's own reader (:func:`~dataquarantine.io.arrow_readers.read_csv_batches`: the header,
quoting, every cell as text, the record's line, rows that cannot be decoded). Each row is one
record: ``path`` (the file's ``file:`` URI), ``line`` (the default engine's line of the
record), ``value`` (the record's payload: its row object as JSON, text cells; or the row's text
when it could not be decoded) and ``error`` (then the reader's reason). The engine types the
cells by the schema as the default engine does, so verdicts, payloads and ids are the default
engine's. Parallelism is per file: split big CSV files before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, Final

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition
from pyspark.sql.types import StructField, StructType

from dataquarantine.io.arrow_readers import csv_header, read_csv_batches
from dataquarantine.spark.columns import CSV_ERROR, CSV_LINE, CSV_SCHEMA, LINE_PATH, LINE_VALUE
from dataquarantine.spark.csv_output import HEADERS_KEY
from dataquarantine.spark.jsonl import list_files
from dataquarantine.spark.objects import input_uri, local_copy

__all__ = ["CSV_SOURCE_NAME", "CsvSource", "read_csv"]

CSV_SOURCE_NAME: Final = "dataquarantine_csv"
_ROWS_PER_BATCH: Final = 10_000
_BLOCK_BYTES: Final = 1 << 20
_ARROW_SCHEMA: Final = pa.schema(
    [
        pa.field(LINE_PATH, pa.string(), nullable=False),
        pa.field(CSV_LINE, pa.int64(), nullable=False),
        pa.field(LINE_VALUE, pa.binary(), nullable=False),
        pa.field(CSV_ERROR, pa.string(), nullable=True),
    ]
)


class _Reader(DataSourceReader):
    def __init__(self, files: list[str]) -> None:
        self.files = files

    def partitions(self) -> Sequence[InputPartition]:
        return [InputPartition(name) for name in self.files]

    def read(self, partition: InputPartition) -> Iterator[Any]:
        name = partition.value
        uri = input_uri(name)
        with local_copy(name) as path:
            yield from _batches(uri, path)


def _batches(uri: str, path: str) -> Iterator[Any]:
    for batch in read_csv_batches(path, batch_size=_ROWS_PER_BATCH, block_size=_BLOCK_BYTES):
        n = len(batch.raws)
        errors = batch.decode_errors or {}
        reasons = [errors.get(i) for i in range(n)]
        yield pa.RecordBatch.from_arrays(
            [pa.array([uri] * n, pa.string()), pa.array(batch.lines, pa.int64()),
             pa.array(batch.raws, pa.binary()), pa.array(reasons, pa.string())],
            schema=_ARROW_SCHEMA,
        )  # fmt: skip


class CsvSource(DataSource):
    """The ``dataquarantine_csv`` data source (option ``files``: a JSON list of local paths).
    Use :func:`read_csv`."""

    @classmethod
    def name(cls) -> str:
        return CSV_SOURCE_NAME

    def schema(self) -> StructType:
        headers = self.options.get("headers", "[]")  # JSON text: metadata has no nested lists
        fields = [
            StructField(f.name, f.dataType, f.nullable, {HEADERS_KEY: headers})
            if f.name == LINE_VALUE
            else f
            for f in CSV_SCHEMA.fields
        ]
        return StructType(fields)

    def reader(self, schema: StructType) -> DataSourceReader:
        return _Reader(list(json.loads(self.options.get("files", "[]"))))


def read_csv(spark: SparkSession, paths: str | Sequence[str]) -> DataFrame:
    """CSV files (paths, globs or folders; local, or ``s3://`` / ``s3a://`` objects) as a
    DataFrame of :data:`~dataquarantine.spark.columns.CSV_SCHEMA`, one row per record. Files
    are listed and their headers read now (the ``value`` column's metadata keeps them for the
    valid output's columns); nothing else is read until the DataFrame is used."""
    files = list_files([paths] if isinstance(paths, str) else list(paths))
    headers = [[input_uri(name), header] for name in files if (header := _header(name))]
    spark.dataSource.register(CsvSource)
    return (
        spark.read.format(CSV_SOURCE_NAME)
        .option("files", json.dumps(files))
        .option("headers", json.dumps(headers))
        .load()
    )


def _header(name: str) -> list[str] | None:
    with local_copy(name, head=True) as path:
        return csv_header(path)
