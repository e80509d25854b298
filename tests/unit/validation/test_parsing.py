"""``nests_deeper_than``: the depth guard in front of every check of a decoded value, and
``encoded_size``, the bound that lets most values skip it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataquarantine.validation.parsing import MAX_DEPTH, encoded_size, nests_deeper_than


def _depth(value: Any) -> int:
    """Levels of containers (a scalar has none), recursively: the reference."""
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list | tuple):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _count(value: Any) -> int:
    """JSON values in ``value``, the value itself included (object keys are not values)."""
    if isinstance(value, dict):
        return 1 + sum(_count(v) for v in value.values())
    if isinstance(value, list | tuple):
        return 1 + sum(_count(v) for v in value)
    return 1


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=2), inner, max_size=3)
    ),
    max_leaves=30,
)


@given(_values, st.integers(min_value=0, max_value=8))
def test_agrees_with_the_recursive_depth(value: Any, limit: int) -> None:
    assert nests_deeper_than(value, limit) == (_depth(value) > limit)


@pytest.mark.parametrize("levels", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 50_000])
def test_chains_around_the_limit_without_recursion(levels: int) -> None:
    value: Any = "leaf"
    for i in range(levels):
        value = {"a": value} if i % 2 else [value, 1]
    assert nests_deeper_than(value) == (levels > MAX_DEPTH)


@given(_values)
def test_the_encoded_size_bounds_the_values_and_the_depth(value: Any) -> None:
    size = encoded_size(value)
    assert size is not None
    assert size >= _count(value)
    assert size >= 2 * _depth(value)


@pytest.mark.parametrize("value", [{1, 2}, {"a": {1: object()}}, [b"x", {"k": set()}]])
def test_values_that_do_not_encode_have_no_size_and_are_walked(value: Any) -> None:
    assert encoded_size(value) is None or encoded_size(value) >= _count(value)
    assert not nests_deeper_than(value, 2)
