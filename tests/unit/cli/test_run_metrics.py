"""Metrics of batch runs (cli/run_metrics.py): the series of each command, the textfile and
the export's failure handling. A real Pushgateway is in tests/integration/prometheus."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dataquarantine.cli.common import MetricsTarget
from dataquarantine.cli.run_metrics import (
    RunReport,
    export,
    exporting,
    registry_of,
    report_of_gates,
    report_of_load,
)
from dataquarantine.gates.model import GateSeverity
from dataquarantine.gates.runner import GateResult, GateRun, GateStatus, Samples
from dataquarantine.load.report import BatchCounts, LoadSummary

Samples_ = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples_:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples_, name: str, **labels: str) -> float:
    (match,) = [v for (n, ls), v in found.items() if n == name and set(labels.items()) <= ls]
    return match


def test_validation_series_carry_the_stream_names_and_labels() -> None:
    report = RunReport(
        "validate",
        "r1",
        True,
        1.5,
        records={
            ("orders", "valid"): 90,
            ("orders", "schema_violation"): 7,
            ("unknown", "parse_error"): 3,
        },
    )
    found = samples(generate_latest(registry_of(report, {"job": "j", "run": "r1"})).decode())
    assert (
        value(found, "dataquarantine_records_processed_total", schema="orders", error_type="valid")
        == 90
    )
    assert value(found, "dataquarantine_records_valid_total", schema="orders") == 90
    assert value(found, "dataquarantine_records_invalid_total", error_type="parse_error") == 3
    assert value(found, "dataquarantine_run_success", job="j", run="r1", command="validate") == 1
    assert value(found, "dataquarantine_run_duration_seconds") == 1.5
    assert value(found, "dataquarantine_run_last_success_timestamp_seconds") > 0
    assert not any(name.endswith("_created") for name, _ in found)
    assert not any(name.startswith("process_") for name, _ in found)


def test_gate_outcomes() -> None:
    def result(
        name: str, severity: GateSeverity, status: GateStatus, count: int | None
    ) -> GateResult:
        return GateResult(name, "sql", severity, status, count, Samples(), "SELECT 1", 0.25)

    run = GateRun(
        "g-run",
        "crm",
        "postgresql://x@h/db",
        datetime.now(UTC),
        2.0,
        (
            result("no_orphans", GateSeverity.REQUIRED, GateStatus.FAIL, 4),
            result("ids", GateSeverity.REQUIRED, GateStatus.PASS, 0),
            result("size", GateSeverity.INFORMATIONAL, GateStatus.INFO, 12),
            result("broken", GateSeverity.REQUIRED, GateStatus.ERROR, None),
        ),
    )
    report = report_of_gates(run)
    assert (report.run_id, report.succeeded, report.command) == ("g-run", False, "gates run")
    found = samples(generate_latest(registry_of(report, {})).decode())
    passed = "dataquarantine_gate_passed"
    assert value(found, passed, gate="no_orphans", severity="required", suite="crm") == 0
    assert value(found, passed, gate="ids") == 1
    assert value(found, passed, gate="size", severity="informational") == 1
    assert value(found, passed, gate="broken") == 0
    assert value(found, "dataquarantine_gate_violations", gate="no_orphans") == 4
    assert not [
        1 for n, ls in found if n == "dataquarantine_gate_violations" and ("gate", "broken") in ls
    ]
    assert value(found, "dataquarantine_gate_duration_seconds", gate="ids") == 0.25
    assert value(found, "dataquarantine_run_success") == 0


def test_load_outcomes() -> None:
    counts = BatchCounts(read=100, inserted=60, updated=20, unchanged=10, superseded=5,
                         quarantined={"fk_violation": 5})  # fmt: skip
    summary = LoadSummary("calls", "1.0.0", "l-run", "staging", "calls", counts, 1, 0, 3.0)
    found = samples(generate_latest(registry_of(report_of_load(summary), {})).decode())
    assert value(found, "dataquarantine_records_valid_total", schema="calls") == 95
    assert value(found, "dataquarantine_records_invalid_total", error_type="fk_violation") == 5
    assert value(found, "dataquarantine_records_processed_total", error_type="valid") == 95
    assert value(found, "dataquarantine_load_rows_total", outcome="inserted") == 60


def test_the_textfile_is_replaced_whole_and_keeps_the_last_success(tmp_path: Path) -> None:
    path = tmp_path / "dq.prom"
    target = MetricsTarget(file=path)
    export(target, RunReport("validate", "ok-run", True, 1.0, records={("a", "valid"): 5}))
    succeeded = value(
        samples(path.read_text()), "dataquarantine_run_last_success_timestamp_seconds"
    )
    export(target, RunReport("validate", "bad-run", False, 0.1))
    after = samples(path.read_text())
    assert (
        value(after, "dataquarantine_run_success", run="bad-run", job="dataquarantine_validate")
        == 0
    )
    assert (
        value(after, "dataquarantine_run_last_success_timestamp_seconds", run="bad-run")
        == succeeded
    )
    assert not [1 for n, _ in after if n == "dataquarantine_records_processed_total"]
    assert list(tmp_path.iterdir()) == [path]


def test_an_export_failure_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = MetricsTarget(push_url="http://127.0.0.1:9", file=tmp_path / "missing" / "dq.prom")
    with caplog.at_level(logging.ERROR, "dataquarantine.metrics"):
        export(target, RunReport("load", "r", True, 1.0))
    messages = [r.getMessage() for r in caplog.records]
    assert any("metrics not pushed to http://127.0.0.1:9" in m for m in messages)
    assert any("metrics not written to" in m for m in messages)


def test_exporting_a_block_that_fails_or_exits(tmp_path: Path) -> None:
    path = tmp_path / "dq.prom"
    target = MetricsTarget(file=path, job="nightly")
    with pytest.raises(OSError), exporting(target, "validate", "r-fail", lambda s: s):
        raise OSError("disk full")
    assert value(samples(path.read_text()), "dataquarantine_run_success", job="nightly") == 0

    done = RunReport("validate", "r-ok", True, 2.0)
    with pytest.raises(typer.Exit), exporting(target, "validate", "r-ok", lambda s: s) as record:
        record(done)
        raise typer.Exit(0)
    assert value(samples(path.read_text()), "dataquarantine_run_success", run="r-ok") == 1
