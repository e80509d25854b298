"""The pushed-down predicate against the engine, on real PostgreSQL (a differential test).

For random staging rows, the check pass with the predicate (PostgreSQL sends only suspects) must
quarantine exactly the rows, with exactly the violations, that the check pass without it finds
by running the engine on every row. A predicate true for a row the engine rejects would let that
row through: this is what the test hunts for. Regular expressions are also compared one by one
with the engine's own ``pattern`` check.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import jsonschema_rs
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from dataquarantine.load.catalog import regclass, resolve_plan
from dataquarantine.load.checks import BatchCheck, check_batch
from dataquarantine.load.plan import LoadPlan
from dataquarantine.load.pushdown import pattern_to_sql, pushdown
from dataquarantine.validation.contract import Contract

COLUMNS = "k text, n bigint, m integer, s text, b boolean, ts timestamptz, d date, u uuid"
NAMES = ("k", "n", "m", "s", "b", "ts", "d", "u")
FIXTURE = HealthCheck.function_scoped_fixture

FULL = {
    "type": "object",
    "required": ["k", "n"],
    "properties": {
        "k": {"type": "string", "pattern": r"^K\d{1,3}$", "minLength": 2, "maxLength": 4},
        "n": {"type": "integer", "minimum": -5, "exclusiveMaximum": 100, "multipleOf": 3},
        "m": {"type": ["integer", "null"], "exclusiveMinimum": 0, "maximum": 10},
        "s": {"enum": ["a", "b", "open", 1, None]},
        "b": {"const": True},
        "ts": {"type": "string", "format": "date-time"},
        "d": {"format": "date"},
        "u": {"format": "uuid"},
    },
}
CONTRACTS: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
    (
        FULL,
        [
            {"id": "r1", "expr": "record.n < 50 || record.s != 'open'"},
            {"id": "r2", "expr": "!has(record.m) || record.m in [1, 2, 3, 5, 8]"},
            {"id": "w", "expr": "record.k.size() > 100", "severity": "warn"},
        ],
    ),
    (
        {
            "properties": {
                "k": {"pattern": "^(?:K|L)[0-9A-F]*$"},
                "s": {"type": "string", "pattern": "[^a-c]", "maxLength": 2},
                "n": {"type": "number", "const": 3},
                "b": {"type": "boolean"},
            },
            "additionalProperties": False,
        },
        [{"id": "r", "expr": "record.b == false && record.s >= 'b' || record.k == 'K1'"}],
    ),
    ({"type": "object", "properties": {"s": False, "m": {"type": "string"}}}, []),
]


def _contract(schema: dict[str, Any], rules: list[dict[str, Any]]) -> Contract:
    return Contract.from_dict(
        {
            "name": "pushdown",
            "version": "1.0.0",
            "schema": schema,
            "rules": rules,
            "load": {"staging": "staging", "target": "target", "conflict_key": ["k"]},
        }
    )


@pytest.fixture
def conn(pg_schema_url: str, pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    schema = pg_schema_url.rpartition("schema=")[2]
    with psycopg.connect(pg_url, autocommit=True) as c:
        c.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        c.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(schema)))
        c.execute(f"CREATE TABLE staging ({COLUMNS})")
        c.execute(f"CREATE TABLE target ({COLUMNS}, UNIQUE (k))")
        yield c


TEXTS = st.one_of(
    st.sampled_from(["K1", "K12", "K123", "K1234", "K", "L9F", "k1", "K\u0661", "a", "open", ""]),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=5),
)
TIMESTAMPS = st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30)).map(
    lambda v: v.replace(tzinfo=UTC)
)


def _mostly(valid: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> Any:
    """Values that usually pass the first contract, so a row is often valid but for one
    column: a predicate too lenient on that column would then let the row through."""
    return st.one_of(valid, valid, valid, st.none(), other)


ROWS = st.lists(
    st.tuples(
        _mostly(st.sampled_from(["K1", "K12", "K123"]), TEXTS),
        _mostly(st.sampled_from([-3, 0, 3, 48, 99]), st.integers(-(2**63), 2**63 - 1)),
        _mostly(st.sampled_from([1, 2, 3, 5, 8]), st.integers(-(2**31), 2**31 - 1)),
        _mostly(st.sampled_from(["a", "b", "open"]), TEXTS),
        _mostly(st.just(True), st.booleans()),
        _mostly(
            TIMESTAMPS,
            st.sampled_from(["infinity", "-infinity", "0001-01-01 00:00:00+00", "4713-01-01 BC"]),
        ),
        _mostly(
            st.dates(date(1, 1, 2), date(9999, 12, 30)),
            st.sampled_from(["infinity", "0001-01-01", "0044-03-15 BC", "10000-01-01"]),
        ),
        _mostly(st.uuids(), st.uuids()),
    ),
    max_size=25,
)


def _check(conn: psycopg.Connection[Any], plan: LoadPlan, contract: Contract, down: Any) -> Any:
    size = conn.execute(plan.size(), (regclass(conn, plan.staging),)).fetchone()
    assert size is not None
    pages = max(1, int(size[0]))
    check: BatchCheck = check_batch(
        conn, plan, contract, 1, 0, pages, text_mode=False, surely_valid=down
    )
    return check.read, {
        b.ctid: [(v.code, v.path, v.rule, v.message) for v in b.errors] for b in check.bad
    }


@pytest.mark.parametrize("zone", ["UTC", "Europe/Amsterdam"])
@pytest.mark.parametrize("case", range(len(CONTRACTS)))
@settings(max_examples=40, deadline=None, suppress_health_check=[FIXTURE])
@given(rows=ROWS)
def test_pushed_down_checks_quarantine_exactly_what_the_engine_does(
    conn: psycopg.Connection[Any], case: int, zone: str, rows: list[tuple[Any, ...]]
) -> None:
    # Amsterdam kept local mean time (+00:19:32) until 1937: offsets with seconds.
    conn.execute(sql.SQL("SET TimeZone = {}").format(sql.Literal(zone)))
    contract = _contract(*CONTRACTS[case])
    plan = resolve_plan(conn, contract.spec, "staging")
    row = conn.execute("SHOW TimeZone").fetchone()
    assert row is not None
    down = pushdown(plan, contract, text_mode=False, zone=str(row[0]))
    assert down.predicate is not None, down.reason
    conn.execute("TRUNCATE staging")
    with conn.cursor().copy(f"COPY staging ({', '.join(NAMES)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([v if not isinstance(v, uuid.UUID) else str(v) for v in row])
    assert _check(conn, plan, contract, down.predicate) == _check(conn, plan, contract, None)


PATTERNS = [
    "^CL[0-9]+$",
    r"^\d{2,3}$",
    r"\w+@[a-z]+\.com",
    "^(?:ab|c)*$",
    "^[^a-c]+$",
    "x{2}",
    "^[A-Z_-]{1,3}$",
    "^$",
]


@pytest.mark.parametrize("pattern", PATTERNS)
@settings(max_examples=60, deadline=None, suppress_health_check=[FIXTURE])
@given(
    text=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)
    | st.from_regex(r"^(CL[0-9]{1,3}|[0-9]{2,3}|[a-c]{0,3}|xx|ab@cd\.com|[A-Z_-]{1,3})$")
)
def test_a_translated_pattern_never_matches_more_than_the_engine(
    conn: psycopg.Connection[Any], pattern: str, text: str
) -> None:
    regex = pattern_to_sql(pattern)
    assert regex is not None
    row = conn.execute("SELECT %s ~ %s", (text, regex)).fetchone()
    assert row is not None
    if row[0]:
        assert jsonschema_rs.is_valid({"pattern": pattern}, text)
