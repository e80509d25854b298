"""Reports of a gate run: text, JSON and JUnit XML (parsed back)."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from dataquarantine.gates.model import GateSeverity
from dataquarantine.gates.report import render_text, to_json, to_junit
from dataquarantine.gates.runner import GateResult, GateRun, GateStatus, Samples

REQUIRED, INFORMATIONAL = GateSeverity.REQUIRED, GateSeverity.INFORMATIONAL


def result(name: str, status: GateStatus, **fields: Any) -> GateResult:
    defaults: dict[str, Any] = {
        "kind": "not_null",
        "severity": REQUIRED,
        "count": 0,
        "samples": Samples(),
        "sql": 'SELECT t.* FROM "T" AS t WHERE t."c" IS NULL',
        "duration_s": 0.25,
    }
    return GateResult(name=name, status=status, **{**defaults, **fields})


def make_run(*results: GateResult) -> GateRun:
    return GateRun(
        run_id="run-1",
        suite="crm",
        database="postgresql://u@h/db",
        started_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        duration_s=1.5,
        results=results,
    )


RUN = make_run(
    result("ok", GateStatus.PASS, description="all good"),
    result(
        "nulls",
        GateStatus.FAIL,
        count=7,
        samples=Samples(("id", "note"), ((1, None), (2, "bell\x07 <&>"))),
    ),
    result("broken", GateStatus.ERROR, count=None, error='relation "Nope\x01" does not exist'),
    result(
        "roles",
        GateStatus.INFO,
        kind="sql",
        severity=INFORMATIONAL,
        count=2,
        samples=Samples(("role", "n"), (("agent", 5), ("customer", 3))),
    ),
    result("soft", GateStatus.ERROR, severity=INFORMATIONAL, count=None, error="timeout"),
)


def test_run_outcome() -> None:
    assert not RUN.passed
    assert [r.name for r in RUN.blocking] == ["nulls", "broken"]
    assert RUN.counts() == {"PASS": 1, "FAIL": 1, "INFO": 1, "ERROR": 2}
    assert make_run(result("ok", GateStatus.PASS), RUN.results[3], RUN.results[4]).passed


def test_json_report() -> None:
    doc = json.loads(to_json(RUN))
    assert doc["passed"] is False
    assert doc["failed_required"] == ["nulls", "broken"]
    assert doc["summary"] == {"PASS": 1, "FAIL": 1, "INFO": 1, "ERROR": 2, "total": 5}
    nulls = doc["gates"][1]
    assert nulls["status"] == "FAIL" and nulls["count"] == 7 and nulls["severity"] == "required"
    assert nulls["samples"] == {"columns": ["id", "note"], "rows": [[1, None], [2, "bell\x07 <&>"]]}
    assert nulls["sql"].startswith("SELECT")
    assert doc["gates"][2]["error"] == 'relation "Nope\x01" does not exist'


def test_junit_report_parses_back() -> None:
    root = ET.fromstring(to_junit(RUN))
    assert root.tag == "testsuites"
    assert root.attrib["tests"] == "5"
    assert (root.attrib["failures"], root.attrib["errors"], root.attrib["skipped"]) == (
        "1",
        "1",
        "1",
    )
    (suite,) = root.findall("testsuite")
    assert suite.attrib["name"] == "crm" and suite.attrib["timestamp"] == "2024-05-01T12:00:00"
    props = {p.attrib["name"]: p.attrib["value"] for p in suite.iter("property")}
    assert props == {"run_id": "run-1", "database": "postgresql://u@h/db"}
    cases = {c.attrib["name"]: c for c in suite.findall("testcase")}
    assert list(cases) == ["ok", "nulls", "broken", "roles", "soft"]
    assert cases["ok"].find("failure") is None and cases["ok"].find("error") is None
    failure = cases["nulls"].find("failure")
    assert failure is not None and failure.attrib["message"].startswith("7 violating rows")
    assert failure.text is not None and "bell <&>" in failure.text
    assert "SQL: SELECT" in failure.text
    error = cases["broken"].find("error")
    assert error is not None
    assert error.attrib["message"] == 'relation "Nope\ufffd" does not exist'  # XML-safe
    out = cases["roles"].find("system-out")
    assert out is not None and out.text is not None and "agent" in out.text
    assert cases["roles"].find("failure") is None
    skipped = cases["soft"].find("skipped")
    assert skipped is not None and "timeout" in skipped.attrib["message"]
    assert cases["nulls"].attrib["time"] == "0.250"


def text_of(run: GateRun, *, verbose: bool = False) -> str:
    buffer = io.StringIO()
    render_text(run, Console(file=buffer, width=150, no_color=True), verbose=verbose)
    return buffer.getvalue()


def test_text_report() -> None:
    text = text_of(RUN)
    lines = text.splitlines()
    assert lines[0].startswith("PASS  ok  0 violating rows  0.250s")
    assert any(line.startswith("FAIL  nulls  7 violating rows") for line in lines)
    assert "2 of 7" in text and "NULL" in text
    assert any(line.startswith("ERROR broken  error") for line in lines)
    assert any(line.startswith("INFO  roles  2 result rows") for line in lines)
    assert "5 gate(s) in 1.50s" in text
    assert "Required gates not passing: nulls (FAIL, 7), broken (ERROR)" in text
    assert "Informational gates that errored: soft" in text
    assert "Result: FAIL" in text
    assert "SQL:" not in text
    assert 'SQL: SELECT t.* FROM "T"' in text_of(RUN, verbose=True)


def test_text_headlines_of_single_row_kinds() -> None:
    run = make_run(
        result(
            "count",
            GateStatus.FAIL,
            kind="row_count",
            count=1,
            samples=Samples(("row_count",), ((0,),)),
        ),
        result(
            "fresh",
            GateStatus.FAIL,
            kind="freshness",
            count=1,
            samples=Samples(("latest", "age"), (("2024-01-01T00:00:00+00:00", "3 days"),)),
        ),
        result(
            "empty",
            GateStatus.FAIL,
            kind="freshness",
            count=1,
            samples=Samples(("latest", "age"), ((None, None),)),
        ),
        result("dups", GateStatus.FAIL, kind="unique", count=1),
        result("keys", GateStatus.FAIL, kind="max_per_key", count=2),
    )
    text = text_of(run)
    assert "row count 0" in text
    assert "newest 2024-01-01T00:00:00+00:00 is 3 days old" in text
    assert "no rows: nothing is fresh" in text
    assert "1 duplicated value " in text
    assert "2 keys over the limit" in text
    assert "Result: PASS" in text_of(make_run(result("ok", GateStatus.PASS)))
