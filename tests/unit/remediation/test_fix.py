"""Bulk-fix steps: parsing (a bad step is named), applying, and turning a fix into rules."""

from __future__ import annotations

from typing import Any

import pytest

from dataquarantine.errors import FixDefinitionError
from dataquarantine.remediation.fix import parse_fix


def test_the_three_kinds_of_step_in_order() -> None:
    fix = parse_fix(
        [
            {"action": "e164_phone", "path": "/items/*/phone", "region": "FR"},
            {"op": "move", "from": "/items/*/qty", "path": "/items/*/quantity"},
            {"set": "/amount", "expr": "double(record.amount) / 100.0"},
            {"set": "/status", "expr": "record.status.lowerAscii()"},
            {"action": "iso_timestamp", "path": "ts", "epoch": "milliseconds"},
        ]
    )
    record = {
        "amount": 1250,
        "status": "ACTIVE",
        "ts": 1700000000000,
        "items": [{"phone": "06 12 34 56 78", "qty": 1}, {"phone": "0612345679", "qty": 2}],
    }
    result = fix.apply(record)
    assert result.error is None and result.changed
    assert result.value == {
        "amount": 12.5,
        "status": "active",
        "ts": "2023-11-14T22:13:20Z",
        "items": [
            {"phone": "+33612345678", "quantity": 1},
            {"phone": "+33612345679", "quantity": 2},
        ],
    }
    assert record["status"] == "ACTIVE"  # the input is untouched
    paths = [c.path for c in result.changes]
    assert paths[:2] == ["/items/0/phone", "/items/1/phone"]
    assert "/status" in paths
    assert parse_fix(fix.describe()).describe() == fix.describe()


def test_a_step_error_leaves_the_record_as_it_was() -> None:
    fix = parse_fix(
        [{"op": "replace", "path": "/a", "value": 1}, {"action": "e164_phone", "path": "/p"}]
    )
    result = fix.apply({"a": 0, "p": "not a phone"})
    assert result.error is not None and result.error.index == 1
    assert result.value == {"a": 0, "p": "not a phone"} and not result.changed


def test_a_cel_step_over_budget_is_a_step_error() -> None:
    fix = parse_fix([{"set": "/x", "expr": "record.xs.exists(a, record.xs.exists(b, a + b < 0))"}])
    result = fix.apply({"xs": list(range(2000))})
    assert result.error is not None and "cost budget" in result.error.message


def test_nothing_to_do_is_no_change() -> None:
    fix = parse_fix([{"action": "trim", "path": "/items/*/name"}])
    assert not fix.apply({"items": []}).changed
    assert not fix.apply({"items": [{"name": "ok"}]}).changed


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([], "non-empty list"),
        ([{"action": "trim"}], "step 1: 'path'"),
        (
            [{"op": "replace", "path": "/a", "value": 1}, {"op": "frobnicate", "path": "/a"}],
            "step 2: unknown JSON Patch op",
        ),
        ([{"action": "teleport", "path": "/a"}], "step 1: action"),
        ([{"set": "/a", "expr": "record.a +"}], "step 1: syntax error"),
        ([{"set": "/a", "expr": "nope.a"}], "step 1: undeclared reference"),
        ([{"set": "/items/*/a", "expr": "1"}], "no wildcard"),
        ([{"op": "add", "path": "/a"}], "needs 'value'"),
        ([{"op": "move", "from": "/a/*", "path": "/b"}], "same number of wildcards"),
        ([{"action": "trim", "op": "remove", "path": "/a"}], "exactly one"),
        (["trim"], "a step is a mapping"),
        ([{"set": "/a", "expr": "1 + " * 5000 + "1"}], "longer than"),
    ],
)
def test_a_bad_step_is_named(steps: Any, message: str) -> None:
    with pytest.raises(FixDefinitionError, match=message):
        parse_fix(steps)


def test_a_fix_of_actions_and_moves_becomes_remediation_rules() -> None:
    fix = parse_fix(
        [
            {"action": "e164_phone", "path": "/phone", "region": "FR"},
            {"op": "move", "from": "/qty", "path": "/quantity"},
        ]
    )
    rules = [r.model_dump(exclude_defaults=True) for r in fix.remediation_rules()]
    assert rules == [
        {"field": "/phone", "action": "e164_phone", "region": "FR"},
        {"field": "/qty", "action": "rename", "to": "/quantity"},
    ]
    with pytest.raises(FixDefinitionError, match=r"step 1 \(cel\)"):
        parse_fix([{"set": "/a", "expr": "1"}]).remediation_rules()
