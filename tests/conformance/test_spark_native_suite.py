"""The Spark native tier on the JSON-Schema-Test-Suite (draft 2020-12) instances of every
keyword it translates.

Each case's schema becomes the subschema of one property, and each instance that a typed
column can hold (a boolean, a 64-bit integer, a float or a string) one row of one Parquet file,
in a column of its own (``c<case>_<type>``); the other columns of the row are null, so absent.
For every row, the native predicate must never clear a row the engine rejects, and ``check``
must give the engine's verdict, codes and paths (the suite's own expectations are the business
of ``test_json_schema_suite.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from tests.conformance.conftest import Suite
from tests.fixtures.spark import require_spark

require_spark()

from tests.unit.spark.differential import engine_verdict, spark_parquet_verdicts

from dataquarantine.spark import surely_valid
from dataquarantine.validation.contract import Contract

SUITE = Suite(
    "JSON-Schema-Test-Suite", "DQ_JSON_SCHEMA_SUITE", "json-schema-test-suite", "tests"
).root()
#: The files of the keywords the native tier translates on a column's value.
KEYWORDS = (
    "type",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
)
_TYPES = {bool: pa.bool_(), int: pa.int64(), float: pa.float64(), str: pa.string()}
_REFERENCING = ("$ref", "$defs", "definitions", "$id", "$anchor", "$dynamicRef")


def _column_type(value: Any) -> Any:
    kind = _TYPES.get(type(value))
    if kind is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        return None
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return None
    return kind


def _cases() -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """The contract's properties, the rows, and the column types."""
    assert SUITE is not None
    properties: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    types: dict[str, Any] = {}
    for keyword in KEYWORDS:
        path = SUITE / "tests" / "draft2020-12" / f"{keyword}.json"
        for i, case in enumerate(json.loads(path.read_text())):
            schema = case["schema"]
            if isinstance(schema, dict):
                schema = {k: v for k, v in schema.items() if k != "$schema"}
                if any(key in json.dumps(schema) for key in _REFERENCING):
                    continue
            for test in case["tests"]:
                kind = _column_type(test["data"])
                if kind is None:
                    continue
                name = f"{keyword}{i}_{kind}"
                properties[name] = schema
                types[name] = kind
                rows.append({name: test["data"]})
    return properties, rows, types


def test_native_tier_on_the_suite_instances(spark: Any, tmp_path: Path) -> None:
    if SUITE is None:
        Suite(
            "JSON-Schema-Test-Suite", "DQ_JSON_SCHEMA_SUITE", "json-schema-test-suite", "tests"
        ).missing()
        return
    properties, rows, types = _cases()
    contract = Contract.from_dict(
        {
            "name": "suite",
            "version": "1.0.0",
            "schema": {"type": "object", "properties": properties},
        }
    )
    path = tmp_path / "suite.parquet"
    schema = pa.schema([(name, kind) for name, kind in types.items()])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    df = spark.read.parquet(str(path))
    predicate = surely_valid(contract, df.schema)
    assert predicate is not None
    cleared = {
        row["line"]: row["ok"]
        for row in df.select(
            (df["_metadata.row_index"] + 1).alias("line"), predicate.alias("ok")
        ).collect()
    }
    got = spark_parquet_verdicts(df, contract)
    engine = [engine_verdict(contract.validate(row)) for row in rows]
    wrongly = [rows[line - 1] for line, ok in cleared.items() if ok and not engine[line - 1][0]]
    assert not wrongly
    assert [got[line][0] for line in range(1, len(rows) + 1)] == engine
    assert len(rows) > 100
    assert sum(cleared.values()) > 50, "the translator clears most valid instances"
