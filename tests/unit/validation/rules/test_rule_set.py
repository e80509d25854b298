"""RuleSet: compile errors, violations, error handling and the fast path."""

from __future__ import annotations

import datetime as dt
import pickle
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from dataquarantine.contracts.model import RuleSpec
from dataquarantine.errors import ContractError, RuleCompileError
from dataquarantine.kernel.results import ErrorCode, Severity, Violation
from dataquarantine.validation.rules import RuleSet

MakeRules = Callable[..., RuleSet]


@pytest.fixture
def rules() -> MakeRules:
    """``rules("expr", ..., id=..., **spec_fields)`` -> a compiled RuleSet (ids r0, r1, ...)."""

    def make(*exprs: str, **fields: Any) -> RuleSet:
        return RuleSet.compile(
            [RuleSpec(id=f"r{i}", expr=e, **fields) for i, e in enumerate(exprs)]
        )

    return make


TYPICAL = [
    "record.event_type != 'purchase' || has(record.product_id)",
    "record.amount >= 0",
    "size(record.user_id) == 10",
    "record.status in ['a','b']",
    "record.items.all(i, i.qty > 0)",
]
GOOD = {
    "event_type": "purchase",
    "product_id": "p-1",
    "amount": 12.5,
    "user_id": "u123456789",
    "status": "a",
    "items": [{"qty": 1}, {"qty": 2}],
}


def test_typical_rules_are_on_the_fast_path(rules: MakeRules) -> None:
    rule_set = rules(*TYPICAL)
    assert rule_set.fast_path_rules == ("r0", "r1", "r2", "r3", "r4")
    assert len(rule_set) == 5
    assert rule_set.evaluate(GOOD) == ()


def test_each_typical_rule_fails_on_its_own(rules: MakeRules) -> None:
    rule_set = rules(*TYPICAL)
    bad = {
        **GOOD,
        "product_id": None,
        "amount": -1,
        "user_id": "u1",
        "status": "z",
        "items": [{"qty": 0}],
    }
    del bad["product_id"]
    found = rule_set.evaluate(bad)
    assert [v.rule for v in found] == ["r0", "r1", "r2", "r3", "r4"]
    assert found[1] == Violation(
        code=ErrorCode.RULE_VIOLATION,
        path="",
        message="rule r1 failed: record.amount >= 0",
        rule="r1",
        keyword=None,
        severity=Severity.ERROR,
    )


def test_message_path_and_severity_come_from_the_spec() -> None:
    spec = RuleSpec(
        id="positive",
        expr="record.order.amount > 0",
        message="amount must be positive",
        severity=Severity.WARN,
        field="order.amount",
    )
    (found,) = RuleSet.compile([spec]).evaluate({"order": {"amount": 0}})
    assert found.message == "amount must be positive"
    assert found.path == "/order/amount"
    assert found.severity is Severity.WARN
    assert found.rule == "positive"
    assert found.code is ErrorCode.RULE_VIOLATION


def test_an_evaluation_error_is_not_a_false(rules: MakeRules) -> None:
    rule_set = rules("record.amount >= 0", severity=Severity.WARN)
    (found,) = rule_set.evaluate({})
    assert found.message == "rule r0 could not be evaluated: no such key: 'amount'"
    assert found.severity is Severity.WARN
    (found,) = rule_set.evaluate({"amount": "12"})
    assert found.message.startswith("rule r0 could not be evaluated: no such overload")


def test_a_non_bool_result_is_an_error(rules: MakeRules) -> None:
    (found,) = rules("record.amount").evaluate({"amount": 3})
    assert found.message == "rule r0 could not be evaluated: the result is int, not bool"


def test_errors_are_suppressed_when_the_schema_already_failed(rules: MakeRules) -> None:
    rule_set = rules("record.amount >= 0", "record.kind == 'x'")
    assert rule_set.evaluate({"kind": "x"}, schema_valid=False) == ()
    # A plain false is still reported.
    (found,) = rule_set.evaluate({"kind": "y"}, schema_valid=False)
    assert found.rule == "r1"
    assert len(rule_set.evaluate({"kind": "y"}, schema_valid=True)) == 2


