"""Gate definitions: parsing, defaults, durations, identifier refusal, file errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataquarantine.errors import ConfigError, GateDefinitionError
from dataquarantine.gates.duration import (
    MAX_STATEMENT_TIMEOUT,
    format_duration,
    parse_duration,
    parse_statement_timeout,
)
from dataquarantine.gates.model import (
    FreshnessGate,
    GateSeverity,
    MaxPerKeyGate,
    NotNullGate,
    RelationshipGate,
    RowCountGate,
    SqlGate,
    UniqueGate,
    gates_from_dict,
    load_gates,
)

REPO = Path(__file__).resolve().parents[3]

ISSUE_EXAMPLE = """
gates:
  - name: lead_coverage
    kind: not_null
    table: Lead
    column: customer_id
    severity: required
  - name: orphan_leads
    kind: relationship
    child: {table: Lead, column: customer_id}
    parent: {table: Customer, column: id}
    severity: required
  - name: one_open_conversation
    kind: max_per_key
    table: Conversation
    key: lead_id
    where: closed_at IS NULL
    max: 1
  - name: unique_email
    kind: unique
    table: Customer
    columns: [email]
  - name: leads_exist
    kind: row_count
    table: Lead
    min: 1
  - name: fresh_messages
    kind: freshness
    table: Message
    column: created_at
    max_age: 24h
  - name: role_distribution
    kind: sql
    sql: SELECT role, count(*) FROM "Message" GROUP BY role
    severity: informational
