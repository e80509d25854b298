"""The engine tier on typed (Parquet) rows: Spark hands the engine the records the default
Parquet reader makes of the same file (NaN, wide decimals, timestamps, nested values), so the
verdicts, codes, paths and rule ids are the default engine's."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.fixtures.spark import require_spark

require_spark()

from tests.unit.spark.differential import engine_verdict, parquet_rows, spark_parquet_verdicts

from dataquarantine.io.arrow_readers import arrow_rows
from dataquarantine.spark import check
from dataquarantine.spark.engine import nesting
from dataquarantine.validation.contract import Contract
from dataquarantine.validation.limits import MAX_DEPTH
from dataquarantine.validation.parsing import nests_deeper_than

TYPED: dict[str, Any] = {
    "name": "typed",
    "version": "0.3.0",
    "schema": {
        "type": "object",
        "required": ["id", "code"],
        "properties": {
            "id": {"type": "integer", "maximum": 2**64},
            "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "amount": {"type": "number", "minimum": 0},
            "price": {"type": "number", "multipleOf": 0.01},
            "at": {"type": "string", "format": "date-time"},
            "local": {"type": "string", "format": "date-time"},
            "day": {"type": "string", "format": "date"},
            "device": {
                "type": "object",
                "required": ["type"],
                "additionalProperties": False,
                "properties": {"type": {"enum": ["mobile", "desktop"]}, "os": {"type": "string"}},
            },
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
            "attrs": {"type": "object", "additionalProperties": {"type": "integer"}},
            "blob": {"type": "string", "contentEncoding": "base64"},
        },
    },
    "rules": [
        {"id": "priced", "expr": "!has(record.price) || record.price > 0.0", "field": "price"},
        {"id": "tagged", "expr": "has(record.tags)", "severity": "warn"},
    ],
}

_UTC = dt.UTC
SCHEMA = pa.schema(
    [
        ("id", pa.decimal128(38, 0)),
        ("code", pa.string()),
        ("amount", pa.float64()),
        ("price", pa.decimal128(10, 2)),
        ("at", pa.timestamp("us", tz="UTC")),
        ("local", pa.timestamp("us")),
        ("day", pa.date32()),
        ("device", pa.struct([("type", pa.string()), ("os", pa.string())])),
        ("tags", pa.list_(pa.string())),
        ("attrs", pa.map_(pa.string(), pa.int64())),
        ("blob", pa.binary()),
    ]
)
AT = dt.datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=_UTC)
ROWS: list[dict[str, Any]] = [
    {"id": Decimal(1), "code": "ABC", "tags": ["a"]},
    {"id": Decimal(2), "code": "ABC\n", "tags": ["a"]},  # `$` before a trailing newline
    {"id": Decimal(3), "code": "ABC", "amount": math.nan},
    {"id": Decimal(4), "code": "ABC", "amount": -math.inf},
    {"id": Decimal(2**70), "code": "ABC"},  # beyond 64 bits, within the maximum
    {"id": Decimal(2**65), "code": "ABC"},  # beyond the maximum
    {"id": Decimal(5), "code": "ABC", "price": Decimal("0.00")},  # the error rule
    {"id": Decimal(6), "code": "ABC", "price": Decimal("1.25"), "at": AT, "tags": []},
    {
        "id": Decimal(7),
        "code": "ABC",
        "local": AT.replace(tzinfo=None),
        "day": dt.date(2024, 2, 29),
    },
    {"id": Decimal(8), "code": "ABC", "device": {"type": "mobile", "os": None}},
    {"id": Decimal(9), "code": "ABC", "device": {"type": None, "os": "x"}},
    {"id": Decimal(10), "code": "ABC", "device": {"type": "watch", "os": "x"}},
    {"id": Decimal(11), "code": "ABC", "tags": ["a", None, "b", "c"]},
    {"id": Decimal(12), "code": "ABC", "attrs": [("k", 1), ("v", None)]},
    {"id": Decimal(13), "code": "ABC", "blob": b"\x00\xff"},
    {"id": None, "code": None},
    {"id": Decimal(14), "code": "abc", "amount": -1.0, "tags": ["a", "b", "c", "d"]},
]


@pytest.fixture(scope="module")
def typed() -> Contract:
    return Contract.from_dict(TYPED)


def test_typed_rows_get_the_default_engines_verdicts(
    spark: Any, tmp_path: Path, typed: Contract
) -> None:
    path = tmp_path / "typed.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS, schema=SCHEMA), path, row_group_size=4)
    got = spark_parquet_verdicts(spark.read.parquet(str(path)), typed)
    expected = parquet_rows(path)
    assert len(got) == len(expected) == len(ROWS)
    for line, row, raw in expected:
        result = typed.validate(row)
        verdict, payload, _ = got[line]
        assert verdict == engine_verdict(result), row
        assert payload == (None if result.valid else raw)
    verdicts = [got[line][0] for line, _, _ in expected]
    assert [v[0] for v in verdicts].count(True) == 4
    assert any(v[0] and v[2] for v in verdicts), "a valid row with a warning"


def test_a_cell_the_engine_cannot_read_is_a_system_error_of_its_row_only(
    spark: Any, tmp_path: Path, typed: Contract
) -> None:
    codes = pa.array([b"ABC", b"\xff\xfe\xfd", b"ABC"], pa.binary()).view(pa.string())
    table = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "code": codes})
    path = tmp_path / "bad utf8.parquet"
    pq.write_table(table, path)
    rows = check(spark.read.parquet(str(path)), typed).orderBy("_dq_row").collect()
    assert [row["_dq_valid"] for row in rows] == [True, False, True]
    error = rows[1]["_dq_errors"][0]
    assert (error["code"], error["path"]) == ("system_error", "")


def test_column_names_with_dots_and_backticks_are_plain_names(spark: Any, tmp_path: Path) -> None:
    contract = Contract.from_dict(
        {
            "name": "odd",
            "version": "1.0.0",
            "schema": {
                "type": "object",
                "required": ["a.b"],
                "properties": {"a.b": {"type": "integer", "maximum": 5}, "c`d e": {}},
            },
        }
    )
    table = pa.table({"a.b": pa.array([1, 9, None], pa.int64()), "c`d e": ["x", "y", "z"]})
    path = tmp_path / "odd.parquet"
    pq.write_table(table, path)
    got = spark_parquet_verdicts(spark.read.parquet(str(path)), contract)
    expected = parquet_rows(path)
    assert [got[line][0] for line, _, _ in expected] == [
        engine_verdict(contract.validate(row)) for _, row, _ in expected
    ]
    assert [got[line][0][0] for line, _, _ in expected] == [True, False, False]


def test_nesting_bounds_the_depth_of_typed_records() -> None:
    device = pa.struct([("type", pa.string()), ("tags", pa.list_(pa.string()))])
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "device": pa.array([{"type": "m", "tags": ["a"]}, None], device),
            "attrs": pa.array([[(1, [1])], [(2, [2])]], pa.map_(pa.int64(), pa.list_(pa.int64()))),
        }
    )
    bound = nesting(table.schema)
    assert bound == 1 + 2 + 1  # the record, a map as [key, value] pairs, a list
    assert nesting(pa.schema([("e", pa.struct([]))])) == 2
    for row in arrow_rows(table.to_batches()[0]):
        assert not nests_deeper_than(row, bound)
    deep: Any = pa.int64()
    for _ in range(MAX_DEPTH):
        deep = pa.list_(deep)
    assert nesting(pa.schema([("deep", deep)])) > MAX_DEPTH  # measured per row, as before
    assert nesting(pa.schema([("u", pa.dense_union([pa.field("i", pa.int64())]))])) > MAX_DEPTH
