# ruff: noqa: E501 - the suite's test ids are long, and the table reads best unwrapped
"""The official JSON-Schema-Test-Suite, draft 7 and 2020-12, through the public API.

Every test of ``tests/<draft>/*.json`` (group ``required``), ``optional/format/*.json``
(``format``) and the other ``optional/*.json`` (``optional``) is one pytest item. Each case's
schema is compiled once, as ``Contract.from_dict({..., "schema": schema}, retriever=...)``,
and each instance checked with ``.validate(data).valid``. ``remotes/`` is served at
``http://localhost:1234/`` by a local retriever: nothing is fetched from the network.

Deliberate and known deviations are listed in :data:`EXPECTED_FAILURES` (id -> reason): a test
listed there that passes fails the run, like a failure that is not listed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from tests.conformance.conftest import Suite

from dataquarantine import Contract, ErrorCode

JSON_SCHEMA_SUITE = Suite(
    "JSON-Schema-Test-Suite", "DQ_JSON_SCHEMA_SUITE", "json-schema-test-suite", "tests"
)
SUITE = JSON_SCHEMA_SUITE.root()
DRAFTS = {
    "draft7": "http://json-schema.org/draft-07/schema#",
    "draft2020-12": "https://json-schema.org/draft/2020-12/schema",
}
REMOTE = "http://localhost:1234/"

_ANNOTATION_ONLY = "formats are asserted by design (the suite expects annotation-only format)"
_UNKNOWN_FORMAT = "unknown format names fail the compile by design (most likely a typo)"

#: Test id -> why it fails. Ids are ``<draft>/<file>/<case description>/<test description>``.
EXPECTED_FAILURES: dict[str, str] = {
    "draft7/optional/format/unknown/unknown format/unknown formats ignore integers": _UNKNOWN_FORMAT,
    "draft7/optional/format/unknown/unknown format/unknown formats ignore floats": _UNKNOWN_FORMAT,
    "draft7/optional/format/unknown/unknown format/unknown formats ignore objects": _UNKNOWN_FORMAT,
    "draft7/optional/format/unknown/unknown format/unknown formats ignore arrays": _UNKNOWN_FORMAT,
    "draft7/optional/format/unknown/unknown format/unknown formats ignore booleans": _UNKNOWN_FORMAT,
    "draft7/optional/format/unknown/unknown format/unknown formats ignore nulls": _UNKNOWN_FORMAT,
    "draft7/optional/format/unknown/unknown format/unknown formats ignore strings": _UNKNOWN_FORMAT,
    "draft2020-12/format/email format/invalid email string is only an annotation by default": _ANNOTATION_ONLY,
    "draft2020-12/format/idn-email format/invalid idn-email string is only an annotation by default": _ANNOTATION_ONLY,
    "draft2020-12/format/regex format/invalid regex string is only an annotation by default": _ANNOTATION_ONLY,
    "draft2020-12/format/ipv4 format/invalid ipv4 string is only an annotation by default": _ANNOTATION_ONLY,
    "draft2020-12/format/ipv6 format/invalid ipv6 string is only an annotation by default": _ANNOTATION_ONLY,
    "draft2020-12/format/idn-hostname format/invalid idn-hostname string is only an annotation by default": _ANNOTATION_ONLY,
    "draft2020-12/format/hostname format/invalid hostname string is only an annotation by default": _ANNOTATION_ONLY,
    "draft2020-12/format/date format/invalid date string is only an annotation by default": _ANNOTATION_ONLY,
    "draft2020-12/format/date-time format/invalid date-time string is only an annotation by default": _ANNOTATION_ONLY,
    "draft2020-12/format/time format/invalid time string is only an annotation by default": _ANNOTATION_ONLY,
    "draft2020-12/format/json-pointer format/invalid json-pointer string is only an annotation by default": _ANNOTATION_ONLY,
    "draft2020-12/format/relative-json-pointer format/invalid relative-json-pointer string is only an annotation by default": _ANNOTATION_ONLY,
    "draft2020-12/format/iri format/invalid iri string is only an annotation by default": _ANNOTATION_ONLY,
    "draft2020-12/format/iri-reference format/invalid iri-reference string is only an annotation by default": _ANNOTATION_ONLY,
    "draft2020-12/format/uri format/invalid uri string is only an annotation by default": _ANNOTATION_ONLY,
    "draft2020-12/format/uri-reference format/invalid uri-reference string is only an annotation by default": _ANNOTATION_ONLY,
    "draft2020-12/format/uri-template format/invalid uri-template string is only an annotation by default": _ANNOTATION_ONLY,
    "draft2020-12/format/uuid format/invalid uuid string is only an annotation by default": _ANNOTATION_ONLY,
    "draft2020-12/format/duration format/invalid duration string is only an annotation by default": _ANNOTATION_ONLY,
    "draft2020-12/optional/format/unknown/unknown format/unknown formats ignore integers": _UNKNOWN_FORMAT,
    "draft2020-12/optional/format/unknown/unknown format/unknown formats ignore floats": _UNKNOWN_FORMAT,
    "draft2020-12/optional/format/unknown/unknown format/unknown formats ignore objects": _UNKNOWN_FORMAT,
    "draft2020-12/optional/format/unknown/unknown format/unknown formats ignore arrays": _UNKNOWN_FORMAT,
    "draft2020-12/optional/format/unknown/unknown format/unknown formats ignore booleans": _UNKNOWN_FORMAT,
    "draft2020-12/optional/format/unknown/unknown format/unknown formats ignore nulls": _UNKNOWN_FORMAT,
    "draft2020-12/optional/format/unknown/unknown format/unknown formats ignore strings": _UNKNOWN_FORMAT,
}


@dataclass(frozen=True, slots=True)
class SuiteTest:
    id: str
    draft: str
    group: str
    file: str
    case: int
    index: int


def _group(rel: Path) -> str:
    if rel.parts[:2] == ("optional", "format"):
        return "format"
    return "optional" if rel.parts[0] == "optional" else "required"


def _collect() -> Iterator[SuiteTest]:
    if SUITE is None:
        return
    seen: set[str] = set()
    for draft in DRAFTS:
        folder = SUITE / "tests" / draft
        for path in sorted(folder.rglob("*.json")):
            rel = path.relative_to(folder)
            name = rel.with_suffix("").as_posix()
            for ci, case in enumerate(_load(path)):
                for ti, test in enumerate(case["tests"]):
                    tid = f"{draft}/{name}/{case['description']}/{test['description']}"
                    if tid in seen:
                        tid = f"{tid} #{ci}.{ti}"
                    seen.add(tid)
                    yield SuiteTest(tid, draft, _group(rel), str(path), ci, ti)


@cache
def _load(path: Path | str) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _serve_remote(uri: str) -> Any:
    """The suite's ``remotes/`` folder as if served at http://localhost:1234/."""
    if SUITE is None or not uri.startswith(REMOTE):
        raise LookupError(f"{uri} is not served in this test")
    rel = uri.removeprefix(REMOTE).partition("#")[0]
    target = (SUITE / "remotes" / rel).resolve()
    if not target.is_relative_to((SUITE / "remotes").resolve()) or not target.is_file():
        raise LookupError(f"{uri} is not in remotes/")
    return _load(target)


