# ruff: noqa: E501 - the suite's test ids are long, and the table reads best unwrapped
"""The official cel-spec conformance tests (``tests/simple/testdata``), through the public API.

Every test of the files in :data:`FILES` is one pytest item. A test's bindings become fields
of ``record`` (its identifiers are rewritten to ``record.NAME`` token by token, never by text
replacement) after a round trip through JSON, exactly as a decoded record would carry them.
The expression is evaluated with ``Expression(source).evaluate(record)``; a test that expects
a bool, or an error, is also checked as a contract rule (``Contract.validate``): ``true`` is a
valid record, ``false`` and an error a ``rule_violation``.

Tests whose inputs or result a JSON record cannot carry (uint, bytes, NaN or non-string-keyed
bindings, protobuf messages and enums, containers, type-check-only and unknown-set tests) are
skipped with the reason, by :func:`inexpressible`. Deliberate deviations are listed in
:data:`EXPECTED_FAILURES` (id -> reason): a listed test that passes fails the run, like a
failure that is not listed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson
import pytest
from tests.conformance.conftest import INEXPRESSIBLE, Suite
from tests.conformance.textproto import Message, parse

from dataquarantine import Contract, ErrorCode
from dataquarantine.errors import RuleCompileError, RuleEvaluationError
from dataquarantine.validation.rules import CelType, Duration, Expression, Timestamp, UInt
from dataquarantine.validation.rules.parser import RESERVED, CelSyntaxError, tokenize
from dataquarantine.validation.rules.values import NANOS, map_key

CEL_SPEC = Suite(
    "cel-spec conformance files", "DQ_CEL_SPEC_SUITE", "cel-spec", "tests/simple/testdata"
)
FILES = (
    "basic",
    "comparisons",
    "conversions",
    "fields",
    "fp_math",
    "integer_math",
    "lists",
    "logic",
    "macros",
    "parse",
    "plumbing",
    "string",
    "string_ext",
    "timestamps",
)


SUITE = CEL_SPEC.root()

_CHECKED = "rules compile in a checked environment: an undeclared variable is a compile error, not a runtime error for `|| true` to absorb (the test disables the check)"
_CHECKED_FN = "rules compile in a checked environment: an unknown function is a compile error, not a runtime error for `|| true` to absorb (the test disables the check)"
_RESERVED = "the reserved word parses as a receiver function name; the test then calls it on an undeclared variable, a compile error in a checked environment"

_NO_FORMAT = "the strings extension's format() and quote() are not implemented (every other function of it is)"
#: Sections (``<file>/<section>``) of functions not implemented: skipped with the reason.
UNIMPLEMENTED: dict[str, str] = {
    "string_ext/quote": _NO_FORMAT,
    "string_ext/format": _NO_FORMAT,
    "string_ext/format_errors": _NO_FORMAT,
}

#: Test id -> why it fails. Ids are ``<file>/<section>/<test>``.
EXPECTED_FAILURES: dict[str, str] = {
    "basic/variables/unbound_is_runtime_error": _CHECKED,
    "basic/functions/unbound_is_runtime_error": _CHECKED_FN,
    "parse/receiver_function_names/as": _RESERVED,
    "parse/receiver_function_names/break": _RESERVED,
    "parse/receiver_function_names/const": _RESERVED,
    "parse/receiver_function_names/continue": _RESERVED,
    "parse/receiver_function_names/else": _RESERVED,
    "parse/receiver_function_names/for": _RESERVED,
    "parse/receiver_function_names/function": _RESERVED,
    "parse/receiver_function_names/if": _RESERVED,
    "parse/receiver_function_names/import": _RESERVED,
    "parse/receiver_function_names/let": _RESERVED,
    "parse/receiver_function_names/loop": _RESERVED,
    "parse/receiver_function_names/package": _RESERVED,
    "parse/receiver_function_names/namespace": _RESERVED,
    "parse/receiver_function_names/return": _RESERVED,
    "parse/receiver_function_names/var": _RESERVED,
    "parse/receiver_function_names/void": _RESERVED,
    "parse/receiver_function_names/while": _RESERVED,
}


# -- collection --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpecTest:
    id: str
    file: str
    section: int
    index: int


@cache
def _load(file: str) -> Message:
    assert SUITE is not None
    path = SUITE / "tests" / "simple" / "testdata" / f"{file}.textproto"
    return parse(path.read_text(encoding="utf-8"))


def _text(message: Message, field: str, default: str = "") -> str:
    values = message.get(field)
    return values[0].decode("utf-8") if values else default


def _collect() -> Iterator[SpecTest]:
    if SUITE is None:
        return
    for file in FILES:
        for si, section in enumerate(_load(file).get("section", [])):
            for ti, test in enumerate(section.get("test", [])):
                tid = f"{file}/{_text(section, 'name')}/{_text(test, 'name')}"
                yield SpecTest(tid, file, si, ti)


def _test(t: SpecTest) -> Message:
    test: Message = _load(t.file)["section"][t.section]["test"][t.index]
    return test


# -- values --------------------------------------------------------------------------------------


class NotCarried(Exception):
    """A value the record model (decoded JSON) cannot carry."""


_OBJECT_TYPES = {
    "type.googleapis.com/google.protobuf.Timestamp": "timestamp",
    "type.googleapis.com/google.protobuf.Duration": "duration",
}


def cel_value(value: Message) -> Any:
    """A ``cel.expr.Value`` as the CEL value :class:`Expression` returns."""
    ((kind, (item,)),) = value.items() if value else (("null_value", (None,)),)
    match kind:
        case "null_value":
            return None
        case "bool_value":
            return item == "true" or item is True
        case "int64_value":
            return int(item)
        case "uint64_value":
            return UInt(item)
        case "double_value":
            return float(item)
        case "string_value":
            return item.decode("utf-8")
        case "bytes_value":
            return bytes(item)
        case "type_value":
            return CelType(item.decode("utf-8"))
        case "list_value":
            return [cel_value(v) for v in item.get("values", [])]
        case "map_value":
            out: dict[object, Any] = {}
            for entry in item.get("entries", []):
                out[map_key(cel_value(entry["key"][0]))] = cel_value(entry["value"][0])
            return out
        case "object_value":
            ((url, (body,)),) = item.items()
            kind_name = _OBJECT_TYPES.get(url)
            seconds = int(body.get("seconds", [0])[0])
            nanos = int(body.get("nanos", [0])[0])
            if kind_name == "timestamp":
                return Timestamp(seconds, nanos)
            if kind_name == "duration":
                return Duration(seconds * NANOS + nanos)
            raise NotCarried(f"a protobuf message ({url.rsplit('/', 1)[-1]})")
        case "enum_value":
            raise NotCarried("a protobuf enum value")
    raise NotCarried(f"a {kind} value")


def json_value(value: Message) -> Any:
    """A binding as a JSON record carries it, or :class:`NotCarried` with the reason."""
    ((kind, (item,)),) = value.items() if value else (("null_value", (None,)),)
    match kind:
        case "uint64_value":
            raise NotCarried("a uint binding: a JSON integer within int64 is an int")
        case "bytes_value":
            raise NotCarried("a bytes binding: JSON has no bytes")
        case "double_value" if not math.isfinite(float(item)):
            raise NotCarried("a NaN or infinite double binding: not JSON")
        case "list_value":
            return [json_value(v) for v in item.get("values", [])]
        case "map_value":
            out: dict[str, Any] = {}
            for entry in item.get("entries", []):
                key = cel_value(entry["key"][0])
                if not isinstance(key, str):
                    raise NotCarried("a map binding with non-string keys: JSON keys are strings")
                out[key] = json_value(entry["value"][0])
            return out
        case "type_value":
            raise NotCarried("a type binding: JSON has no type values")
    found = cel_value(value)
    if isinstance(found, Timestamp | Duration):
        raise NotCarried("a timestamp or duration binding: JSON has them only as strings")
    return found


def same(a: Any, b: Any) -> bool:
    """Type-strict CEL value equality (NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


# -- what a record cannot express ----------------------------------------------------------------


def inexpressible(test: Message) -> str | None:
    """Why the test cannot run through a JSON record, or ``None`` when it can."""
    if _text(test, "check_only") == "true" or test.get("check_only") == ["true"]:
        return "a type-check-only test: rules are evaluated, their types are not reported"
    if "unknown" in test or "any_unknowns" in test:
        return "partial evaluation (unknown sets): a record is always complete"
    if _text(test, "container"):
        return "a container (namespace): a rule has none; types and enums of a package are protobuf"
    bound = {_text(b, "key") for b in test.get("bindings", [])}
    for decl in test.get("type_env", []):
        if "function" in decl:
            return "a custom function declaration: rules use CEL's standard functions only"
        if _text(decl, "name") not in bound:
            return "a variable declared without a value: a type-check test"
    for binding in test.get("bindings", []):
        name = _text(binding, "key")
        if not name.isidentifier() or "." in name:
            return "a qualified variable name: the record's fields are plain names"
        expr_value = binding["value"][0]
        if "value" not in expr_value:
            return "a binding that is not a value (an error or unknown)"
        try:
            json_value(expr_value["value"][0])
        except NotCarried as exc:
            return str(exc)
    expected = test.get("value") or test.get("typed_result", [{}])[0].get("result")
    if expected:
        try:
            cel_value(expected[0])
        except NotCarried as exc:
            return f"the result is {exc}: records are JSON"
    try:
        tokens = tokenize(_text(test, "expr"))
    except CelSyntaxError:
        return None
    for tok, nxt in itertools.pairwise(tokens):
        construction = tok.kind == "ident" and tok.text not in RESERVED
        if construction and nxt.kind == "op" and nxt.text == "{":
            return "protobuf message construction: records are JSON"
    return None


def rewrite(expr: str, names: set[str]) -> str:
    """``expr`` with every free use of a binding ``NAME`` read as ``record.NAME``."""
    if not names:
        return expr
    tokens = tokenize(expr)
    out: list[str] = []
    last = 0
    previous = None
    for tok in tokens:
        after_dot = previous is not None and previous.kind == "op" and previous.text == "."
        literal = tok.text in ("true", "false", "null")  # never shadowed by a binding
        if tok.kind == "ident" and tok.text in names and not after_dot and not literal:
            out.append(expr[last : tok.pos])
            out.append(f"record.{tok.text}")
            last = tok.pos + len(tok.text)
        previous = tok
    out.append(expr[last:])
    return "".join(out)


# -- running -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    value: Any = None
    error: str | None = None


def run(test: Message) -> tuple[str, dict[str, Any], Outcome]:
    names = {_text(b, "key") for b in test.get("bindings", [])}
    record: dict[str, Any] = {}
    for binding in test.get("bindings", []):
        value = json_value(binding["value"][0]["value"][0])
        record[_text(binding, "key")] = orjson.loads(orjson.dumps(value))
    try:
        source = rewrite(_text(test, "expr"), names)
    except CelSyntaxError as exc:
        return _text(test, "expr"), record, Outcome(error=f"syntax error: {exc}")
    try:
        return source, record, Outcome(value=Expression(source).evaluate(record))
    except (RuleCompileError, RuleEvaluationError) as exc:
        return source, record, Outcome(error=f"{type(exc).__name__}: {exc}")


def verdict(source: str, record: dict[str, Any]) -> bool:
    contract = Contract.from_dict(
        {"name": "spec", "version": "1.0.0", "schema": {}, "rules": [{"id": "r", "expr": source}]}
    )
    result = contract.validate(record)
    assert {e.code for e in result.errors} <= {ErrorCode.RULE_VIOLATION}, result.errors
    return result.valid


def check(test: Message) -> str | None:
    """``None`` when the implementation passes the test, else what went wrong."""
    source, record, got = run(test)
    expects_error = "eval_error" in test or "any_eval_errors" in test
    if expects_error:
        if got.error is None:
            return f"expected an error, got {got.value!r}"
        if not got.error.startswith("RuleCompileError") and verdict(source, record):
            return "the error passes as a valid record"
        return None
    expected_msg = test.get("value") or test.get("typed_result", [{}])[0].get("result")
    expected = cel_value(expected_msg[0]) if expected_msg else True
    if got.error is not None:
        return f"expected {expected!r}, got {got.error}"
    if not same(got.value, expected):
        return f"expected {expected!r}, got {got.value!r}"
    if isinstance(expected, bool) and verdict(source, record) is not expected:
        return f"Contract.validate disagrees with the value {expected!r}"
    return None


TESTS = list(_collect())


def test_suite_is_present() -> None:
    if SUITE is None:
        CEL_SPEC.missing()
    assert TESTS, "the suite folder has no tests"
    assert {t.file for t in TESTS} == set(FILES)


def test_expected_failures_exist() -> None:
    """A stale entry (test renamed or removed upstream) must not linger in the list."""
    if SUITE is None:
        CEL_SPEC.missing()
    ids = {t.id for t in TESTS}
    assert sorted(set(EXPECTED_FAILURES) - ids) == []


@pytest.mark.parametrize("t", TESTS, ids=[t.id for t in TESTS])
def test_cel_spec(t: SpecTest, conformance_tally: Any) -> None:
    test = _test(t)

    def record(outcome: str) -> None:
        conformance_tally.record("cel-spec", t.file, "simple", outcome)

    why = inexpressible(test) or UNIMPLEMENTED.get("/".join(t.id.split("/")[:2]))
    if why is not None:
        record(INEXPRESSIBLE)
        pytest.skip(why)
    problem = check(test)
    reason = EXPECTED_FAILURES.get(t.id)
    if reason is None:
        record("passed" if problem is None else "failed")
        assert problem is None, f"{_text(test, 'expr')}: {problem}"
    elif problem is None:
        record("unexpectedly passing")
        pytest.fail(f"listed in EXPECTED_FAILURES ({reason}) but passes: remove the entry")
    else:
        record("known failing")
        pytest.xfail(reason)
