"""The valid output of CSV input: typed Parquet rows, as the default engine writes them.

The default engine writes the valid records of CSV input as Parquet: the columns of the first
file's header, in order, typed by the forced contract (``integer`` int64, ``number`` double,
``boolean``, else string; every column a string when records are routed), and each record's
cells as the engine typed them (:meth:`~dataquarantine.validation.contract.Contract.text_coercer`).
:func:`read_csv` keeps each file's header in its ``value`` column's metadata, so the driver
knows the output's columns before any task runs; the rows are built by the default sink's own
conversion (:func:`~dataquarantine.io.parquet_sink.csv_rows_batch`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
from pyspark.sql import DataFrame
from pyspark.sql.types import (
    BooleanType,
    DataType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from dataquarantine.errors import ConfigError
from dataquarantine.spark.columns import (
    CONTRACT,
    CONTRACT_VERSION,
    CSV_LINE,
    CSV_SCHEMA,
    LINE_PATH,
    LINE_VALUE,
)
from dataquarantine.spark.engine import ShippedContract, compiled
from dataquarantine.validation.contract import Contract

__all__ = ["HEADERS_KEY", "CsvOutput", "csv_headers", "is_csv", "typed_csv", "typed_output"]

#: The ``value`` column's metadata key: ``[[uri, header], ...]`` of ``read_csv``'s files (JSON).
HEADERS_KEY: Final = "dataquarantine.csv.headers"
_SPARK_TYPES: Final[dict[str, DataType]] = {
    "integer": LongType(),
    "number": DoubleType(),
    "boolean": BooleanType(),
}


def is_csv(df: DataFrame) -> bool:
    """Whether ``df`` has :func:`~dataquarantine.spark.csv_input.read_csv`'s columns (its
    metadata aside)."""
    ours = [(f.name, f.dataType) for f in df.schema.fields]
    return ours == [(f.name, f.dataType) for f in CSV_SCHEMA.fields]


def csv_headers(df: DataFrame) -> list[tuple[str, list[str]]]:
    """``(uri, header)`` of each file of a ``read_csv`` frame (empty files have none)."""
    found = df.schema[LINE_VALUE].metadata.get(HEADERS_KEY)
    if found is None:
        raise ConfigError(
            "the valid output of CSV input needs the frame of dataquarantine.spark.read_csv "
            "(its value column keeps the files' headers)"
        )
    return [(str(uri), [str(n) for n in names]) for uri, names in json.loads(found)]


@dataclass(frozen=True, slots=True)
class CsvOutput:
    """The typed output of valid CSV records (picklable: it travels to the executors)."""

    columns: tuple[str, ...]
    #: Column -> JSON type name (forced contract); empty when routed: every column a string.
    types: tuple[tuple[str, str], ...]
    #: The contracts whose coercers type the cells: one, or every routed version.
    contracts: tuple[ShippedContract, ...]
    routed: bool

    @classmethod
    def of(cls, df: DataFrame, contracts: Sequence[Contract], *, routed: bool) -> CsvOutput:
        """The output of ``df``'s valid records: the first file's header, refusing a later
        file with a column it lacks (as the default engine's sink does)."""
        headers = csv_headers(df)
        columns = headers[0][1] if headers else []
        for uri, names in headers[1:]:
            extra = [n for n in names if n not in columns]
            if extra:
                raise ConfigError(
                    f"{uri!r}: columns {extra} are not in the valid-record output "
                    "(its columns come from the first input)"
                )
        types = {} if routed else contracts[0].column_types()
        shipped = tuple(ShippedContract.of(c) for c in contracts)
        kept = tuple((c, types[c]) for c in columns if c in types)
        return cls(tuple(columns), kept, shipped, routed)

    def spark_schema(self) -> StructType:
        """The output's Spark schema, its columns named by position (``_dq_c<i>``: pyspark's
        ``mapInArrow`` looks names up, which fails for some): rename them with ``toDF``."""
        types = dict(self.types)
        return StructType(
            [
                StructField(f"_dq_c{i}", _SPARK_TYPES.get(types.get(c, ""), StringType()))
                for i, c in enumerate(self.columns)
            ]
        )

    def rows(self, raws: Sequence[bytes], refs: Sequence[str | None] | None, lines: Any) -> Any:
        """The valid records ``raws`` (``read_csv``'s values; ``refs``: each one's contract
        as ``name@version`` when routed) as an Arrow batch of the output's columns."""
        import pyarrow as pa

        from dataquarantine.io.parquet_sink import csv_output_schema, csv_rows_batch

        schema = csv_output_schema(self.columns, dict(self.types))
        coercers = {str(c.ref): c.text_coercer() for c in map(compiled, self.contracts)}
        first = next(iter(coercers.values()), None)
        values = []
        for i, raw in enumerate(raws):
            value = orjson.loads(raw)
            coerce = coercers.get(refs[i] or "") if refs is not None else first
            values.append(coerce(value) if coerce is not None else value)
        built = csv_rows_batch("CSV input", schema, values, lines)
        names = [f"_dq_c{i}" for i in range(len(self.columns))]
        return pa.RecordBatch.from_arrays(built.columns, names=names)


def _typed(output: CsvOutput, batches: Iterator[Any]) -> Iterator[Any]:
    for batch in batches:
        refs = None
        if output.routed:
            names = batch.column(CONTRACT).to_pylist()
            versions = batch.column(CONTRACT_VERSION).to_pylist()
            refs = [
                f"{n}@{v}" if n is not None else None for n, v in zip(names, versions, strict=True)
            ]
        raws = batch.column(LINE_VALUE).to_pylist()
        yield output.rows(raws, refs, batch.column(CSV_LINE).to_pylist())


def typed_output(valid: DataFrame, output: CsvOutput) -> DataFrame:
    """The valid CSV records of ``valid`` (checked rows: routed ones with their contract
    columns) as ``output``'s typed rows. Lazy."""
    routed = [CONTRACT, CONTRACT_VERSION] if output.routed else []
    source = valid.select(LINE_PATH, CSV_LINE, LINE_VALUE, *routed)
    typed = source.mapInArrow(functools.partial(_typed, output), output.spark_schema())
    return typed.toDF(*output.columns)


def typed_csv(valid: DataFrame, contract: Contract) -> DataFrame:
    """``split``'s valid frame of :func:`~dataquarantine.spark.csv_input.read_csv` input as
    the default engine writes it to Parquet: the first file's columns, typed by ``contract``,
    the cells as the engine typed them. Lazy."""
    return typed_output(valid, CsvOutput.of(valid, [contract], routed=False))
