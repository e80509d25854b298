"""CEL rules in the native tier: on random typed rows and random rules of the translated
grammar (hypothesis), a rule the predicate finds TRUE is true for the engine (no violation, no
warning), one it finds FALSE is false (a violation or a warning); constructs outside the
grammar give no native tier."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.fixtures.spark import require_spark

require_spark()

from tests.unit.spark.differential import parquet_rows

from dataquarantine.spark import surely_valid
from dataquarantine.spark.native_rules import rules_predicate
from dataquarantine.validation.contract import Contract

SCHEMA = pa.schema(
    [
        ("s", pa.string()),
        ("i", pa.int64()),
        ("n", pa.int16()),
        ("d", pa.float64()),
        ("f", pa.float32()),
        ("b", pa.bool_()),
        ("t", pa.timestamp("us", tz="UTC")),
        ("o", pa.struct([("x", pa.int64())])),
    ]
)

_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.5, -1.0, 5.0, math.nan, math.inf, -math.inf, 2.0**53 + 2]),
)
ROW = st.fixed_dictionaries(
    {
        "s": st.one_of(
            st.none(),
            st.text(st.characters(exclude_categories=["Cs"]), max_size=3),
            st.sampled_from(["a", "A", "é", "e\u0301", "", "😀", "\uffff"]),
        ),
        "i": st.one_of(
            st.none(),
            st.integers(-(2**63), 2**63 - 1),
            st.integers(-2, 6),
            st.sampled_from([2**53 + 1, -(2**63), 2**63 - 1]),
        ),
        "n": st.one_of(st.none(), st.integers(-(2**15), 2**15 - 1), st.integers(-2, 6)),
        "d": st.one_of(st.none(), _FLOATS),
        "f": st.one_of(st.none(), _FLOATS.map(lambda v: float(pa.scalar(v, pa.float32()).as_py()))),
        "b": st.one_of(st.none(), st.booleans()),
        "t": st.just(None),
        "o": st.one_of(st.none(), st.just({"x": 1})),
    }
)

_NULLS: dict[str, Any] = dict.fromkeys(SCHEMA.names)
_LITERALS = [
    "0", "1", "-1", "5", "9223372036854775807", "-9223372036854775808", "9007199254740993",
    "0.0", "-0.0", "1.5", "5.0", "1e308", "-2.5e-308", "9007199254740994.0",
    "'a'", "'A'", "'é'", "''", "'😀'", "'\\uffff'", "true", "false", "null", "1u", "b'a'",
]  # fmt: skip
_FIELDS = ["record.s", "record.i", "record.n", "record.d", "record.f", "record.b", "record.t"]
_FIELDS += ["record.o", "record.absent"]
_OPS = ["==", "!=", "<", "<=", ">", ">="]

_has = st.sampled_from([*_FIELDS, "record.zzz"]).map(lambda f: f"has({f})")
_cmp = st.tuples(st.sampled_from(_FIELDS), st.sampled_from(_OPS), st.sampled_from(_LITERALS))
_compare = _cmp.map(lambda t: f"{t[0]} {t[1]} {t[2]}")
_flipped = _cmp.map(lambda t: f"{t[2]} {t[1]} {t[0]}")
_member = st.tuples(st.sampled_from(_FIELDS), st.lists(st.sampled_from(_LITERALS), max_size=3)).map(
    lambda t: f"{t[0]} in [{', '.join(t[1])}]"
)
_ATOM = st.one_of(
    _has, _compare, _flipped, _member, st.sampled_from(["record.b", "true", "false", "record.s"])
)
EXPR = st.recursive(
    _ATOM,
    lambda inner: st.one_of(
        inner.map(lambda e: f"!({e})"),
        st.tuples(inner, st.sampled_from(["||", "&&"]), inner).map(
            lambda t: f"({t[0]}) {t[1]} ({t[2]})"
        ),
    ),
    max_leaves=5,
)


def _contract(exprs: list[str], severities: list[str]) -> Contract:
    rules = [
        {"id": f"r{k}", "expr": e, "severity": s}
        for k, (e, s) in enumerate(zip(exprs, severities, strict=True))
    ]
    return Contract.from_dict({"name": "rules", "version": "1.0.0", "schema": {}, "rules": rules})


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@example(
    rows=[
        {**_NULLS, "d": v, "f": v, "i": i, "s": s}
        for v, i, s in [
            (math.nan, 2**63 - 1, "é"),
            (math.inf, -(2**63), "e\u0301"),
            (-math.inf, 2**53 + 1, "\uffff"),
            (-0.0, 5, "😀"),
            (5.0, None, None),
        ]
    ],
    rules=[
        (f"record.{c} {op} {lit}", "error")
        for c, lit in [("d", "5"), ("f", "0.0"), ("i", "9007199254740993"), ("s", "'é'")]
        for op in ("==", "!=", "<", ">=")
    ],
)
@given(
    rows=st.lists(ROW, min_size=1, max_size=40),
    rules=st.lists(st.tuples(EXPR, st.sampled_from(["error", "warn"])), min_size=1, max_size=12),
)
def test_a_rule_the_predicate_decides_is_decided_alike_by_the_engine(
    spark: Any,
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[Any],
    rules: list[tuple[str, str]],
) -> None:
    path = tmp_path_factory.mktemp("rules") / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), path, row_group_size=9)
    df = spark.read.parquet(str(path))
    columns = {f.name: f.dataType for f in df.schema}
    contracts = [_contract([expr], [severity]) for expr, severity in rules]
    predicates = [rules_predicate(c.spec.rules, columns) for c in contracts]
    assert all(p is not None for p in predicates), rules
    decided = df.select(
        (df["_metadata.row_index"] + 1).alias("line"),
        *(p.alias(f"r{k}") for k, p in enumerate(predicates) if p is not None),
    )
    found = {row["line"]: row for row in decided.collect()}
    for line, row, _ in parquet_rows(path):
        for k, contract in enumerate(contracts):
            result = contract.validate(row)
            holds = result.valid and not result.warnings
            verdict = found[line][f"r{k}"]
            if verdict is not None:
                assert holds == verdict, (rules[k], row, result)


@pytest.mark.parametrize(
    "expr",
    [
        "record.i + 1 > 0",
        "size(record.s) > 0",
        "record.s.startsWith('a')",
        "record.i == record.n",
        "record.s in record.o",
        "record.i in [1, record.n]",
        "has(record.o.x)",
        "record.o.x == 1",
        "record.b ? true : false",
        "[1, 2].exists(v, v == record.i)",
        "-record.i < 0",
        "int(record.s) == 1",
        "record.i == 1 || record['s'] == 'a'",
    ],
)
def test_a_rule_outside_the_grammar_gives_no_native_tier(spark: Any, expr: str) -> None:
    df = spark.createDataFrame([], pa_to_spark())
    contract = _contract(["has(record.s)", expr], ["error", "warn"])
    assert rules_predicate(contract.spec.rules, {f.name: f.dataType for f in df.schema}) is None
    assert surely_valid(contract, df.schema) is None


def pa_to_spark() -> Any:
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    return StructType([StructField("s", StringType()), StructField("i", LongType())])


def test_the_rules_join_the_schema_checks(spark: Any, tmp_path: Path) -> None:
    rows = [
        {"s": "a", "i": 1},  # both hold
        {"s": "a", "i": -1},  # the rule fails
        {"s": "toolong", "i": 1},  # the schema fails
        {"s": "b", "i": 2},  # the warn rule fails
        {"i": 3},  # the rules hold (has() is false for a null column)
    ]
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), path)
    spec = {
        "name": "joined",
        "version": "1.0.0",
        "schema": {"type": "object", "properties": {"s": {"type": "string", "maxLength": 3}}},
        "rules": [
            {"id": "positive", "expr": "record.i > 0"},
            {"id": "b_is_odd", "expr": "!has(record.s) || record.s != 'b'", "severity": "warn"},
        ],
    }
    contract = Contract.from_dict(spec)
    df = spark.read.parquet(str(path)).select("s", "i")
    predicate = surely_valid(contract, df.schema)
    assert predicate is not None
    assert [r["ok"] for r in df.select(predicate.alias("ok")).collect()] == [
        True,
        False,
        False,
        False,
        True,
    ]


def test_the_rules_of_user_event_translate(spark: Any) -> None:
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    path = Path(__file__).parents[3] / "src/dataquarantine/demo/contracts/user_event-1.1.0.yaml"
    contract = Contract.from_dict(yaml.safe_load(path.read_text()))
    names = ["event_type", "product_id", "currency", "email"]
    schema = StructType(
        [*(StructField(n, StringType()) for n in names), StructField("amount", DoubleType())]
    )
    assert rules_predicate(contract.spec.rules, {f.name: f.dataType for f in schema}) is not None
