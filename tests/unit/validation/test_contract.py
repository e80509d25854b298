"""The public engine API: Contract.validate / validate_batch, through every kind."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataquarantine import Contract, ErrorCode
from dataquarantine.errors import RuleCompileError, SchemaCompileError

SCHEMA = {
    "type": "object",
    "required": ["user_id", "event_type", "timestamp"],
    "properties": {
        "user_id": {"type": "string", "pattern": "^USER[0-9]{6}$"},
        "event_type": {"enum": ["click", "purchase"]},
        "timestamp": {"type": "string", "format": "date-time"},
        "amount": {"type": "number", "minimum": 0},
        "name": {"type": "string"},
    },
}
RULES = [
    {
        "id": "purchase_needs_product",
        "expr": "record.event_type != 'purchase' || has(record.product_id)",
        "message": "purchase events must carry product_id",
        "field": "product_id",
    },
    {
        "id": "small_amount",
        "expr": "!has(record.amount) || record.amount < 1000",
        "severity": "warn",
    },
]
GOOD = {"user_id": "USER123456", "event_type": "click", "timestamp": "2024-05-01T10:00:00Z"}


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract.from_dict(
        {"name": "user_event", "version": "1.0.0", "schema": SCHEMA, "rules": RULES}
    )


def test_valid_record_bytes_and_value(contract: Contract) -> None:
    for record in (GOOD, orjson.dumps(GOOD)):
        result = contract.validate(record)
        assert result.valid and result.errors == () and result.value == GOOD
        assert str(result.contract) == "user_event@1.0.0"


def test_every_violation_is_collected_with_code_path_and_rule(contract: Contract) -> None:
    record = {"user_id": "USER123456\n", "event_type": "purchase", "timestamp": "2024-05-01"}
    result = contract.validate(record)
    assert not result.valid
    got = {(v.code, v.path, v.rule) for v in result.errors}
    assert got == {
        (ErrorCode.SCHEMA_VIOLATION, "/user_id", None),
        (ErrorCode.SCHEMA_VIOLATION, "/timestamp", None),
        (ErrorCode.RULE_VIOLATION, "/product_id", "purchase_needs_product"),
    }
    rule = next(v for v in result.errors if v.rule)
    assert rule.message == "purchase events must carry product_id"


def test_missing_required_points_at_the_property(contract: Contract) -> None:
    result = contract.validate({"event_type": "click"})
    paths = sorted(v.path for v in result.errors if v.keyword == "required")
    assert paths == ["/timestamp", "/user_id"]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"user_id": "USER123456",}',
        b'{"amount": NaN}',
        b'{"amount": Infinity}',
        b'{"name": "\xff\xfe"}',
        b"[" * 5000 + b"]" * 5000,
        b'{"a": 1} trailing',
        b"",
        b"\x00\x01",
    ],
)
def test_parse_traps_give_parse_error_never_a_crash(contract: Contract, raw: bytes) -> None:
    result = contract.validate(raw)
    assert not result.valid
    assert [v.code for v in result.errors] == [ErrorCode.PARSE_ERROR]


def test_numbers_are_never_turned_into_strings(contract: Contract) -> None:
    result = contract.validate({**GOOD, "name": 123})
    assert [(v.code, v.path) for v in result.errors] == [(ErrorCode.SCHEMA_VIOLATION, "/name")]


def test_big_integers_stay_exact() -> None:
    c = Contract.from_dict(
        {"name": "n", "version": "1.0.0", "schema": {"maximum": 18446744073709551615}}
    )
    assert c.validate(b"18446744073709551615").valid
    result = c.validate(b"[18446744073709551616]")  # array: not checked by `maximum`
    assert result.valid and result.value == [18446744073709551616]
    assert not c.validate(b"18446744073709551616").valid


def test_warn_rules_pass_but_are_flagged(contract: Contract) -> None:
    result = contract.validate({**GOOD, "amount": 5000})
    assert result.valid
    assert [v.rule for v in result.warnings] == ["small_amount"]


def test_batch_agrees_with_single_validation(contract: Contract) -> None:
    records = [
        orjson.dumps(GOOD),
        b"{broken",
        orjson.dumps({**GOOD, "event_type": "purchase"}),
        orjson.dumps({**GOOD, "amount": 5000}),
        orjson.dumps({**GOOD, "amount": -1}),
    ]
    batch = contract.validate_batch(records)
    assert batch.size == 5 and batch.valid_count == 2
    assert sorted(batch.invalid) == [1, 2, 4]
    assert batch.warnings == {3: contract.validate(records[3]).warnings}
    for i, raw in enumerate(records):
        single = contract.validate(raw)
        assert batch.result(i).valid == single.valid
        assert batch.result(i).errors == single.errors


def test_non_json_python_values_do_not_crash(contract: Contract) -> None:
    result = contract.validate({1, 2})
    assert not result.valid and result.errors[0].code in (
        ErrorCode.SYSTEM_ERROR,
        ErrorCode.SCHEMA_VIOLATION,
    )


def test_bad_contracts_fail_fast() -> None:
    with pytest.raises(SchemaCompileError):
        Contract.from_dict({"name": "x", "version": "1.0.0", "schema": {"type": "strin"}})
    with pytest.raises(RuleCompileError, match="broken"):
        Contract.from_dict(
            {
                "name": "x",
                "version": "1.0.0",
                "schema": {},
                "rules": [{"id": "broken", "expr": "record.a =="}],
            }
        )


def test_from_file_with_schema_file(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(orjson.dumps(SCHEMA).decode())
    path = tmp_path / "c.yaml"
    path.write_text("name: user_event\nversion: 2.0.0\nschema_file: s.json\n")
    c = Contract.from_file(path)
    assert c.version == "2.0.0" and c.validate(GOOD).valid


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, st.fixed_dictionaries({}, optional={k: json_values for k in GOOD})))
def test_any_value_gets_a_verdict_and_never_raises(value: object) -> None:
    c = Contract.from_dict(
        {"name": "user_event", "version": "1.0.0", "schema": SCHEMA, "rules": RULES}
    )
    result = c.validate(value)
    assert result.valid == (result.errors == ())
    batch = c.validate_batch([json.dumps(value).encode()])
    assert batch.result(0).valid == result.valid


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_get_a_verdict_and_never_raise(raw: bytes) -> None:
    c = Contract.from_dict({"name": "x", "version": "1.0.0", "schema": SCHEMA, "rules": RULES})
    result = c.validate(raw)
    assert result.valid == (result.errors == ())
