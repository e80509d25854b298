"""The push-down translator: what it translates, and that it gives up on everything else."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg import sql

from dataquarantine.load.plan import Column, LoadPlan
from dataquarantine.load.pushdown import pattern_to_sql, pushdown
from dataquarantine.validation.contract import Contract

COLUMNS = (
    ("k", "text"),
    ("n", "bigint"),
    ("s", "character varying(20)"),
    ("b", "boolean"),
    ("ts", "timestamp with time zone"),
    ("d", "date"),
    ("u", "uuid"),
)


def _plan(columns: tuple[tuple[str, str], ...] = COLUMNS) -> LoadPlan:
    return LoadPlan(
        staging="staging",
        target="target",
        key=("k",),
        columns=tuple(Column(n, t, cast=False) for n, t in columns),
        update=(),
        track=(),
        refs=(),
        has_created_at=False,
        has_last_updated_at=False,
        staging_columns=columns,
    )


def _contract(schema: dict[str, Any], rules: list[dict[str, Any]] | None = None) -> Contract:
    return Contract.from_dict(
        {"name": "c", "version": "1.0.0", "schema": schema, "rules": rules or []}
    )


def _text(composable: sql.Composable | None) -> str:
    assert composable is not None
    return composable.as_string(None)


def test_a_plain_contract_is_pushed_down() -> None:
    contract = _contract(
        {
            "type": "object",
            "required": ["k", "n"],
            "properties": {
                "k": {"type": "string", "pattern": "^K[0-9]{2,}$", "maxLength": 9},
                "n": {"type": "integer", "minimum": 1, "exclusiveMaximum": 100},
                "s": {"enum": ["a", "b"]},
                "b": {"const": True},
                "ts": {"type": "string", "format": "date-time"},
                "d": {"format": "date"},
                "u": {"format": "uuid"},
            },
        },
        [{"id": "r", "expr": "record.n < 50 || record.s != 'a'"}],
    )
    down = pushdown(_plan(), contract, text_mode=False)
    text = _text(down.predicate)
    assert down.reason == ""
    for part in (
        's."k" IS NOT NULL',
        "s.\"k\" ~ '^K[0-9]{2,}$'",
        'char_length(s."k") <= 9',
        's."n" >= 1',
        's."n" < 100',
        "s.\"s\" COLLATE \"C\" IN ('a', 'b')",
        's."b" IN (true)',
        "IS TRUE",
    ):
        assert part in text, part


@pytest.mark.parametrize(
    ("schema", "rules", "reason"),
    [
        ({"anyOf": [{}]}, [], "keyword 'anyOf' at the root"),
        ({"properties": {"k": {"format": "email"}}}, [], "format 'email'"),
        ({"properties": {"k": {"pattern": "^a.b$"}}}, [], "no exact PostgreSQL translation"),
        ({"properties": {"n": {"minimum": 1.5}}}, [], "not an integer"),
        ({"properties": {"k": {"$ref": "#/$defs/x"}}, "$defs": {"x": {}}}, [], "'$ref'"),
        ({"additionalProperties": {"type": "string"}}, [], "additionalProperties is a schema"),
        ({"properties": {"ts": {"maxLength": 3}}}, [], "a length on a timestamp"),
        ({"properties": {"s": {"enum": ["50%"]}}}, [], "holds a '%'"),
        ({}, [{"id": "r", "expr": "record.k.startsWith('K')"}], "rule 'r'"),
        ({}, [{"id": "r", "expr": "record.n + 1 > 2"}], "rule 'r'"),
        ({}, [{"id": "r", "expr": "record.n == 'x'"}], "between int and string"),
        ({}, [{"id": "r", "expr": "record.ts > 'x'"}], "record.ts"),
        ({}, [{"id": "r", "expr": "record.n > 1 ? true : false"}], "Conditional"),
    ],
)
def test_anything_without_an_exact_translation_disables_the_push_down(
    schema: dict[str, Any], rules: list[dict[str, Any]], reason: str
) -> None:
    down = pushdown(_plan(), _contract(schema, rules), text_mode=False)
    assert down.predicate is None
    assert reason in down.reason


def test_unsupported_column_types_and_text_mode_disable_it() -> None:
    contract = _contract({"type": "object"})
    floats = _plan((*COLUMNS, ("x", "double precision")))
    assert "double precision" in pushdown(floats, contract, text_mode=False).reason
    assert pushdown(_plan(), contract, text_mode=True).predicate is None


def test_warn_rules_are_left_out() -> None:
    contract = _contract({}, [{"id": "w", "expr": "record.k.size() > 1", "severity": "warn"}])
    assert _text(pushdown(_plan(), contract, text_mode=False).predicate) == "TRUE"


def test_a_required_field_that_is_no_column_makes_every_row_a_suspect() -> None:
    contract = _contract({"required": ["missing"]})
    assert _text(pushdown(_plan(), contract, text_mode=False).predicate) == "FALSE"


def test_additional_properties_false_needs_the_other_columns_null() -> None:
    contract = _contract({"properties": {"k": {}}, "additionalProperties": False})
    text = _text(pushdown(_plan(), contract, text_mode=False).predicate)
    assert 's."n" IS NULL' in text
    assert 's."k" IS NULL' not in text


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("^CL[0-9]+$", "^CL[0-9]+$"),
        (r"^\d{3}-\d{4}$", "^[0-9]{3}-[0-9]{4}$"),
        (r"^(?:ab|cd)*\.x?$", r"^(?:ab|cd)*\.x?$"),
        (r"[A-Z_\w]", "[A-Z_A-Za-z0-9_]"),
        (r"^[^a-c]+$", "^[^a-c]+$"),
        ("a{2,5}", "a{2,5}"),
        ("[a-]", r"[a\-]"),
    ],
)
def test_patterns_translated(pattern: str, expected: str) -> None:
    assert pattern_to_sql(pattern) == expected


@pytest.mark.parametrize(
    "pattern",
    [
        "a.b",
        r"\s",
        r"\bword",
        "(?=a)",
        "(?i)a",
        r"(a)\1",
        "a+?",
        "a**",
        "é",
        "[^\\d]",
        "[a-Z]",
        "[0-z]",
        "[[:alpha:]]",
        "(a",
        "a)",
        "a{3,2}",
        "a{x}",
        "{2}",
        "\\",
        "[]",
        "a{1000}",
    ],
)
def test_patterns_refused(pattern: str) -> None:
    assert pattern_to_sql(pattern) is None


def test_the_offset_check_is_left_out_in_a_utc_session() -> None:
    contract = _contract({"properties": {"ts": {"format": "date-time"}}})
    local = _text(pushdown(_plan(), contract, text_mode=False, zone="Europe/Paris").predicate)
    utc = _text(pushdown(_plan(), contract, text_mode=False, zone="Etc/UTC").predicate)
    assert "extract(timezone" in local
    assert "extract(timezone" not in utc
    assert "9999-12-31" in utc
