"""``dataquarantine stream`` as a process: /metrics, /health, /ready and validation_metrics."""

from __future__ import annotations

import http.client
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.fixtures.kafka import KafkaTopics, generated_messages, produce

from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR
from dataquarantine.stream.embedded import free_port

pytestmark = pytest.mark.kafka

N = 1500


def get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def samples(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    _, text = get(port, "/metrics")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(found: dict[tuple[str, Any], float], name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, keys), value in found.items()
        if sample == name and all((k, v) in keys for k, v in labels.items())
    )


def test_the_worker_serves_metrics_health_and_writes_aggregates(
    kafka_topics: Callable[..., KafkaTopics],
    worker_processes: Callable[..., Any],
    tmp_path: Path,
) -> None:
    topics = kafka_topics(partitions=4)
    sent = generated_messages(N, bad_ratio=0.2, seed=5)
    planted = Counter(m.expected for m in sent)
    port = free_port()
    db = tmp_path / "q.db"
    worker = worker_processes(
        topics.settings(
            contracts_dir=str(DEMO_CONTRACTS_DIR),
            store_url=f"sqlite:///{db}",
            payloads_url=f"file://{tmp_path / 'payloads'}",
            prometheus_port=port,
            prometheus_host="127.0.0.1",
        )
    )

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and worker.running:
        try:
            if get(port, "/ready")[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.1)
    assert get(port, "/ready") == (200, "ready\n"), worker.log()
    assert get(port, "/health") == (200, "ok\n")

    produce(topics.bootstrap, topics.raw, (m.as_tuple() for m in sent))
    processed = "dataquarantine_records_processed_total"
    found = samples(port)
    while time.monotonic() < deadline and total(found, processed) < N:
        time.sleep(0.2)
        found = samples(port)

    raw = {"topic": topics.raw}
    assert total(found, processed, **raw) == N, worker.log()
    assert total(found, "dataquarantine_records_valid_total", **raw) == planted["valid"]
    for code in ("parse_error", "schema_not_found", "schema_violation", "rule_violation"):
        invalid = total(found, "dataquarantine_records_invalid_total", error_type=code)
        assert invalid == planted[code], code
    assert total(found, "dataquarantine_validation_duration_seconds_count") >= 1
    assert total(found, "dataquarantine_batch_commit_duration_seconds_count") >= 1
    assert total(found, "process_resident_memory_bytes") > 0

    assert worker.terminate() == 0, worker.log()
    # Everything still pending is written at shutdown.
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT topic, schema, sum(processed), sum(valid), sum(invalid)"
            " FROM validation_metrics GROUP BY topic, schema"
        ).fetchall()
    assert {r[0] for r in rows} == {topics.raw}
    assert sum(r[2] for r in rows) == N
    assert sum(r[3] for r in rows) == planted["valid"]
    assert sum(r[4] for r in rows) == N - planted["valid"]
    assert {r[1] for r in rows} >= {"user_event", "page_view", "unknown"}
