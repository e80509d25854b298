"""Every rule evaluation is bounded: RE2 for ``matches()`` and a cost budget."""

from __future__ import annotations

import time
from typing import Any

import pytest

from dataquarantine import Contract, ErrorCode
from dataquarantine.errors import RuleEvaluationError
from dataquarantine.validation.rules import COST_LIMIT, Expression
from dataquarantine.validation.rules.budget import weight
from dataquarantine.validation.rules.nodes import Comprehension
from dataquarantine.validation.rules.parser import parse

#: Generous for a loaded machine; the point is "returns", not a benchmark.
PROMPT = 5.0


def validate(expr: str, record: Any) -> tuple[bool, list[str]]:
    contract = Contract.from_dict(
        {"name": "t", "version": "1.0.0", "schema": {}, "rules": [{"id": "r", "expr": expr}]}
    )
    start = time.perf_counter()
    result = contract.validate(record)
    assert time.perf_counter() - start < PROMPT, expr
    assert all(e.code is ErrorCode.RULE_VIOLATION for e in result.errors)
    return result.valid, [e.message for e in result.errors]


@pytest.mark.parametrize(
    ("pattern", "subject"),
    [
        ("^(a+)+$", "a" * 40 + "b"),
        ("^(a+)+$", "a" * 5000 + "!"),
        ("(a|aa)+$", "a" * 3000 + "b"),
        ("^(\\w+\\s?)*$", "word " * 2000 + "!"),
        ("(.*a){20}", "a" * 30),
    ],
)
def test_matches_is_linear(pattern: str, subject: str) -> None:
    expr = f"record.a.matches('{pattern}')".replace("\\", "\\\\")
    valid, _ = validate(expr, {"a": subject})
    assert valid is (pattern == "(.*a){20}")
    # a computed pattern (never on the fast path) as well
    valid_dyn, _ = validate("record.a.matches(record.p)", {"a": subject, "p": pattern})
    assert valid_dyn is valid


def over_budget(messages: list[str]) -> bool:
    return any("cost budget exceeded" in m for m in messages)


ITEMS = list(range(1, 201))


@pytest.mark.parametrize(
    "expr",
    [
        "record.l.all(x, record.l.all(y, record.l.all(z, z > 0)))",
        "record.l.exists(x, record.l.exists(y, record.l.exists(z, z < 0)))",
        "record.l.map(x, record.l.map(y, record.l.map(z, z))).size() > 0",
        "record.l.filter(x, record.l.filter(y, record.l.exists(z, z < 0)).size() > 0).size() == 0",
        "record.l.exists_one(x, record.l.exists_one(y, record.l.all(z, z > 0)))",
        # the same through the interpreter only (a type() call has no fast path)
        "type(record.l) == list && record.l.all(x, record.l.all(y, record.l.all(z, z > 0)))",
        # a long predicate: 200 * 200 elements of 1 + 27 nodes each
        "record.l.all(x, record.l.all(y, x + y > 0 && x - y < 1000 && x * y > 0 && y != 0"
        " && x != 0))",
        # string growth inside a comprehension
        "record.l.map(x, record.s + record.s + record.s + record.s).size() > 0",
        "record.l.all(x, size(record.s + record.s) > 0)",
    ],
)
def test_over_budget_is_a_violation(expr: str) -> None:
    record = {"l": ITEMS, "s": "x" * 1_000_000}
    valid, messages = validate(expr, record)
    assert not valid
    assert over_budget(messages), messages
    with pytest.raises(RuleEvaluationError, match="cost budget exceeded"):
        Expression(expr).evaluate(record)


@pytest.mark.parametrize(
    "expr",
    [
        "record.l.all(x, record.l.all(y, x + y > 0))",  # 40,200 units
        "record.l.map(x, string(x) + 'a').size() == 200",
        "record.l.exists(x, x == 200)",
    ],
)
def test_within_budget_is_decided(expr: str) -> None:
    assert validate(expr, {"l": ITEMS}) == (True, [])


def test_the_budget_is_per_rule_evaluation() -> None:
    contract = Contract.from_dict(
        {
            "name": "t",
            "version": "1.0.0",
            "schema": {},
            "rules": [
                {"id": f"r{i}", "expr": "record.l.all(x, record.l.all(y, y > 0))"}
                for i in range(30)
            ],
        }
    )
    assert COST_LIMIT < 30 * 200 * 201  # the rules together spend more than one budget
    assert contract.validate({"l": ITEMS}).valid


NESTED = "record.l.all(x, record.l.all(y, record.l.all(z, z > 0)))"


