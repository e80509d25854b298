"""At most MAX_VIOLATIONS violations per record, then one summary; bounded for every kind."""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.unit.validation.test_schema_cost import EXPLOSIVE, RECURSIVE, doubling, nested_doubling

from dataquarantine import Contract, ErrorCode
from dataquarantine.contracts.loader import spec_from_dict
from dataquarantine.kernel.results import MAX_VIOLATIONS, TRUNCATED, ValidationResult


def bypassed(schema: Any, **extra: Any) -> Contract:
    """A contract compiled without the cost check (as a trusted caller may)."""
    spec = spec_from_dict({"name": "c", "version": "1.0.0", "schema": schema, **extra})
    return Contract(spec, max_fanout=None)


def assert_capped(result: ValidationResult) -> None:
    assert not result.valid
    assert len(result.errors) <= MAX_VIOLATIONS + 1
    assert not result.complete
    summary = result.errors[-1]
    assert summary.keyword == TRUNCATED
    assert summary.path == ""
    assert all(v.keyword != TRUNCATED for v in result.errors[:-1])


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_wide_record_lists_100_violations_and_counts_the_rest() -> None:
    contract = Contract.from_dict(
        {"name": "c", "version": "1.0.0", "schema": {"items": {"type": "string"}}}
    )
    result = contract.validate(list(range(250)))
    assert_capped(result)
    assert len(result.errors) == MAX_VIOLATIONS + 1
    assert [v.path for v in result.errors[:3]] == ["/0", "/1", "/2"]
    assert result.truncated == 150
    summary = result.errors[-1]
    assert summary.code is ErrorCode.SCHEMA_VIOLATION
    assert "150 more violation(s) not listed" in summary.message


def test_exactly_100_violations_are_not_truncated() -> None:
    contract = Contract.from_dict(
        {"name": "c", "version": "1.0.0", "schema": {"items": {"type": "string"}}}
    )
    result = contract.validate(list(range(MAX_VIOLATIONS)))
    assert len(result.errors) == MAX_VIOLATIONS
    assert result.truncated == 0
    assert result.complete


def test_the_issue_schema_bypassing_the_check_is_fast_and_bounded() -> None:
    contract = bypassed(doubling(30))
    before = peak_rss_mib()
    started = time.perf_counter()
    result = contract.validate(b"1")
    assert time.perf_counter() - started < 2.0
    assert peak_rss_mib() - before < 200
    assert_capped(result)
    assert result.errors[0].message == '1 is not of type "string"'
    assert "not looked for" in result.errors[-1].message


@pytest.mark.parametrize(
    ("schema", "record"),
    [
        (doubling(16, "anyOf"), 1),
        (doubling(16, "oneOf"), 1),
        (nested_doubling(20, "items"), orjson.loads(b"[" * 20 + b"1" + b"]" * 20)),
        (nested_doubling(20, "patternProperties"), orjson.loads(b'{"a":' * 20 + b"1" + b"}" * 20)),
        (nested_doubling(20, "properties"), orjson.loads(b'{"a":' * 20 + b"1" + b"}" * 20)),
        (RECURSIVE, orjson.loads(b'{"a":' * 20 + b"1" + b"}" * 20)),
    ],
    ids=["anyOf", "oneOf", "items", "patternProperties", "properties", "recursive"],
)
def test_explosive_variants_bypassing_the_check_are_bounded(schema: Any, record: Any) -> None:
    contract = bypassed(schema)
    before = peak_rss_mib()
    started = time.perf_counter()
    result = contract.validate(record)
    assert time.perf_counter() - started < 5.0
    assert peak_rss_mib() - before < 200
    assert_capped(result)


def test_a_huge_record_is_not_enumerated_in_full() -> None:
    contract = Contract.from_dict(
        {"name": "c", "version": "1.0.0", "schema": {"items": {"type": "string"}}}
    )
    started = time.perf_counter()
    result = contract.validate(list(range(300_000)))
    assert time.perf_counter() - started < 5.0
    assert_capped(result)
    assert result.errors[0].path == "/0"
    assert "not looked for" in result.errors[-1].message