def test_error_absorbed_by_or_is_not_an_error(rules: MakeRules) -> None:
    assert rules("record.missing > 0 || true").evaluate({}) == ()
    assert len(rules("record.missing > 0 && false").evaluate({})) == 1


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("record.amount >", "syntax error"),
        ("record.a == 'x", "syntax error"),
        ("amount > 0", "undeclared reference to 'amount'"),
        ("record.items.all(i, j.qty > 0)", "undeclared reference to 'j'"),
    ],
)
def test_compile_errors_name_the_rule(expr: str, problem: str) -> None:
    specs = [RuleSpec(id="fine", expr="true"), RuleSpec(id="broken-rule", expr=expr)]
    with pytest.raises(RuleCompileError) as info:
        RuleSet.compile(specs, source="contracts/orders.yaml")
    assert isinstance(info.value, ContractError)
    assert info.value.source == "contracts/orders.yaml"
    assert info.value.problem.startswith("rule 'broken-rule': ")
    assert problem in info.value.problem
    assert str(info.value).startswith("contracts/orders.yaml: rule 'broken-rule': ")


def test_type_names_are_declared(rules: MakeRules) -> None:
    rule_set = rules("type(record.a) == int")
    assert rule_set.fast_path_rules == ()
    assert rule_set.evaluate({"a": 1}) == ()


def test_reference_only_rules_mix_with_fast_ones(rules: MakeRules) -> None:
    rule_set = rules(
        "record.ts < timestamp('2030-01-01T00:00:00Z')",
        "record.amount >= 0",
        "record.n == 1u",
    )
    assert rule_set.fast_path_rules == ("r1",)
    record = {"ts": dt.datetime(2024, 1, 1, tzinfo=dt.UTC), "amount": -1, "n": 2}
    assert [v.rule for v in rule_set.evaluate(record)] == ["r1", "r2"]


def test_decoded_avro_types_reach_the_reference() -> None:
    rule_set = RuleSet.compile(
        [
            RuleSpec(id="uuid", expr="record.id == '00000000-0000-0000-0000-000000000007'"),
            RuleSpec(id="date", expr="record.day < timestamp('2025-01-01T00:00:00Z')"),
            RuleSpec(id="time", expr="record.at == duration('3600s')"),
            RuleSpec(id="size", expr="size(record.id) == 36"),
        ]
    )
    record = {"id": uuid.UUID(int=7), "day": dt.date(2024, 1, 1), "at": dt.time(1)}
    assert rule_set.evaluate(record) == ()


def test_bad_records_never_raise(rules: MakeRules) -> None:
    rule_set = rules("record.a == 1")
    for record in (None, [1, 2], "text", 5, object(), {"a": object()}):
        (found,) = rule_set.evaluate(record)
        assert "could not be evaluated" in found.message


def test_rules_too_deep_for_python_stay_on_the_reference(rules: MakeRules) -> None:
    rule_set = rules("!" * 300 + "record.ok", "record.ok")
    assert rule_set.fast_path_rules == ("r1",)
    assert rule_set.evaluate({"ok": True}) == ()
    assert len(rule_set.evaluate({"ok": False})) == 2


def test_a_rule_set_pickles_by_recompiling(rules: MakeRules) -> None:
    rule_set = rules(*TYPICAL)
    copy = pickle.loads(pickle.dumps(rule_set))
    assert copy.fast_path_rules == rule_set.fast_path_rules
    assert copy.evaluate({**GOOD, "amount": -1}) == rule_set.evaluate({**GOOD, "amount": -1})


def test_no_rules(rules: MakeRules) -> None:
    rule_set = rules()
    assert len(rule_set) == 0
    assert rule_set.evaluate({"anything": 1}) == ()
    assert "0 rules" in repr(rule_set)


def test_fast_and_reference_rules_report_in_rule_order(rules: MakeRules) -> None:
    rule_set = rules("record.n > 1", "record.s.matches(record.p)")
    assert rule_set.fast_path_rules == ("r0",)
    assert [v.rule for v in rule_set.evaluate({"n": 1, "s": "abc", "p": "b"})] == ["r0"]
    first, second = rule_set.evaluate({"n": "b", "s": "abc", "p": "z"})
    assert (first.rule, second.rule) == ("r0", "r1")
    assert "could not be evaluated" in first.message
    assert second.message == "rule r1 failed: record.s.matches(record.p)"