def _with_draft(schema: Any, draft: str) -> Any:
    # Contracts pick their draft from $schema (2020-12 when absent); draft-7 cases have none.
    if isinstance(schema, dict) and "$schema" not in schema:
        return {"$schema": DRAFTS[draft], **schema}
    return schema


# -- adapter: the public facade ---------------------------------------------------------------


class _Compiled:
    """One case's schema compiled through the public API (or the reason it did not compile)."""

    def __init__(self, schema: Any) -> None:
        self.error: str | None = None
        self._contract: Contract | None = None
        try:
            self._contract = _compile(schema)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"

    def valid(self, data: Any) -> bool | None:
        if self._contract is None:
            return None
        return _validate(self._contract, data)


def _compile(schema: Any) -> Contract:
    contract = {"name": "suite", "version": "1.0.0", "schema": schema}
    return Contract.from_dict(contract, retriever=_serve_remote)


def _validate(contract: Contract, data: Any) -> bool:
    result = contract.validate(data)
    if not result.valid:  # every failure is explained by the kind itself, never by a fallback
        assert result.errors
        assert {e.code for e in result.errors} == {ErrorCode.SCHEMA_VIOLATION}, result.errors
        assert all(e.keyword for e in result.errors), result.errors
    return result.valid


@cache
def _compiled(file: str, case: int, draft: str) -> _Compiled:
    return _Compiled(_with_draft(_load(file)[case]["schema"], draft))


# -- tests ------------------------------------------------------------------------------------

TESTS = list(_collect())


def test_suite_is_present() -> None:
    if SUITE is None:
        JSON_SCHEMA_SUITE.missing()
    assert TESTS, "the suite folder has no tests"


def test_expected_failures_exist() -> None:
    """A stale entry (test renamed or removed upstream) must not linger in the list."""
    if SUITE is None:
        JSON_SCHEMA_SUITE.missing()
    ids = {t.id for t in TESTS}
    assert sorted(set(EXPECTED_FAILURES) - ids) == []


@pytest.mark.parametrize("t", TESTS, ids=[t.id for t in TESTS])
def test_json_schema_suite(t: SuiteTest, conformance_tally: Any) -> None:
    case = _load(t.file)[t.case]
    test = case["tests"][t.index]
    compiled = _compiled(t.file, t.case, t.draft)
    got = compiled.valid(test["data"])
    ok = got == test["valid"]
    reason = EXPECTED_FAILURES.get(t.id)

    def record(outcome: str) -> None:
        conformance_tally.record("JSON-Schema-Test-Suite", t.draft, t.group, outcome)

    if reason is None:
        record("passed" if ok else "failed")
        if compiled.error is not None:
            pytest.fail(f"schema does not compile: {compiled.error}")
        assert ok, f"expected valid={test['valid']}, got {got} for {test['data']!r}"
    elif ok:
        record("unexpectedly passing")
        pytest.fail(f"listed in EXPECTED_FAILURES ({reason}) but passes: remove the entry")
    else:
        record("known failing")
        pytest.xfail(reason)
