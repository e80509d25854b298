"""SIGTERM / SIGINT: the worker finishes the batch in flight, commits it and exits 0."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.kafka import (
    KafkaTopics,
    WorkerProcess,
    committed_offsets,
    drain,
    generated_messages,
    ids_of,
    produce,
)

from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR

pytestmark = pytest.mark.kafka

N = 3000


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_commits_the_work_in_flight_and_exits_0(
    kafka_topics: Callable[..., KafkaTopics],
    worker_processes: Callable[[dict[str, Any]], WorkerProcess],
    tmp_path: Path,
    signum: signal.Signals,
) -> None:
    topics = kafka_topics(partitions=2)
    sent = generated_messages(N, bad_ratio=0.1, seed=3)
    produce(topics.bootstrap, topics.raw, (m.as_tuple() for m in sent))
    # No checkpoint on its own for a long time: whatever is committed, the signal committed.
    settings = topics.settings(
        contracts_dir=str(DEMO_CONTRACTS_DIR),
        store_url=f"sqlite:///{tmp_path / 'q.db'}",
        payloads_url=f"file://{tmp_path / 'payloads'}",
        flush_interval_ms=600_000,
        flush_max_records=1_000_000,
    )
    worker = worker_processes(settings)

    expected_valid = sum(m.expected == "valid" for m in sent)
    valid = drain(topics.bootstrap, topics.valid, until=lambda ms: len(ms) >= expected_valid)
    dlq = drain(topics.bootstrap, topics.dlq, until=lambda ms: len(ms) >= N - expected_valid)
    assert len(set(ids_of(valid)) | set(ids_of(dlq))) == N, worker.log()
    assert all(
        o < 0 for o in committed_offsets(topics.bootstrap, topics.group, topics.raw).values()
    )

    assert worker.proc is not None
    worker.proc.send_signal(signum)
    code = worker.proc.wait(timeout=60)
    assert code == 0, worker.log()

    raw = drain(topics.bootstrap, topics.raw, until=lambda ms: len(ms) >= N)
    ends: dict[int, int] = {}
    for m in raw:
        ends[m.partition] = max(ends.get(m.partition, 0), m.offset + 1)
    assert committed_offsets(topics.bootstrap, topics.group, topics.raw) == ends
    assert "stopped after" in worker.log()