"""


def one(**gate: Any) -> Any:
    return gates_from_dict({"gates": [{"name": "g", **gate}]}).gates[0]


def test_the_issue_example_parses(tmp_path: Path) -> None:
    path = tmp_path / "gates.yaml"
    path.write_text(ISSUE_EXAMPLE)
    suite = load_gates(path)
    assert suite.name == "gates"
    assert suite.source == path
    kinds = [type(g) for g in suite.gates]
    assert kinds == [
        NotNullGate,
        RelationshipGate,
        MaxPerKeyGate,
        UniqueGate,
        RowCountGate,
        FreshnessGate,
        SqlGate,
    ]
    lead, orphan, open_conv, unique, count, fresh, report = suite.gates
    assert isinstance(lead, NotNullGate) and (lead.table, lead.column) == ("Lead", "customer_id")
    assert isinstance(orphan, RelationshipGate) and orphan.parent.table == "Customer"
    assert isinstance(open_conv, MaxPerKeyGate) and open_conv.key == ("lead_id",)
    assert open_conv.where == "closed_at IS NULL" and open_conv.max == 1
    assert isinstance(unique, UniqueGate) and unique.severity is GateSeverity.REQUIRED
    assert isinstance(count, RowCountGate) and (count.min, count.max) == (1, None)
    assert isinstance(fresh, FreshnessGate) and fresh.max_age == timedelta(hours=24)
    assert isinstance(report, SqlGate) and report.is_report
    assert report.severity is GateSeverity.INFORMATIONAL


def test_the_crm_example_has_eleven_gates_of_every_kind() -> None:
    suite = load_gates(REPO / "examples" / "gates" / "crm_backfill.yaml")
    assert len(suite.gates) == 11
    assert {g.kind for g in suite.gates} == {
        "not_null",
        "relationship",
        "max_per_key",
        "unique",
        "row_count",
        "freshness",
        "sql",
    }
    assert all(g.description for g in suite.gates)


def test_defaults() -> None:
    gate = one(kind="not_null", table="t", column="c")
    assert gate.severity is GateSeverity.REQUIRED
    assert gate.sample_size is None and gate.statement_timeout is None and gate.where is None
    assert one(kind="max_per_key", table="t", key=["a", "b"]).max == 1


def test_sql_gate_severity_rules() -> None:
    assert one(kind="sql", sql="SELECT 1").severity is GateSeverity.INFORMATIONAL
    assert one(kind="sql", sql="SELECT 1", expect_rows=0).severity is GateSeverity.REQUIRED
    checked = one(kind="sql", sql="SELECT 1", expect_rows=0, severity="informational")
    assert not checked.is_report
    with pytest.raises(GateDefinitionError, match="expect_rows: 0"):
        one(kind="sql", sql="SELECT 1", severity="required")
    with pytest.raises(GateDefinitionError, match="expect_rows"):
        one(kind="sql", sql="SELECT 1", expect_rows=3)


def test_user_sql_is_trimmed_of_trailing_semicolons() -> None:
    assert one(kind="sql", sql="  SELECT 1 ;; \n").sql == "SELECT 1"
    with pytest.raises(GateDefinitionError, match="empty"):
        one(kind="sql", sql=" ; ")


def test_per_gate_options() -> None:
    gate = one(
        kind="unique",
        table="crm.Customer",
        columns="email",
        sample_size=0,
        statement_timeout="90s",
        description="why",
        ignore_case=True,
    )
    assert gate.table == "crm.Customer" and gate.columns == ("email",)
    assert gate.sample_size == 0 and gate.statement_timeout == timedelta(seconds=90)
    assert gate.ignore_case and gate.description == "why"


@pytest.mark.parametrize(
    ("gate", "fragment"),
    [
        ({"kind": "not_null", "table": "x; DROP TABLE y", "column": "c"}, "table"),
        ({"kind": "not_null", "table": "t", "column": 'c" OR 1=1 --'}, "column"),
        ({"kind": "not_null", "table": "a.b.c", "column": "c"}, "table"),
        ({"kind": "not_null", "table": "t", "column": "s.c"}, "column"),
        ({"kind": "not_null", "table": "t" * 64, "column": "c"}, "table"),
        ({"kind": "unique", "table": "t", "columns": ["ok", "no pe"]}, "columns[1]"),
        (
            {
                "kind": "relationship",
                "child": {"table": "t", "column": "c"},
                "parent": {"table": "p", "column": "id); DROP TABLE p; --"},
            },
            "parent.column",
        ),
    ],
)
def test_unsafe_identifiers_are_refused(gate: dict[str, Any], fragment: str) -> None:
    with pytest.raises(GateDefinitionError, match="plain SQL") as info:
        one(**gate)
    assert fragment in str(info.value)
    assert "gates[0] (g)" in str(info.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"gates": [{"name": "g", "table": "t"}]}, "missing `kind`"),
        ({"gates": [{"name": "g", "kind": "nope"}]}, "unknown kind 'nope'"),
        (
            {"gates": [{"name": "g", "kind": "not_null", "table": "t", "column": "c", "x": 1}]},
            "x: unknown field",
        ),
        ({"gates": [{"name": "g", "kind": "not_null", "table": "t"}]}, "column: Field required"),
        ({"gates": [{"name": "g", "kind": "row_count", "table": "t"}]}, "min, max or both"),
        (
            {"gates": [{"name": "g", "kind": "row_count", "table": "t", "min": 5, "max": 2}]},
            "greater than max",
        ),
        (
            {
                "gates": [
                    {
                        "name": "g",
                        "kind": "freshness",
                        "table": "t",
                        "column": "c",
                        "max_age": "soon",
                    }
                ]
            },
            "not a duration",
        ),
        (
            {"gates": [{"name": "bad name", "kind": "row_count", "table": "t", "min": 1}]},
            "gate name",
        ),
        (
            {"gates": [{"name": "g", "kind": "row_count", "table": "t", "min": 1}] * 2},
            "two gates are named 'g'",
        ),
        ({"gates": []}, "at least 1"),
        ({"checks": []}, "gates: Field required"),
    ],
)
def test_bad_definitions_say_what_and_where(data: dict[str, Any], message: str) -> None:
    with pytest.raises(GateDefinitionError, match=r"^bad\.yaml: ") as info:
        gates_from_dict(data, source="bad.yaml")
    assert message in str(info.value)
    assert isinstance(info.value, ConfigError)  # so the CLI exits 2


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(GateDefinitionError, match=r"missing\.yaml: cannot read"):
        load_gates(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("gates: [\n")
    with pytest.raises(GateDefinitionError, match=r"broken\.yaml: invalid YAML"):
        load_gates(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(GateDefinitionError, match=r"scalar\.yaml: a gates file is a mapping"):
        load_gates(scalar)


def test_select() -> None:
    suite = gates_from_dict(
        {"gates": [{"name": n, "kind": "row_count", "table": "t", "min": 1} for n in "abc"]}
    )
    assert [g.name for g in suite.select(["c", "a"]).gates] == ["a", "c"]
    assert suite.select([]) is suite
    with pytest.raises(ConfigError, match="no gate named 'z'"):
        suite.select(["a", "z"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", timedelta(hours=24)),
        ("30m", timedelta(minutes=30)),
        ("7d", timedelta(days=7)),
        ("1h30m", timedelta(minutes=90)),
        ("1h 30m", timedelta(minutes=90)),
        ("500ms", timedelta(milliseconds=500)),
        ("2w", timedelta(weeks=2)),
        ("1.5s", timedelta(seconds=1.5)),
        ("45", timedelta(seconds=45)),
        (3, timedelta(seconds=3)),
        (" 10S ", timedelta(seconds=10)),
    ],
)
def test_parse_duration(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "h", "24", "-1s", "0s", "1x", "1h-", "s1", "101y", True])
def test_parse_duration_refuses(text: Any) -> None:
    if text == "24":  # a bare number is seconds: valid
        assert parse_duration(text) == timedelta(seconds=24)
        return
    with pytest.raises(ValueError):
        parse_duration(text)


@given(
    st.lists(
        st.tuples(st.integers(1, 500), st.sampled_from(["ms", "s", "m", "h", "d", "w"])),
        min_size=1,
        max_size=4,
    )
)
def test_parse_duration_sums_its_parts(parts: list[tuple[int, str]]) -> None:
    seconds = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = "".join(f"{n}{unit}" for n, unit in parts)
    expected = sum((timedelta(seconds=n * seconds[u]) for n, u in parts), timedelta())
    assert abs(parse_duration(text) - expected) < timedelta(microseconds=len(parts))


@given(st.integers(1, 10**12))
def test_format_duration_round_trips(millis: int) -> None:
    value = timedelta(milliseconds=millis)
    assert parse_duration(format_duration(value)) == value


def test_format_duration() -> None:
    assert format_duration(timedelta(hours=24)) == "1d"
    assert format_duration(timedelta(minutes=90)) == "1h30m"
    assert format_duration(timedelta(milliseconds=1500)) == "1s500ms"


HUGE = ["99999999999d", "99999999999w", "9" * 30 + "h", "9" * 30 + "m", "9" * 30 + "s"]
HUGE += ["9" * 30 + "ms", "9" * 400, "1e400", 1e300, float("inf"), 10**30]


@pytest.mark.parametrize("text", HUGE)
def test_a_huge_duration_is_a_value_error_not_an_overflow(text: Any) -> None:
    with pytest.raises(ValueError, match=r"too long|not a duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["nan", float("nan"), "-5m", -5, 0, "0ms", "0.0001ms"])
def test_durations_that_are_not_positive_are_refused(text: Any) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1ms", timedelta(milliseconds=1)),
        ("24d", timedelta(days=24)),
        ("2147483647ms", MAX_STATEMENT_TIMEOUT),
        ("3w3d20h31m23s647ms", MAX_STATEMENT_TIMEOUT),
    ],
)
def test_statement_timeouts_up_to_postgresqls_limit(text: str, expected: timedelta) -> None:
    assert parse_statement_timeout(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2147483648ms", "PostgreSQL allows at most 3w3d20h31m23s647ms"),
        ("25d", "PostgreSQL allows at most"),
        ("4w", "PostgreSQL allows at most"),
        ("99999999999d", "too long"),
        ("0.5ms", "below 1ms"),
        ("0s", "must be positive"),
        ("-1s", "not a duration"),
    ],
)
def test_statement_timeouts_beyond_the_limit_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_statement_timeout(text)


@pytest.mark.parametrize("value", ["99999999999d", "25d", "9" * 40 + "w", "0.1ms"])
def test_a_gate_statement_timeout_beyond_the_limit_is_a_definition_error(value: str) -> None:
    gate = {"name": "g", "kind": "row_count", "table": "t", "min": 1, "statement_timeout": value}
    with pytest.raises(GateDefinitionError, match=r"gates\[0\] \(g\): statement_timeout: "):
        gates_from_dict({"gates": [gate]}, source="bad.yaml")


def test_an_alias_bomb_in_a_gates_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    lines = ['  l0: &l0 ["lol"]']
    for i in range(1, 10):
        lines.append(f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("x-bomb:\n" + "\n".join(lines) + "\ngates: []\n")
    with pytest.raises(GateDefinitionError, match="expands to more than") as info:
        load_gates(bomb)
    assert "bomb.yaml" in str(info.value)
    recursive = tmp_path / "recursive.yaml"
    recursive.write_text("gates: &g [{name: a, kind: row_count, table: t, min: 1, x: *g}]\n")
    with pytest.raises(GateDefinitionError, match="recursive alias"):
        load_gates(recursive)


def test_moderate_anchors_in_a_gates_file_still_work(tmp_path: Path) -> None:
    path = tmp_path / "gates.yaml"
    path.write_text(
        """
gates:
  - &lead {name: lead_coverage, kind: not_null, table: Lead, column: customer_id}
  - {<<: *lead, name: lead_email, column: email}
"""
    )
    suite = load_gates(path)
    assert [g.name for g in suite.gates] == ["lead_coverage", "lead_email"]