@pytest.mark.parametrize(
    ("expr", "record"),
    [
        # the first key decides: the nested comprehensions of the second never run
        (f"record.m.all(k, k != 'b' && {NESTED})", {"m": {"b": 1, "a": 2}, "l": ITEMS}),
        (f"record.m.exists(k, k == 'b' || {NESTED})", {"m": {"b": 1, "a": 2}, "l": ITEMS}),
        (f"record.m.all(k, k != 'b' && {NESTED})", {"m": {"a": 1, "b": 2}, "l": ITEMS}),
        (f"record.l.exists(x, x == 1) || {NESTED}", {"l": ITEMS}),
        (f"record.l.exists(x, x == 0) || {NESTED}", {"l": ITEMS}),
        (f"record.missing || {NESTED}", {"l": ITEMS}),
        (f"{NESTED} || true", {"l": ITEMS}),
    ],
)
def test_both_paths_count_the_same(expr: str, record: Any) -> None:
    """The fast path reports an exceeded budget itself, so it must spend exactly what the
    interpreter spends: the same verdict, whichever path decides."""
    _, messages = validate(expr, record)
    try:
        result = Expression(expr).evaluate(record)
    except RuleEvaluationError as exc:
        assert messages == [f"rule r could not be evaluated: {exc}"]
    else:
        assert messages == ([] if result is True else [f"rule r failed: {expr}"])


@pytest.mark.parametrize("macro", ["all", "exists", "exists_one", "filter", "map"])
def test_one_comprehension_is_bounded_by_its_size(macro: str) -> None:
    """A rule whose only cost is one comprehension checks its size instead of counting."""
    size = COST_LIMIT // 4  # each element costs 4 units: 1 + the 3 nodes of `x >= N`
    body = f"x >= {size - 1}" if macro == "exists" else "x >= 0"
    expr = f"record.l.{macro}(x, {body})"
    if macro in ("filter", "map"):
        expr = f"size({expr}) >= 0"
    at_limit = list(range(size))
    assert validate(expr, {"l": at_limit})[0] is (macro != "exists_one")
    valid, messages = validate(expr, {"l": [*at_limit, 1]})
    assert not valid and over_budget(messages)


@pytest.mark.parametrize(
    ("expr", "units"),
    [
        ("record.l.all(x, x > 0)", 4),  # 1 + `x > 0` (3 nodes)
        ("record.l.map(x, x)", 2),
        ("record.l.map(x, x > 0, x * 2)", 7),
        # a nested comprehension counts itself and its range; its body is charged as it runs
        ("record.l.all(x, record.l.all(y, y > x))", 4),
    ],
)
def test_comprehension_weight(expr: str, units: int) -> None:
    node = parse(expr)
    assert isinstance(node, Comprehension)
    assert weight(node) == units


BIG = "ab" * 2_000_000  # 4 MB of text
WIDE = list(range(300_000))


@pytest.mark.parametrize(
    "expr",
    [
        "record.w.all(x, x in record.w)",  # each `in` scans the list
        "record.l.all(x, record.w == record.v)",  # equal lists compared element by element
        "record.l.all(x, [record.w] == [record.v])",
        "record.l.all(x, {'k': record.w} == {'k': record.v})",
        "record.l.all(x, record.s == record.t)",  # equal strings compared in full
        "record.l.all(x, record.s <= record.t)",
        "record.l.all(x, record.s.contains(record.t))",
        "record.l.all(x, record.s.startsWith(record.t))",
        "record.l.all(x, record.s.matches('b$'))",
        "record.l.all(x, record.l.all(y, 'ab'.matches(record.p)))",  # compiled (or cached)
        "record.l.all(x, record.s.endsWith('b'))",
        "record.l.all(x, double(record.s) > 0.0)",
        "record.l.all(x, record.l.all(y, string(bytes(record.s)) == record.t))",
    ],
)
def test_work_proportional_to_the_data_is_charged_in_a_body(expr: str) -> None:
    record = {"l": ITEMS, "w": WIDE, "v": list(WIDE), "s": BIG, "t": BIG[:-1] + "b"}
    record["p"] = "^a" + "b?" * 17  # 36 units per use: a computed pattern is compiled per call
    start = time.perf_counter()
    valid, messages = validate(expr, record)
    assert not valid and over_budget(messages), messages
    with pytest.raises(RuleEvaluationError, match="cost budget exceeded"):
        Expression(expr).evaluate(record)
    assert time.perf_counter() - start < PROMPT


@pytest.mark.parametrize("size", [900, 999, 1000, 1100])
@pytest.mark.parametrize(
    "expr",
    [
        "record.l.all(x, x in record.l)",
        "record.l.exists(x, x in record.m && x < 0)",
        "record.l.all(x, record.l != record.m || x >= 0)",
        "record.l.all(x, x in [1, 2] || x in record.l)",
    ],
)
def test_both_paths_charge_comparisons_the_same(expr: str, size: int) -> None:
    record = {"l": list(range(1, size + 1)), "m": list(range(1, size + 1))}
    _, messages = validate(expr, record)
    try:
        result = Expression(expr).evaluate(record)
    except RuleEvaluationError as exc:
        assert messages == [f"rule r could not be evaluated: {exc}"]
    else:
        assert messages == ([] if result is True else [f"rule r failed: {expr}"])


def test_comparisons_outside_a_body_are_free() -> None:
    record = {"w": WIDE, "v": list(WIDE), "s": BIG, "t": BIG}
    expr = "record.w == record.v && record.s == record.t && 5 in record.w"
    assert validate(expr, record) == (True, [])
    assert Expression(expr).evaluate(record) is True
