"""A real Prometheus scrapes a running ``dataquarantine stream`` worker and evaluates
deploy/prometheus/alerts.yml while 100% bad input flows: the 100% alert fires, and the worker
keeps running, stays ready and reconciles (every message in the DLQ and the quarantine)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.kafka import (
    BackgroundProducer,
    KafkaTopics,
    drain,
    generated_messages,
)
from tests.fixtures.prometheus import ALERTS, PrometheusServer, http_get, wait_until

from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR
from dataquarantine.quarantine.envelope import QuarantineFilter
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.stream.embedded import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.prometheus]

N = 3000
RATE = 200.0  # messages per second: about 15 s of traffic, many scrapes


def fast_rules(tmp_path: Path) -> Path:
    """alerts.yml with every `for:` at 1s (the test's copy; the thresholds are unchanged)."""
    path = tmp_path / "alerts.yml"
    path.write_text(re.sub(r"for: \w+", "for: 1s", ALERTS.read_text(encoding="utf-8")))
    return path


def test_the_100_percent_alert_fires_and_the_worker_keeps_going(
    kafka_topics: Callable[..., KafkaTopics],
    worker_processes: Callable[..., Any],
    prometheus_server: PrometheusServer,
    tmp_path: Path,
) -> None:
    topics = kafka_topics(partitions=2)
    sent = generated_messages(N, bad_ratio=1.0, seed=11)
    assert not any(m.expected == "valid" for m in sent)
    port = free_port()
    db = tmp_path / "q.db"
    worker = worker_processes(
        topics.settings(
            contracts_dir=str(DEMO_CONTRACTS_DIR),
            store_url=f"sqlite:///{db}",
            payloads_url=f"file://{tmp_path / 'payloads'}",
            prometheus_port=port,
            prometheus_host="127.0.0.1",
        ),
        env={"DQ_LOG_FORMAT": "json"},
    )
    metrics = f"http://127.0.0.1:{port}"
    assert wait_until(lambda: _status(f"{metrics}/ready") == 200, timeout=60), worker.log()

    server = prometheus_server.start(
        {"dq-stream": [f"127.0.0.1:{port}"]}, rules=[fast_rules(tmp_path)]
    )
    producer = BackgroundProducer(topics.bootstrap, topics.raw, sent, RATE).start()

    def firing() -> list[dict[str, str]]:
        return [
            a["labels"]
            for a in server.alerts()
            if a["state"] == "firing"
            and a["labels"]["alertname"] == "DataQuarantineAllRecordsQuarantined"
        ]

    assert wait_until(lambda: any(a.get("topic") == topics.raw for a in firing()), timeout=60), (
        server.alerts(),
        worker.log()[-3000:],
    )
    # Per contract too: every known contract's records fail; "unknown" is not a contract.
    schemas = {a["schema"] for a in firing() if "schema" in a}
    assert schemas and "unknown" not in schemas
    # The pipeline never blocks: the worker is running and ready while the alert fires.
    assert worker.running and _status(f"{metrics}/ready") == 200
    ready = server.query('dataquarantine_worker_ready{job="dq-stream"}')
    assert [float(r["value"][1]) for r in ready] == [1.0]

    producer.join()
    dlq = drain(topics.bootstrap, topics.dlq, until=lambda got: len(got) >= N, timeout=90)
    assert len(dlq) == N
    assert drain(topics.bootstrap, topics.valid, timeout=5, quiet=1.0) == []

    def processed() -> float:
        found = server.query(f'sum(dataquarantine_records_processed_total{{topic="{topics.raw}"}})')
        return float(found[0]["value"][1]) if found else 0.0

    assert wait_until(lambda: processed() == N, timeout=30), processed()
    invalid = server.query(f'sum(dataquarantine_records_invalid_total{{topic="{topics.raw}"}})')
    assert float(invalid[0]["value"][1]) == N

    assert worker.running
    assert worker.terminate() == 0, worker.log()[-3000:]
    quarantine = Quarantine.open(f"sqlite:///{db}", f"file://{tmp_path / 'payloads'}")
    try:
        assert quarantine.count(QuarantineFilter(source_name=topics.raw)) == N
    finally:
        quarantine.close()

    # JSON log lines, one setup: every line names the command and a run id; nothing is
    # logged per record.
    lines = [json.loads(x) for x in worker.log().splitlines() if x.startswith("{")]
    assert lines and all(x["command"] == "stream" and x["run_id"] for x in lines)
    assert {"ts", "level", "logger", "msg"} <= set(lines[0])
    assert len(lines) < 100, f"{len(lines)} log lines for {N} records"


def _status(url: str) -> int:
    try:
        return http_get(url, timeout=2.0)[0]
    except OSError:
        return 0
