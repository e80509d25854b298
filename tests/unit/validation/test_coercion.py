from __future__ import annotations

from dataquarantine.validation.coercion import column_types_of, text_coercer_for

SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "qty": {"type": "integer"},
        "price": {"type": "number"},
        "ok": {"type": "boolean"},
        "note": {"type": ["null", "string"]},
        "maybe": {"type": ["integer", "null"]},
        "obj": {"type": "object"},
    },
}


def test_text_is_typed_only_when_it_is_an_exact_literal() -> None:
    coerce = text_coercer_for(SCHEMA)
    assert coerce is not None
    row = coerce(
        {"id": "00123", "qty": "7", "price": "12.50", "ok": "true", "note": "x", "maybe": "null"}
    )
    assert row == {"id": "00123", "qty": 7, "price": 12.5, "ok": True, "note": "x", "maybe": None}


def test_text_that_is_not_a_literal_stays_text_for_the_schema_to_report() -> None:
    coerce = text_coercer_for(SCHEMA)
    assert coerce is not None
    row = coerce({"qty": "12.5", "price": "1e999", "ok": "yes", "maybe": " 3"})
    assert row == {"qty": "12.5", "price": "1e999", "ok": "yes", "maybe": " 3"}


def test_nothing_to_type() -> None:
    assert text_coercer_for({"properties": {"a": {"type": "string"}}}) is None
    assert text_coercer_for(True) is None


def test_column_types() -> None:
    assert column_types_of(SCHEMA) == {
        "id": "string",
        "qty": "integer",
        "price": "number",
        "ok": "boolean",
        "note": "string",
        "maybe": "integer",
    }
    assert column_types_of({"properties": {"u": {"type": ["integer", "string"]}}}) == {
        "u": "string"
    }
