"""Routing by topic or _schema, and the key of valid messages."""

from __future__ import annotations

import orjson
import pytest

from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR
from dataquarantine.errors import ContractNotFoundError
from dataquarantine.stream.routing import TopicRouting, key_bytes
from dataquarantine.validation.registry import ContractRegistry


@pytest.fixture(scope="module")
def registry() -> ContractRegistry:
    return ContractRegistry.from_directory(DEMO_CONTRACTS_DIR)


@pytest.mark.parametrize(
    ("value", "path", "key"),
    [
        ({"user_id": "USER000001"}, ("user_id",), b"USER000001"),
        ({"a": {"b": 7}}, ("a", "b"), b"7"),
        ({"a": [1, {"b": True}]}, ("a", "1", "b"), b"true"),
        ({"a": {"b": [1, 2]}}, ("a", "b"), b"[1,2]"),
        ({"a": 2**70}, ("a",), str(2**70).encode()),
        ({"a": "\ud800"}, ("a",), "\ud800".encode("utf-8", "surrogatepass")),
        ({"a": None}, ("a",), None),
        ({}, ("a",), None),
        ([1], ("a",), None),
    ],
)
def test_key_bytes(value: object, path: tuple[str, ...], key: bytes | None) -> None:
    assert key_bytes(value, path) == key


def test_topic_mapping_forces_a_contract(registry: ContractRegistry) -> None:
    routing = TopicRouting(registry, topic_contracts={"pv": "page_view"})
    raw = orjson.dumps({"_schema": "user_event", "view_id": "x"})
    result = routing.validate(["pv", "other", "pv"], [raw, raw, b"not json"])
    assert result.contracts[0] is not None and result.contracts[0].name == "page_view"
    assert result.contracts[1] is not None and result.contracts[1].name == "user_event"
    assert result.contracts[2] is not None and result.contracts[2].name == "page_view"
    assert set(result.invalid) == {0, 1, 2}
    assert result.invalid[2].errors[0].code.value == "parse_error"
    assert routing.keep_values


def test_unknown_mapped_contract_is_refused(registry: ContractRegistry) -> None:
    with pytest.raises(ContractNotFoundError):
        TopicRouting(registry, topic_contracts={"t": "nope"})
