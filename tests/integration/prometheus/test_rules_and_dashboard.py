"""The operator's kit, checked by the real Prometheus tools: the alert rules load, every alert
is unit-tested (fires and stays quiet), and every PromQL expression of the Grafana dashboard
parses."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.fixtures.prometheus import (
    ALERTS,
    ALERTS_TEST,
    DASHBOARD,
    PrometheusServer,
    run_tool,
    wait_until,
)

pytestmark = pytest.mark.prometheus

#: Grafana's variables, replaced by values Prometheus accepts.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "1m",
    "$__range": "1h",
    "$job": ".*",
}


def alert_names() -> set[str]:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    return {rule["alert"] for g in groups for rule in g["rules"] if "alert" in rule}


def test_promtool_checks_the_rules(promtool: str) -> None:
    done = run_tool([promtool, "check", "rules", str(ALERTS)])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_unit_tests_pass(promtool: str) -> None:
    done = run_tool([promtool, "test", "rules", ALERTS_TEST.name], cwd=ALERTS_TEST.parent)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_is_shown_to_fire_and_to_stay_quiet() -> None:
    tests = yaml.safe_load(ALERTS_TEST.read_text(encoding="utf-8"))["tests"]
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in tests:
        for check in case.get("alert_rule_test", []):
            name = check["alertname"]
            expected = check.get("exp_alerts") or []
            (fired if expected else quiet).add(name)
            # A firing check is also a quiet one when a neighbour series stays out of it.
            if expected and len(case["input_series"]) > len(expected):
                quiet.add(name)
    assert fired == alert_names()
    assert quiet == alert_names()


def test_the_unit_tests_catch_a_broken_alert(promtool: str, tmp_path: Path) -> None:
    """A wrong threshold makes `promtool test rules` fail: the tests do test the rules."""
    broken = ALERTS.read_text(encoding="utf-8").replace("expr: vector(2)", "expr: vector(20)")
    (tmp_path / "alerts.yml").write_text(broken, encoding="utf-8")
    (tmp_path / "alerts_test.yml").write_text(ALERTS_TEST.read_text(encoding="utf-8"))
    done = run_tool([promtool, "test", "rules", "alerts_test.yml"], cwd=tmp_path)
    assert done.returncode != 0
    assert "DataQuarantineCommitLatencyHigh" in done.stdout + done.stderr


def dashboard_expressions() -> list[tuple[str, str]]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    found = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(name, value)
            found.append((panel["title"], expr))
    return found


def test_the_dashboard_covers_the_kit() -> None:
    text = " ".join(expr for _, expr in dashboard_expressions())
    for series in (
        "dataquarantine_records_processed_total",
        "dataquarantine_records_valid_total",
        "dataquarantine_records_invalid_total",
        "dataquarantine_consumer_lag",
        "dataquarantine_batch_commit_duration_seconds_bucket",
        "dataquarantine_worker_ready",
        "dataquarantine_gate_passed",
        "dataquarantine_run_last_success_timestamp_seconds",
    ):
        assert series in text, series
    assert "histogram_quantile(0.99" in text
    leftover = re.findall(r"\$\w+", text)
    assert leftover == [], f"Grafana variables the test does not replace: {leftover}"


def test_every_dashboard_expression_parses(
    promtool: str, prometheus_server: PrometheusServer
) -> None:
    server = prometheus_server.start({}, rules=[ALERTS])

    def rules_health() -> set[str]:
        groups = server.api("rules")["groups"]
        return {rule["health"] for g in groups for rule in g["rules"]}

    # The server loaded every rule and evaluates each without error.
    assert wait_until(lambda: rules_health() == {"ok"}, timeout=15), server.api("rules")
    expressions = dashboard_expressions()
    assert len(expressions) >= 15
    for title, expr in expressions:
        done = run_tool([promtool, "query", "instant", server.url, expr])
        assert done.returncode == 0, f"{title}: {expr}\n{done.stdout}{done.stderr}"
    # The check is real: Prometheus refuses an expression that does not parse.
    bad = run_tool([promtool, "query", "instant", server.url, "sum by (schema (rate(x[1m]))"])
    assert bad.returncode != 0 and "parse error" in (bad.stdout + bad.stderr)
