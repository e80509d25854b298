"""Backward compatibility rules of contract versions (pure)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataquarantine.contracts.loader import spec_from_dict
from dataquarantine.review.compat import backward_incompatibilities
from dataquarantine.review.diff import diff_json

BASE: dict[str, Any] = {
    "type": "object",
    "required": ["id"],
    "properties": {
        "id": {"type": "string", "maxLength": 10},
        "kind": {"enum": ["a", "b"]},
        "n": {"type": "integer", "minimum": 0},
    },
}


def _check(old: Any, new: Any, **extra: Any) -> list[str]:
    a = spec_from_dict({"name": "c", "version": "1.0.0", "schema": old})
    b = spec_from_dict({"name": "c", "version": "1.1.0", "schema": new, **extra})
    return backward_incompatibilities(a, b, (old, new))


def _with(**props: Any) -> dict[str, Any]:
    return {**BASE, "properties": {**BASE["properties"], **props}}


@pytest.mark.parametrize(
    "new",
    [
        BASE,
        _with(n={"type": "number", "minimum": 0}),  # integer -> number widens
        _with(kind={"enum": ["a", "b", "c"]}),
        _with(id={"type": "string", "maxLength": 20}),
        _with(extra={"type": "string"}),  # a new optional property
        {**BASE, "required": []},
        {**_with(extra={"type": "string", "default": "x"}), "required": ["id", "extra"]},
        {**BASE, "description": "annotations are ignored"},
    ],
)
def test_compatible_changes(new: Any) -> None:
    assert _check(BASE, new) == []


@pytest.mark.parametrize(
    ("new", "fragment"),
    [
        ({**BASE, "required": ["id", "n"]}, "newly required"),
        (_with(n={"type": "string"}), "type narrowed"),
        (_with(kind={"enum": ["a"]}), "enum"),
        (_with(id={"type": "string", "maxLength": 5}), "maxLength lowered"),
        (_with(n={"type": "integer", "minimum": 1}), "minimum raised"),
        (_with(id={"type": "string", "maxLength": 10, "pattern": "^x"}), "pattern added"),
        ({**BASE, "additionalProperties": False}, "additionalProperties"),
        (False, "no longer accepts"),
    ],
)
def test_breaking_changes(new: Any, fragment: str) -> None:
    reasons = _check(BASE, new)
    assert any(fragment in r for r in reasons), reasons


def test_removed_property_breaks_only_when_closed() -> None:
    closed = {**BASE, "additionalProperties": False}
    props = {k: v for k, v in BASE["properties"].items() if k != "kind"}
    assert _check(closed, {**closed, "properties": props}) == [
        "/kind: property removed while additionalProperties is false"
    ]
    assert _check(BASE, {**BASE, "properties": props}) == []


def test_new_error_rules_break_warnings_do_not() -> None:
    rule = {"id": "pos", "expr": "record.n > 1"}
    assert _check(BASE, BASE, rules=[rule]) == ["rule 'pos' is new"]
    assert _check(BASE, BASE, rules=[{**rule, "severity": "warn"}]) == []


def test_avro_fields_need_defaults() -> None:
    old = {"type": "record", "name": "r", "fields": [{"name": "a", "type": "int"}]}
    ok = {
        **old,
        "fields": [{"name": "a", "type": "long"}, {"name": "b", "type": "string", "default": ""}],
    }
    bad = {**old, "fields": [{"name": "a", "type": "string"}, {"name": "b", "type": "string"}]}
    a = spec_from_dict({"name": "c", "version": "1.0.0", "format": "avro", "schema": old})
    b = spec_from_dict({"name": "c", "version": "1.1.0", "format": "avro", "schema": ok})
    c = spec_from_dict({"name": "c", "version": "1.1.0", "format": "avro", "schema": bad})
    assert backward_incompatibilities(a, b, (old, ok)) == []
    assert len(backward_incompatibilities(a, c, (old, bad))) == 2


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(_json)
def test_diff_of_identical_values_is_empty(value: Any) -> None:
    assert diff_json(value, value) == ()


@given(_json, _json)
def test_different_values_have_a_diff(a: Any, b: Any) -> None:
    if a != b:
        assert diff_json(a, b)
