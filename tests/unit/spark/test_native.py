"""The native tier on typed (Parquet) input: the predicate never clears a row the engine
rejects (hypothesis), and split gives the default engine's verdicts and ids on the same file."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.fixtures.spark import require_spark

require_spark()

from tests.unit.spark.differential import (
    engine_verdict,
    parquet_rows,
    spark_parquet_verdicts,
)

from dataquarantine.quarantine.envelope import FileSource, QuarantineItem
from dataquarantine.spark import check, split, surely_valid
from dataquarantine.validation.contract import Contract

NATIVE: dict[str, Any] = {
    "name": "native",
    "version": "2.0.0",
    "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "exercises every translated keyword",
        "type": "object",
        "required": ["id", "name"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer", "minimum": -5, "exclusiveMaximum": 1000},
            "name": {"type": "string", "minLength": 2, "maxLength": 5},
            "kind": {"enum": ["a", "b", "é", 1]},
            "score": {"type": "number", "minimum": 0, "maximum": 1.5},
            "ratio": {"type": "number", "exclusiveMinimum": -1, "exclusiveMaximum": 1},
            "flag": {"const": True},
            "small": {"type": "integer", "maximum": 3_000_000_000.0, "minimum": 10},
            "code": {"type": "string", "pattern": "^[a-z]+$"},
            "label": {"type": ["string", "null"], "description": "free text"},
            "count": {"type": "number", "enum": [1, 2]},
        },
    },
}

SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("name", pa.string()),
        ("kind", pa.string()),
        ("score", pa.float64()),
        ("ratio", pa.float32()),
        ("flag", pa.bool_()),
        ("small", pa.int32()),
        ("code", pa.string()),
        ("label", pa.string()),
        ("count", pa.int16()),
        ("other", pa.int8()),
    ]
)

_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=7)
_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.5, 1.5000000000000002, -1.0, 1.0, math.nan, math.inf]),
)
ROW = st.fixed_dictionaries(
    {
        "id": st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.integers(-10, 1005)),
        "name": st.one_of(st.none(), _TEXT, st.sampled_from(["ab", "ab😀cd", "e\u0301e\u0301e"])),
        "kind": st.one_of(st.none(), st.sampled_from(["a", "b", "é", "e\u0301", "A", "1"])),
        "score": st.one_of(st.none(), _FLOATS),
        "ratio": st.one_of(
            st.none(), _FLOATS.map(lambda f: float(pa.scalar(f, pa.float32()).as_py()))
        ),
        "flag": st.one_of(st.none(), st.booleans()),
        "small": st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1), st.integers(0, 20)),
        "code": st.one_of(st.none(), st.just("abc"), st.just("abc\n")),
        "label": st.one_of(st.none(), _TEXT),
        "count": st.one_of(st.none(), st.integers(0, 3)),
        "other": st.one_of(st.just(None), st.just(None), st.integers(-128, 127)),
    }
)


@pytest.fixture(scope="module")
def native() -> Contract:
    return Contract.from_dict(NATIVE)


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), path, row_group_size=7)
    return path


def _native_cleared(spark: Any, path: Path, contract: Contract) -> dict[int, bool]:
    df = spark.read.parquet(str(path))
    predicate = surely_valid(contract, df.schema)
    assert predicate is not None
    rows = df.select((df["_metadata.row_index"] + 1).alias("line"), predicate.alias("ok"))
    return {row["line"]: row["ok"] for row in rows.collect()}


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(ROW, min_size=1, max_size=80))
def test_the_native_predicate_clears_only_rows_the_engine_accepts(
    spark: Any, tmp_path_factory: pytest.TempPathFactory, native: Contract, rows: list[Any]
) -> None:
    path = _write(tmp_path_factory.mktemp("native") / "rows.parquet", rows)
    engine = {line: native.validate(row).valid for line, row, _ in parquet_rows(path)}
    cleared = _native_cleared(spark, path, native)
    wrongly = [line for line, ok in cleared.items() if ok and not engine[line]]
    assert not wrongly, [parquet_rows(path)[line - 1][1] for line in wrongly]


FIXED_ROWS: list[dict[str, Any]] = [
    {"id": 1, "name": "ab"},
    {"id": 999, "name": "ab😀cd", "kind": "é", "score": 1.5, "ratio": 0.5, "flag": True},
    {"id": 3, "name": "abc", "small": 3_000, "count": 2, "label": "x"},
    {"id": 4, "name": "abc", "code": "abc"},  # valid, but only the engine can tell
    {"id": 5, "name": "abc", "code": "abc\n"},  # `$` does not match before a newline
    {"id": 1000, "name": "ab"},
    {"id": 6, "name": "a"},
    {"id": 7, "name": "abcdef"},
    {"id": 8, "name": "ab", "score": math.nan},
    {"id": 9, "name": "ab", "score": math.inf},
    {"id": 10, "name": "ab", "ratio": -1.0},
    {"id": 11, "name": "ab", "flag": False},
    {"id": 12, "name": "ab", "kind": "e\u0301"},
    {"id": 13, "name": "ab", "other": 1},
    {"id": 14},
    {"name": "ab"},
    {"id": 15, "name": "ab", "small": 9},
    {"id": 16, "name": "ab", "count": 3},
    {"id": 17, "name": "ab", "kind": "1"},
    {"id": 2**62, "name": "ab"},
    {"id": 1, "name": "ab"},  # identical to the first row: its own record
]


def test_split_on_parquet_gives_the_default_engines_verdicts_and_ids(
    spark: Any, tmp_path: Path, native: Contract
) -> None:
    path = _write(tmp_path / "fixed rows.parquet", FIXED_ROWS)
    uri = path.resolve().as_uri()
    got = spark_parquet_verdicts(spark.read.parquet(str(path)), native)
    expected = parquet_rows(path)
    assert sorted(got) == [line for line, _, _ in expected]
    for line, row, raw in expected:
        result = native.validate(row)
        verdict, payload, record_id = got[line]
        assert verdict == engine_verdict(result), row
        if result.valid:
            assert (payload, record_id) == (None, None)
        else:
            item = QuarantineItem(FileSource(uri=uri, line=line), raw, result.errors)
            assert (payload, record_id) == (raw, str(item.record_id()))
    cleared = _native_cleared(spark, path, native)
    assert sum(cleared.values()) == 4, "rows 1-3 and the last are cleared natively"
    assert sum(not v[0][0] for v in got.values()) == 16


def test_rows_through_both_tiers_reconcile(spark: Any, tmp_path: Path, native: Contract) -> None:
    path = _write(tmp_path / "rows.parquet", FIXED_ROWS * 3)
    df = spark.read.parquet(str(path))
    tracker = spark.sparkContext.statusTracker()
    before = set(tracker.getJobIdsForGroup())
    valid, quarantine = split(df, native, run_id="r")
    assert set(tracker.getJobIdsForGroup()) == before, "split ran a Spark job"
    assert valid.columns == df.columns
    assert quarantine.columns[: len(df.columns) + 3] == [
        *df.columns,
        "_dq_file",
        "_dq_row",
        "_dq_id",
    ]
    assert (valid.count(), quarantine.count()) == (15, 48)
    assert quarantine.select("_dq_id").distinct().count() == 48
    assert check(df.where("id > 100"), native).count() == 9


def test_untranslatable_rules_or_required_fields_give_no_native_tier(
    spark: Any, tmp_path: Path
) -> None:
    path = _write(tmp_path / "rows.parquet", FIXED_ROWS)
    schema = spark.read.parquet(str(path)).schema
    with_rules = {**NATIVE, "rules": [{"id": "r", "expr": "size(record.name) > 0"}]}
    assert surely_valid(Contract.from_dict(with_rules), schema) is None
    required_code = {**NATIVE, "schema": {**NATIVE["schema"], "required": ["id", "code"]}}
    assert surely_valid(Contract.from_dict(required_code), schema) is None
    missing = {**NATIVE, "schema": {**NATIVE["schema"], "required": ["id", "absent"]}}
    assert surely_valid(Contract.from_dict(missing), schema) is None
    root_keyword = {**NATIVE, "schema": {**NATIVE["schema"], "minProperties": 1}}
    assert surely_valid(Contract.from_dict(root_keyword), schema) is None