def test_rules_count_toward_the_cap() -> None:
    rules = [{"id": f"r{i}", "expr": "false"} for i in range(120)]
    contract = Contract.from_dict({"name": "c", "version": "1.0.0", "schema": {}, "rules": rules})
    result = contract.validate({})
    assert_capped(result)
    assert result.truncated == 20
    assert result.errors[-1].code is ErrorCode.RULE_VIOLATION


def test_batches_are_capped_too() -> None:
    contract = Contract.from_dict(
        {"name": "c", "version": "1.0.0", "schema": {"items": {"type": "string"}}}
    )
    batch = contract.validate_batch([b"[]", orjson.dumps(list(range(500)))])
    assert batch.is_valid(0)
    assert_capped(batch.result(1))
    assert batch.result(1).truncated == 400


def test_avro_records_are_capped() -> None:
    schema = {"type": "array", "items": "int"}
    spec = spec_from_dict(
        {
            "name": "c",
            "version": "1.0.0",
            "format": "avro",
            "schema": schema,
            "avro_encoding": "json",
        }
    )
    result = Contract(spec).validate(orjson.dumps(["x"] * 300))
    assert_capped(result)
    assert result.truncated == 200
    assert result.errors[0].path == "/0"


def test_model_records_are_capped() -> None:
    contract = Contract.from_dict(
        {"name": "c", "version": "1.0.0", "model": "tests.unit.validation.fixtures_models:Order"}
    )
    record = {
        "order_id": "o",
        "name": "n",
        "quantity": 1,
        "meta": {f"k{i}": "x" for i in range(300)},
    }
    result = contract.validate(record)
    assert_capped(result)
    assert result.truncated == 200


@pytest.mark.parametrize("name", [n for n in EXPLOSIVE if "doubling" in n and "allOf" in n])
def test_the_summary_is_stored_like_any_violation(name: str) -> None:
    result = bypassed(EXPLOSIVE[name]).validate(1)
    data = [v.to_dict() for v in result.errors]
    assert data[-1]["keyword"] == TRUNCATED
    assert data[-1]["code"] == "schema_violation"


def test_avro_unions_of_look_alike_records_stay_linear() -> None:
    # Two records of the same shape in one recursive union: every level used to try both
    # branches all the way down (2 ** depth checks) before giving up.
    twin = {"type": "record", "name": "B", "fields": [{"name": "x", "type": ["null", "A", "B"]}]}
    schema = {"type": "record", "name": "A", "fields": [{"name": "x", "type": ["null", "A", twin]}]}
    spec = spec_from_dict(
        {
            "name": "c",
            "version": "1.0.0",
            "format": "avro",
            "schema": schema,
            "avro_encoding": "json",
        }
    )
    contract = Contract(spec)
    deep = b'{"x": ' * 60 + b"5" + b"}" * 60
    started = time.perf_counter()
    result = contract.validate(deep)
    assert time.perf_counter() - started < 1.0
    assert not result.valid
    assert contract.validate(b'{"x": ' * 60 + b"null" + b"}" * 60).valid


def test_a_huge_record_under_anyof_gets_one_whole_record_violation(tmp_path: Path) -> None:
    # The first anyOf error would carry every error of every branch: not asked for.
    (tmp_path / "branches.json").write_text(
        '{"anyOf": [{"items": {"type": "string"}}, {"type": "object"}]}'
    )
    for schema in (
        {"anyOf": [{"items": {"type": "string"}}, {"type": "object"}]},
        {"$ref": "branches.json"},  # the anyOf is in a referenced file
    ):
        contract = Contract.from_dict(
            {"name": "c", "version": "1.0.0", "schema": schema}, base_dir=tmp_path
        )
        before = peak_rss_mib()
        started = time.perf_counter()
        result = contract.validate(list(range(300_000)))
        assert time.perf_counter() - started < 5.0
        assert peak_rss_mib() - before < 200
        assert_capped(result)
        assert [v.path for v in result.errors] == ["", ""]
        assert "300000" not in result.errors[-1].message
