"""The double pass over a validated batch (shared by the file run and the stream worker)."""

from __future__ import annotations

from typing import Any

import pytest

from dataquarantine.remediation import RecordOutcome, Remediation, attempt_invalid
from dataquarantine.validation.contract import Contract
from dataquarantine.validation.registry import ContractRegistry

SPEC: dict[str, Any] = {
    "name": "signup",
    "version": "1.0.0",
    "schema": {
        "type": "object",
        "required": ["email", "age"],
        "properties": {
            "email": {"type": "string", "pattern": "^[a-z@.]+$"},
            "age": {"type": "integer"},
        },
    },
    "remediation": [
        {"field": "email", "action": "lowercase"},
        {"field": "age", "action": "coerce_int"},
    ],
}
PLAIN: dict[str, Any] = {k: v for k, v in SPEC.items() if k != "remediation"} | {"name": "plain"}


@pytest.fixture
def registry() -> ContractRegistry:
    return ContractRegistry([Contract.from_dict(SPEC), Contract.from_dict(PLAIN)])


def test_each_decoded_invalid_record_with_rules_is_attempted(registry: ContractRegistry) -> None:
    signup = registry.find("signup")
    plain = registry.find("plain")
    assert signup is not None and plain is not None
    items = [
        b'{"email":"a@b.c","age":1}',  # valid: not attempted
        b'{"email":"A@B.C","age":"2"}',  # fixed
        b'{"email":"a b","age":3}',  # changes nothing: no attempt kept
        b'{"email":"A B","age":4}',  # changed, still invalid
        b"{oops",  # not decoded: not attempted
    ]
    result = signup.validate_batch(items)
    plain_result = plain.validate_batch([b'{"email":"A@B.C","age":"2"}'])
    result.invalid[5] = plain_result.invalid[0]  # a contract without rules
    remediation = Remediation()
    lookups: list[str] = []

    def find(ref: str) -> Contract | None:
        lookups.append(ref)
        return registry.find(ref)

    attempts = attempt_invalid(remediation, result, find)
    assert sorted(attempts) == [1, 3]
    assert attempts[1].valid and attempts[1].value == {"email": "a@b.c", "age": 2}
    assert not attempts[3].valid
    assert lookups == ["signup@1.0.0", "plain@1.0.0"]  # once per contract and batch
    assert remediation.stats.to_dict()["records"] == {
        "remediated": 1,
        "still_invalid": 1,
        "unchanged": 1,
    }
    assert remediation.stats.by_contract[("signup", RecordOutcome.REMEDIATED)] == 1


def test_an_unknown_contract_is_not_attempted(registry: ContractRegistry) -> None:
    signup = registry.find("signup")
    assert signup is not None
    result = signup.validate_batch([b'{"email":"A@B.C","age":"2"}'])
    assert attempt_invalid(Remediation(), result, lambda ref: None) == {}
