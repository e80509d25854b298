"""The compiled rules: paths, order, default, rename, what is recorded, the input untouched."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from dataquarantine.contracts.model import RemediationSpec
from dataquarantine.kernel.revisions import FieldChange
from dataquarantine.remediation import ActionOutcome, Remediator


def rules(*specs: Mapping[str, Any], phone_region: str | None = None) -> Remediator:
    return Remediator([RemediationSpec.model_validate(s) for s in specs], phone_region=phone_region)


def test_rules_run_in_order_on_nested_fields_and_the_input_is_untouched() -> None:
    r = rules(
        {"field": "customer.email", "action": "trim"},
        {"field": "/customer/email", "action": "lowercase"},
        {"field": "items.0.qty", "action": "coerce_int"},
    )
    value = {"customer": {"email": "  Ann@X.COM "}, "items": [{"qty": "2"}, {"qty": "3"}]}
    before = copy.deepcopy(value)
    out = r.apply_value(value)
    assert value == before
    assert out.value == {"customer": {"email": "ann@x.com"}, "items": [{"qty": 2}, {"qty": "3"}]}
    assert out.changes == (
        FieldChange("/customer/email", "trim", "  Ann@X.COM ", "Ann@X.COM"),
        FieldChange("/customer/email", "lowercase", "Ann@X.COM", "ann@x.com"),
        FieldChange("/items/0/qty", "coerce_int", "2", 2),
    )
    assert out.outcomes == (
        ("trim", ActionOutcome.APPLIED),
        ("lowercase", ActionOutcome.APPLIED),
        ("coerce_int", ActionOutcome.APPLIED),
    )


def test_missing_fields_and_other_kinds_are_left_alone_silently() -> None:
    r = rules({"field": "a", "action": "trim"}, {"field": "b.c", "action": "coerce_int"})
    out = r.apply_value({"a": 1, "b": "text"})
    assert out.value == {"a": 1, "b": "text"}
    assert not out.changed and not out.failures and not out.outcomes


def test_a_value_that_cannot_be_fixed_is_kept_and_recorded_as_a_failure() -> None:
    r = rules({"field": "phone", "action": "e164_phone"}, phone_region="FR")
    out = r.apply_value({"phone": "call me"})
    assert out.value == {"phone": "call me"}
    assert not out.changes
    assert [(f.path, f.action) for f in out.failures] == [("/phone", "e164_phone")]
    assert out.outcomes == (("e164_phone", ActionOutcome.FAILED),)


def test_rule_region_beats_contract_region() -> None:
    r = rules({"field": "p", "action": "e164_phone", "region": "us"}, phone_region="FR")
    assert r.apply_value({"p": "(650) 253-0000"}).value == {"p": "+16502530000"}


def test_default_sets_missing_fields_only_creating_parents() -> None:
    r = rules(
        {"field": "country", "action": "default", "value": "NL"},
        {"field": "meta.tags", "action": "default", "value": []},
        {"field": "note", "action": "default", "value": "x"},
    )
    out = r.apply_value({"note": None})
    assert out.value == {"note": None, "country": "NL", "meta": {"tags": []}}
    assert out.changes[0] == FieldChange("/country", "default", None, "NL", existed_before=False)
    assert len(out.changes) == 2
    # the default value is copied: fixing two records never shares one list
    again = r.apply_value({})
    assert again.value["meta"]["tags"] is not out.value["meta"]["tags"]


def test_default_under_a_non_object_fails() -> None:
    out = rules({"field": "a.b", "action": "default", "value": 1}).apply_value({"a": 5})
    assert out.value == {"a": 5}
    assert out.failures and out.failures[0].action == "default"


def test_rename_moves_and_records_removal_and_addition() -> None:
    r = rules(
        {"field": "user.mail", "action": "rename", "to": "email"},
        {"field": "ts", "action": "rename", "to": "event.timestamp"},
    )
    out = r.apply_value({"user": {"id": 1, "mail": "a@b"}, "ts": 5})
    assert out.value == {"user": {"id": 1, "email": "a@b"}, "event": {"timestamp": 5}}
    assert out.changes[:2] == (
        FieldChange("/user/mail", "rename", "a@b", None),
        FieldChange("/user/email", "rename", None, "a@b", existed_before=False),
    )


def test_rename_onto_an_existing_field_fails_and_keeps_both() -> None:
    out = rules({"field": "a", "action": "rename", "to": "b"}).apply_value({"a": 1, "b": 2})
    assert out.value == {"a": 1, "b": 2}
    assert out.failures[0].reason == "rename: /b already exists"


def test_apply_decodes_bytes_and_refuses_non_json() -> None:
    r = rules({"field": "a", "action": "trim"})
    applied = r.apply(b'{"a": " x ", "big": 123456789012345678901234567890}')
    assert applied is not None
    assert applied.value == {"a": "x", "big": 123456789012345678901234567890}
    assert r.apply(b"{not json") is None
    assert orjson.loads(b'{"a":"x"}') == {"a": "x"}


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({"field": "a", "action": "rename"}, "needs 'to'"),
        ({"field": "a", "action": "default"}, "needs 'value'"),
        ({"field": "a", "action": "trim", "region": "FR"}, "does not take region"),
        ({"field": "a", "action": "e164_phone", "formats": ["%Y"]}, "does not take formats"),
        ({"field": "a", "action": "e164_phone", "region": "France"}, "ISO 3166"),
        ({"field": "a", "action": "iso_timestamp", "timezone": "Mars/Base"}, "time zone"),
        ({"field": "a", "action": "iso_timestamp", "epoch": "days"}, "epoch"),
        ({"field": "", "action": "trim"}, "whole record"),
        ({"field": "a", "action": "explode"}, "action"),
    ],
)
def test_bad_rules_are_refused_when_the_contract_loads(spec: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        RemediationSpec.model_validate(spec)
