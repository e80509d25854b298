"""Differential tests: the fast path against the reference CEL interpreter."""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from tests.unit.validation.rules.cel_strategies import expressions, records

from dataquarantine.contracts.model import RuleSpec
from dataquarantine.kernel.results import ErrorCode, Violation
from dataquarantine.validation.rules import RuleSet
from dataquarantine.validation.rules.expression import check as check_node
from dataquarantine.validation.rules.parser import CelSyntaxError, parse
from dataquarantine.validation.rules.reference import EvalError, ReferenceProgram, cel_type_name
from dataquarantine.validation.rules.transpiler import Unsupported, compile_expression
from dataquarantine.validation.rules.values import CelError, from_record

INT64_MIN, INT64_MAX, UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1


class ReferenceCompileError(Exception):
    pass


def reference(expr: str) -> ReferenceProgram:
    try:
        node = parse(expr)
    except CelSyntaxError as exc:
        raise ReferenceCompileError(str(exc)) from exc
    if check_node(node) is not None:
        raise ReferenceCompileError(expr)
    return ReferenceProgram(node)


def cel_view(value: Any) -> Any:
    """A fast-path value as the interpreter would hand it back (its own value conversion)."""
    try:
        return from_record(value)
    except CelError:
        return value


def same(a: Any, b: Any) -> bool:
    """Type-strict equality (bool is not int, NaN equals NaN, -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def fast_or_none(expr: str) -> Any:
    try:
        return compile_expression(parse(expr))
    except (CelSyntaxError, Unsupported):
        return None


def check(expr: str, record: Any) -> None:
    try:
        program = reference(expr)
    except ReferenceCompileError:
        event("reference refuses the expression")
        return
    expected = program.evaluate(record)
    fast = fast_or_none(expr)
    if fast is None:
        event("not on the fast path")
        return
    try:
        got = fast(record)
    except Exception:
        event("fast path fell back")
        return
    event("fast path decided")
    assert not isinstance(expected, EvalError), (
        f"{expr!r} on {record!r}: fast path gave {got!r}, reference erred: {expected.reason}"
    )
    assert same(cel_view(got), expected), f"{expr!r} on {record!r}: {got!r} != {expected!r}"


def expected_violations(expr: str, record: Any) -> tuple[Violation, ...]:
    result = reference(expr).evaluate(record)
    if result is True:
        return ()
    if result is False:
        message = f"rule r failed: {expr}"
    else:
        reason = (
            result.reason
            if isinstance(result, EvalError)
            else f"the result is {cel_type_name(result)}, not bool"
        )
        message = f"rule r could not be evaluated: {reason}"
    return (Violation(code=ErrorCode.RULE_VIOLATION, path="", message=message, rule="r"),)


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(expr=expressions(), record=records())
@example(expr="record.i == 1", record={"i": True})
@example(expr="record.i + 1 > 0", record={"i": INT64_MAX})
@example(expr="record.i / -2 == -3", record={"i": 7})
@example(expr="record.i % -3", record={"i": -7})
@example(expr="record.l[-1] == 1", record={"l": [1]})
@example(expr="'a' in record.s", record={"s": "abc"})
@example(expr="record.s < 1", record={"s": "a"})
@example(expr="has(record.s.x)", record={"s": "x"})
@example(expr="size(record.s) == 1", record={"s": "é"})
@example(expr="record.s.matches('c$')", record={"s": "abc\n"})
@example(expr="record.f >= 0", record={"f": math.nan})
@example(expr="record.i > 1.0", record={"i": 2**53 + 1})
@example(expr="record.i == 9223372036854775807", record={"i": 2**63})
@example(expr="record.i == -9223372036854775808", record={"i": -(2**63) - 1})
@example(expr="record.s == 'x'", record={"s": uuid.UUID(int=0)})
@example(expr="record.m == {'a': 1}", record={"m": {"a": 1.0}})
@example(expr="record.o.all(v, v.q > 0)", record={"o": [{"q": 0}, {"q": "x"}]})
@example(expr="record.o.exists(v, v.q > 0)", record={"o": [{"q": "x"}, {"q": 1}]})
@example(expr="record.b ? 1 : 2", record={"b": 1})
@example(expr="!record.b", record={"b": 0})
@example(expr="-record.i", record={"i": INT64_MIN})
@example(expr="record.i in [1, 2]", record={"i": True})
@example(expr="record.l == [1, 2]", record={"l": [True, 2]})
def test_fast_path_agrees_with_reference(expr: str, record: Any) -> None:
    check(expr, record)


@FUZZ
@given(expr=expressions(depth=2), record=records())
def test_rule_set_agrees_with_reference(expr: str, record: Any) -> None:
    try:
        rules = RuleSet.compile([RuleSpec(id="r", expr=expr)])
    except Exception:
        return  # a compile error: covered by test_rule_set
    assert rules.evaluate(record) == expected_violations(expr, record)


TYPICAL = {
    "record.event_type != 'purchase' || has(record.product_id)": {
        "event_type": "purchase",
        "product_id": "p1",
    },
    "record.amount >= 0": {"amount": 12.5},
    "size(record.user_id) == 10": {"user_id": "u123456789"},
    "record.status in ['a','b']": {"status": "b"},
    "record.items.all(i, i.qty > 0)": {"items": [{"qty": 1}, {"qty": 2}]},
    "record.email.matches('^[a-z.]+@[a-z]+\\\\.com$')": {"email": "jo.do@ex.com"},
    "record.a + 1 == 3 && record.b * 2.0 < 10.0": {"a": 2, "b": 1.5},
    "record.tags.exists(t, t.startsWith('x'))": {"tags": ["a", "xb"]},
    "record.n == null ? true : record.n > 0": {"n": None},
    "int(record.f) == 2 && double(record.i) == 3.0": {"f": 2.7, "i": 3},
}


@pytest.mark.parametrize("expr", list(TYPICAL))
def test_typical_expressions_are_decided_by_the_fast_path(expr: str) -> None:
    fast = compile_expression(parse(expr))
    assert fast(TYPICAL[expr]) is True
    assert reference(expr).evaluate(TYPICAL[expr]) is True


@settings(max_examples=200, deadline=None)
@given(record=records())
def test_fast_path_decides_most_plain_records(record: Any) -> None:
    """Guard against a fast path that trivially always falls back."""
    expr = "has(record.i) && record.i >= 0"
    check(expr, record)
    if isinstance(record, dict) and type(record.get("i")) is int and abs(record["i"]) < 100:
        assert compile_expression(parse(expr))(record) is True or record["i"] < 0


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_expressions_strategy_mostly_parses(data: st.DataObject) -> None:
    expr = data.draw(expressions())
    try:
        reference(expr)
    except ReferenceCompileError:
        return
    parse(expr)  # everything the generator writes is in the fast parser's grammar
