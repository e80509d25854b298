"""The sample event generator: deterministic, ~5% bad over every kind of failure, and every
record really is what its ``expected`` label says.

The labels are checked with an oracle independent of the engine: python-jsonschema (with
ECMA-262 ``pattern`` semantics and explicit format checks) for the contract schemas and the
CEL interpreter alone (``Expression``, never the rule engine's compiled fast path) for the
contract rules.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataquarantine.contracts.model import ContractSpec
from dataquarantine.demo.generator import (
    BAD_VARIANTS,
    CURRENCIES,
    DEMO_CONTRACTS_DIR,
    EXPECTED_KINDS,
    FAILURE_KINDS,
    GeneratedRecord,
    generate,
    write_jsonl,
)
from dataquarantine.errors import RuleEvaluationError
from dataquarantine.validation.rules import Expression

# -- the oracle --------------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z", re.ASCII
)
_UUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\Z")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+\Z")

_FORMATS = jsonschema.FormatChecker(formats=())


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))  # raises on 2024-02-30
    return True


def _uuid(value: object) -> bool:
    return not isinstance(value, str) or _UUID.match(value) is not None


def _email(value: object) -> bool:
    return not isinstance(value, str) or _EMAIL.match(value) is not None


_FORMATS.checks("date-time", raises=ValueError)(_date_time)
_FORMATS.checks("uuid")(_uuid)
_FORMATS.checks("email")(_email)


@cache
def _ecma(pattern: str) -> re.Pattern[str]:
    # ECMA-262 `$` (no multiline flag) matches only at the very end; Python's also matches
    # before a final "\n". Our patterns use `$` only as that anchor.
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern))


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    if validator.is_type(instance, "string") and not _ecma(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


class _Rule:
    """One rule through the interpreter: ``execute`` is its value, or ``None`` on an error."""

    def __init__(self, expr: str) -> None:
        self._expression = Expression(expr)

    def execute(self, variables: dict[str, Any]) -> Any:
        try:
            return self._expression.evaluate(variables["record"])
        except RuleEvaluationError:
            return None


@dataclass
class _Contract:
    spec: ContractSpec
    schema: Any
    validator: Any
    rules: list[tuple[str, str, Any]]  # (id, severity, compiled CEL program)


@dataclass
class _Verdict:
    kind: str
    warnings: list[str] = field(default_factory=list)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


class Oracle:
    """Classifies raw lines the way the contracts say they must be classified."""

    def __init__(self, directory: Path) -> None:
        self.contracts: dict[str, dict[str, _Contract]] = {}
        for path in sorted(directory.glob("*.yaml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            spec = ContractSpec.model_validate({**data, "source_path": path})
            if spec.schema_file is not None:
                schema = json.loads((path.parent / spec.schema_file).read_text(encoding="utf-8"))
            else:
                schema = spec.schema_
            base = jsonschema.validators.validator_for(schema)
            base.check_schema(schema)
            cls = jsonschema.validators.extend(base, {"pattern": _ecma_pattern})
            rules = [(r.id, r.severity.value, _Rule(r.expr)) for r in spec.rules]
            contract = _Contract(spec, schema, cls(schema, format_checker=_FORMATS), rules)
            self.contracts.setdefault(spec.name, {})[str(spec.version)] = contract

    def find(self, ref: str) -> _Contract | None:
        name, _, version = ref.partition("@")
        versions = self.contracts.get(name, {})
        if not versions:
            return None
        if not version:
            version = max(versions, key=_version_key)
        return versions.get(version)

    def classify(self, raw: bytes) -> _Verdict:
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _Verdict("parse_error")
        tag = value.get("_schema") if isinstance(value, dict) else None
        contract = self.find(tag) if isinstance(tag, str) else None
        if contract is None:
            return _Verdict("schema_not_found")
        if any(True for _ in contract.validator.iter_errors(value)):
            return _Verdict("schema_violation")
        verdict = _Verdict("valid")
        for rule_id, severity, program in contract.rules:
            if program.execute({"record": value}) is not True:
                if severity == "error":
                    verdict.kind = "rule_violation"
                else:
                    verdict.warnings.append(rule_id)
        return verdict


@pytest.fixture(scope="module")
def oracle() -> Oracle:
    return Oracle(DEMO_CONTRACTS_DIR)


@pytest.fixture(scope="module")
def ten_k() -> list[GeneratedRecord]:
    return list(generate(10_000, seed=42))


# -- the contracts -----------------------------------------------------------------------------


def test_demo_contracts_are_complete_and_well_formed(oracle: Oracle) -> None:
    assert {n: sorted(v) for n, v in oracle.contracts.items()} == {
        "page_view": ["1.0.0"],
        "user_event": ["1.0.0", "1.1.0"],
    }
    assert oracle.find("user_event") is oracle.contracts["user_event"]["1.1.0"]
    for versions in oracle.contracts.values():
        for c in versions.values():
            assert 2 <= len(c.rules) <= 4
            assert [s for _, s, _ in c.rules].count("warn") == 1
    page_view = oracle.contracts["page_view"]["1.0.0"]
    assert page_view.spec.schema_file == "page_view.schema.json"
    assert page_view.schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    user_event = oracle.contracts["user_event"]["1.0.0"]
    assert user_event.schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_currency_rule_matches_the_generator(oracle: Oracle) -> None:
    rule = next(
        r for r in oracle.contracts["user_event"]["1.1.0"].rules if r[0] == "currency_supported"
    )
    for code in CURRENCIES:
        assert rule[2].execute({"record": {"currency": code}}) is True
    assert rule[2].execute({"record": {"currency": "usd"}}) is False


def test_user_event_1_1_is_backward_compatible(
    oracle: Oracle, ten_k: list[GeneratedRecord]
) -> None:
    old = oracle.contracts["user_event"]["1.0.0"].validator
    new = oracle.contracts["user_event"]["1.1.0"].validator
    checked = 0
    for rec in ten_k:
        value = orjson.loads(rec.raw) if rec.expected != "parse_error" else None
        if isinstance(value, dict) and old.is_valid(value):
            assert new.is_valid(value), rec.raw
            checked += 1
    assert checked > 1000


def test_the_python_regex_trap_is_real(oracle: Oracle) -> None:
    """Stock python-jsonschema accepts "USER123456\\n" for ^USER[0-9]{6}$; ECMA-262 does not."""
    schema = oracle.contracts["user_event"]["1.1.0"].schema["properties"]["user_id"]
    assert jsonschema.Draft202012Validator(schema).is_valid("USER123456\n")
    assert not oracle.contracts["user_event"]["1.1.0"].validator.is_valid(
        {"user_id": "USER123456\n"}
    )


# -- the generator -----------------------------------------------------------------------------


def test_same_seed_same_records_other_seed_other_records() -> None:
    a = list(generate(3000, seed=7))
    assert a == list(generate(3000, seed=7))
    assert a != list(generate(3000, seed=8))


def test_about_five_percent_are_bad(ten_k: list[GeneratedRecord]) -> None:
    bad = sum(r.expected != "valid" for r in ten_k)
    assert 0.04 <= bad / len(ten_k) <= 0.06


@pytest.mark.parametrize("ratio", [0.0, 0.2, 1.0])
def test_bad_ratio_is_honoured(ratio: float) -> None:
    records = list(generate(2000, bad_ratio=ratio, seed=3))
    bad = sum(r.expected != "valid" for r in records) / len(records)
    assert abs(bad - ratio) <= 0.03


def test_every_failure_kind_and_variant_shows_up_in_10k(ten_k: list[GeneratedRecord]) -> None:
    kinds = Counter(r.expected for r in ten_k)
    assert set(kinds) == set(EXPECTED_KINDS)
    assert all(kinds[k] >= 10 for k in FAILURE_KINDS)
    variants = {r.variant for r in ten_k if r.expected != "valid"}
    assert variants == {name for name, _, _ in BAD_VARIANTS}
    for name, kind, _ in BAD_VARIANTS:
        assert kind in FAILURE_KINDS, name
    valid = Counter(r.variant for r in ten_k if r.expected == "valid")
    assert {"user_event", "user_event@1.0.0", "user_event@1.1.0", "page_view"} <= set(valid)
    assert valid["warn_signup_without_email"] > 0
    assert valid["warn_long_page_view"] > 0


def test_each_record_is_one_line(ten_k: list[GeneratedRecord]) -> None:
    for rec in ten_k:
        assert rec.raw
        assert b"\n" not in rec.raw and b"\r" not in rec.raw, rec
        assert rec.raw.strip(b" \t") == rec.raw


def test_records_are_what_they_claim(oracle: Oracle, ten_k: list[GeneratedRecord]) -> None:
    wrong = []
    for rec in ten_k:
        verdict = oracle.classify(rec.raw)
        if verdict.kind != rec.expected:
            wrong.append((rec.variant, rec.expected, verdict.kind, rec.raw[:200]))
            continue
        if rec.variant.startswith("warn_"):
            assert verdict.warnings, rec
        elif rec.expected == "valid":
            assert not verdict.warnings, (rec, verdict.warnings)
    assert not wrong, wrong[:5]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(min_value=0, max_value=2**63), ratio=st.floats(0.0, 1.0))
def test_any_seed_gives_truthful_labels(oracle: Oracle, seed: int, ratio: float) -> None:
    for rec in generate(150, bad_ratio=ratio, seed=seed):
        assert oracle.classify(rec.raw).kind == rec.expected, rec


def test_parse_errors_are_realistic_not_just_garbage(ten_k: list[GeneratedRecord]) -> None:
    """Most planted parse errors are near-misses of a real event, not random bytes."""
    near = [r for r in ten_k if r.expected == "parse_error" and b"USER" in r.raw]
    assert len(near) >= 0.7 * sum(r.expected == "parse_error" for r in ten_k)


def test_write_jsonl_streams_the_same_records(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    counts = write_jsonl(path, 20_000, seed=11)
    expected = list(generate(20_000, seed=11))
    data = path.read_bytes()
    assert data == b"".join(r.raw + b"\n" for r in expected)
    assert counts == {k: sum(r.expected == k for r in expected) for k in EXPECTED_KINDS}
    assert sum(counts.values()) == 20_000


def test_write_jsonl_of_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    assert write_jsonl(path, 0) == dict.fromkeys(EXPECTED_KINDS, 0)
    assert path.read_bytes() == b""


@pytest.mark.parametrize(("n", "ratio"), [(-1, 0.05), (10, -0.1), (10, 1.5)])
def test_bad_arguments_are_refused(n: int, ratio: float) -> None:
    with pytest.raises(ValueError):
        list(generate(n, bad_ratio=ratio))
