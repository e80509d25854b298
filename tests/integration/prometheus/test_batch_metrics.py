"""Metrics of batch runs, as operators collect them: ``validate --metrics-push`` into a real
Pushgateway scraped by a real Prometheus that evaluates the alert rules, and
``--metrics-file`` checked by ``promtool check metrics``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.fixtures.prometheus import (
    ALERTS,
    PrometheusServer,
    Pushgateway,
    run_tool,
    wait_until,
)

from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR, write_jsonl

pytestmark = pytest.mark.prometheus

CLI = [sys.executable, "-m", "dataquarantine.cli.app"]


def validate(tmp_path: Path, inputs: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DQ_")}
    env["DQ_LOG_LEVEL"] = "info"
    return subprocess.run(
        [*CLI, "validate", *inputs, "--contracts", str(DEMO_CONTRACTS_DIR),
         "--store", f"sqlite:///{tmp_path / 'q.db'}",
         "--payloads", f"file://{tmp_path / 'payloads'}", "--json", *args],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120, check=False,
    )  # fmt: skip


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **want: str
) -> float:
    return sum(v for (n, labels), v in found.items() if n == name and set(want.items()) <= labels)


def fast_rules(tmp_path: Path) -> Path:
    """alerts.yml with every `for:` at 1s (the test's copy; the thresholds are unchanged)."""
    path = tmp_path / "alerts.yml"
    path.write_text(re.sub(r"for: \w+", "for: 1s", ALERTS.read_text(encoding="utf-8")))
    return path


def test_validate_pushes_its_run_and_prometheus_alerts_on_it(
    tmp_path: Path, pushgateway: Pushgateway, prometheus_server: PrometheusServer
) -> None:
    events = tmp_path / "events.jsonl"
    write_jsonl(events, 2000)
    junk = tmp_path / "junk.jsonl"
    junk.write_bytes(b"not json\n" * 300)

    good = validate(tmp_path, [str(events)], "--metrics-push", pushgateway.url)
    assert good.returncode == 0, good.stderr
    summary = json.loads(good.stdout)
    found = samples(pushgateway.metrics())
    run = {"job": "dataquarantine_validate", "run": summary["run_id"]}
    assert total(found, "dataquarantine_records_processed_total", **run) == summary["total"]
    assert total(found, "dataquarantine_records_valid_total", **run) == summary["valid"]
    assert total(found, "dataquarantine_records_invalid_total", **run) == summary["quarantined"]
    for code, n in summary["by_code"].items():
        assert total(found, "dataquarantine_records_invalid_total", error_type=code, **run) == n
    assert total(found, "dataquarantine_run_success", command="validate", **run) == 1
    assert total(found, "push_time_seconds", **run) > 0
    # The log lines name the command and the same run id (JSON: stderr is not a terminal).
    lines = [json.loads(line) for line in good.stderr.splitlines() if line.startswith("{")]
    assert lines and {(x["command"], x["run_id"]) for x in lines} == {
        ("validate", summary["run_id"])
    }

    # A second job quarantines every record; Prometheus scrapes the gateway and alerts.
    bad = validate(
        tmp_path, [str(junk)], "--metrics-push", pushgateway.url, "--metrics-job", "nightly"
    )
    assert bad.returncode == 0, bad.stderr
    assert json.loads(bad.stdout)["quarantined"] == 300

    server = prometheus_server.start(
        {"pushgateway": [f"127.0.0.1:{pushgateway.port}"]},
        rules=[fast_rules(tmp_path)],
        honor_labels=True,
    )

    def firing() -> set[tuple[str, str]]:
        return {
            (a["labels"]["alertname"], a["labels"]["job"])
            for a in server.alerts()
            if a["state"] == "firing"
        }

    assert wait_until(
        lambda: ("DataQuarantineAllRecordsQuarantined", "nightly") in firing(), timeout=30
    ), (server.alerts(), server.log())
    assert ("DataQuarantineAllRecordsQuarantined", "dataquarantine_validate") not in firing()
    assert not any(name == "DataQuarantineBatchRunOverdue" for name, _ in firing())


def test_a_failed_push_is_logged_and_the_run_still_completes(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    write_jsonl(events, 100)
    done = validate(tmp_path, [str(events)], "--metrics-push", "http://127.0.0.1:9/")
    assert done.returncode == 0, done.stderr
    errors = [json.loads(x) for x in done.stderr.splitlines() if x.startswith("{")]
    assert any(e["level"] == "error" and "metrics not pushed" in e["msg"] for e in errors)


def test_the_textfile_passes_promtool_and_keeps_the_last_success(
    tmp_path: Path, promtool: str
) -> None:
    events = tmp_path / "events.jsonl"
    write_jsonl(events, 500)
    prom = tmp_path / "textfile" / "dataquarantine.prom"
    prom.parent.mkdir()
    ok = validate(tmp_path, [str(events)], "--metrics-file", str(prom))
    assert ok.returncode == 0, ok.stderr
    text = prom.read_text()
    lint = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    first = samples(text)
    summary = json.loads(ok.stdout)
    assert total(first, "dataquarantine_records_processed_total", run=summary["run_id"]) == 500
    succeeded_at = total(first, "dataquarantine_run_last_success_timestamp_seconds")
    assert succeeded_at > 0
    assert list(prom.parent.iterdir()) == [prom], "no temporary file is left behind"

    failed = validate(tmp_path, [str(tmp_path / "missing.jsonl")], "--metrics-file", str(prom))
    assert failed.returncode == 2
    after = samples(prom.read_text())
    assert total(after, "dataquarantine_run_success") == 0
    assert total(after, "dataquarantine_run_last_success_timestamp_seconds") == succeeded_at
    assert run_tool([promtool, "check", "rules", str(ALERTS)]).returncode == 0
