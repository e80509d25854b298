"""Wildcard paths and JSON Patch (RFC 6902) on decoded JSON values."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataquarantine.kernel import pointers
from dataquarantine.remediation.patch import (
    WILDCARD,
    PatchError,
    PatchOp,
    WildPath,
    apply_op,
    expand,
    get,
    parse_path,
)

tokens = st.lists(st.one_of(st.text(max_size=5), st.just(WILDCARD), st.integers(0, 9).map(str)))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["a", "b", "*", "0"]), inner, max_size=3)
    ),
    max_leaves=20,
)


@given(tokens)
def test_a_pointer_parses_back_to_its_tokens(parts: list[str]) -> None:
    assert parse_path(pointers.join(parts)) == WildPath(tuple(parts))


def test_dotted_fields_and_pointers_are_the_same_path() -> None:
    assert parse_path("items.*.phone") == parse_path("/items/*/phone")
    assert parse_path("/a~1b/~0").tokens == ("a/b", "~")


@given(json_values, tokens)
def test_expand_yields_existing_pointers_that_match_the_pattern(
    value: Any, parts: list[str]
) -> None:
    path = WildPath(tuple(parts))
    found = list(expand(value, path, leaf_may_be_missing=False))
    assert len(set(found)) == len(found)
    for concrete in found:
        get(value, concrete)  # exists
        assert len(concrete) == len(parts)
        for c, p in zip(concrete, parts, strict=True):
            assert p in (c, WILDCARD)


def test_a_wildcard_expands_over_array_items_only() -> None:
    value = {"items": [{"p": 1}, {"q": 2}, {"p": 3}], "*": {"p": 4}}
    assert list(expand(value, parse_path("/items/*/p"), leaf_may_be_missing=False)) == [
        ("items", "0", "p"),
        ("items", "2", "p"),
    ]
    assert list(expand(value, parse_path("/*/p"))) == [("*", "p")]


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        (PatchOp("add", ("b",), 2), {"a": [1, 2], "b": 2}),
        (PatchOp("add", ("a", "0"), 0), {"a": [0, 1, 2]}),
        (PatchOp("add", ("a", "-"), 3), {"a": [1, 2, 3]}),
        (PatchOp("add", ("a", "2"), 3), {"a": [1, 2, 3]}),
        (PatchOp("remove", ("a", "0")), {"a": [2]}),
        (PatchOp("replace", ("a",), "x"), {"a": "x"}),
        (PatchOp("move", ("b",), from_=("a",)), {"b": [1, 2]}),
        (PatchOp("copy", ("b",), from_=("a", "1")), {"a": [1, 2], "b": 2}),
        (PatchOp("test", ("a",), [1, 2]), {"a": [1, 2]}),
        (PatchOp("replace", (), 1), 1),
    ],
)
def test_the_six_operations(op: PatchOp, expected: Any) -> None:
    value = {"a": [1, 2]}
    before = copy.deepcopy(value)
    assert apply_op(value, op) == expected
    assert value == before  # never modified


@pytest.mark.parametrize(
    "op",
    [
        PatchOp("remove", ("x",)),
        PatchOp("replace", ("x",), 1),
        PatchOp("add", ("x", "y"), 1),
        PatchOp("add", ("a", "5"), 1),
        PatchOp("add", ("a", "01"), 1),
        PatchOp("move", ("a", "0"), from_=("a",)),
        PatchOp("test", ("a",), [1, 2.5]),
        PatchOp("test", ("t",), 1),
        PatchOp("copy", ("b",), from_=("nope",)),
    ],
)
def test_operations_that_do_not_apply(op: PatchOp) -> None:
    with pytest.raises(PatchError):
        apply_op({"a": [1, 2], "t": True}, op)


@given(json_values, json_values)
def test_add_then_test_then_remove_round_trips(value: Any, new: Any) -> None:
    doc = {"root": value}
    added = apply_op(doc, PatchOp("add", ("new",), new))
    apply_op(added, PatchOp("test", ("new",), new))
    assert apply_op(added, PatchOp("remove", ("new",))) == doc
