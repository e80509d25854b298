"""Crash test: SIGKILL the worker again and again while messages flow; nothing is lost."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.kafka import (
    BackgroundProducer,
    KafkaTopics,
    WorkerProcess,
    drain,
    generated_messages,
    ids_of,
    wait_for,
)

from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR
from dataquarantine.quarantine.envelope import QuarantineFilter
from dataquarantine.quarantine.service import Quarantine

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

N = 100_000
KILLS = 5


def test_sigkill_at_random_moments_loses_nothing(
    kafka_topics: Callable[..., KafkaTopics],
    worker_processes: Callable[[dict[str, Any]], WorkerProcess],
    tmp_path: Path,
) -> None:
    topics = kafka_topics(partitions=4)
    sent = generated_messages(N, bad_ratio=0.05, seed=5)
    all_ids = {m.id for m in sent}
    bad_ids = {m.id for m in sent if m.expected != "valid"}
    store_url = f"sqlite:///{tmp_path / 'q.db'}"
    payloads_url = f"file://{tmp_path / 'payloads'}"
    settings = topics.settings(
        contracts_dir=str(DEMO_CONTRACTS_DIR), store_url=store_url, payloads_url=payloads_url
    )
    rng = random.Random(20240501)

    # Each restart waits for the killed member's session to expire and the group to rebalance
    # (~11 s with the test settings): the messages are spread over ~70 s so that every kill
    # lands while they flow.
    producer = BackgroundProducer(topics.bootstrap, topics.raw, sent, rate=1_400).start()
    worker = worker_processes(settings)
    kills: list[str] = []
    for _ in range(KILLS):
        # A random moment, once this worker has joined the group and is working.
        wait_for(lambda w=worker: "assigned" in w.log(), timeout=30)
        time.sleep(rng.uniform(0.3, 3.0))
        worker.kill()
        kills.append(f"{producer.sent // 1000}k" + ("" if not producer.done else " (all)"))
        worker = worker_processes(settings)
    producer.join()

    valid_n = N - len(bad_ids)
    valid = drain(
        topics.bootstrap, topics.valid, until=lambda ms: len(set(ids_of(ms))) >= valid_n,
        timeout=150,
    )  # fmt: skip
    dlq = drain(
        topics.bootstrap, topics.dlq, until=lambda ms: len(set(ids_of(ms))) >= len(bad_ids),
        timeout=60,
    )  # fmt: skip
    assert worker.terminate() == 0, worker.log()

    valid_ids, dlq_ids = Counter(ids_of(valid)), Counter(ids_of(dlq))
    duplicates = sum(valid_ids.values()) + sum(dlq_ids.values()) - len(valid_ids) - len(dlq_ids)
    print(
        f"\ncrash test: {N} messages, {len(kills)} SIGKILLs (after {', '.join(kills)} produced), "
        f"{duplicates} duplicate deliveries "
        f"({sum(valid_ids.values())} valid + {sum(dlq_ids.values())} DLQ messages)"
    )
    assert len(kills) >= 5
    assert set(valid_ids) | set(dlq_ids) == all_ids, "an input message was lost"
    assert set(dlq_ids) == bad_ids and set(valid_ids) == all_ids - bad_ids
    with Quarantine.open(store_url, payloads_url) as quarantine:
        stored = quarantine.count(QuarantineFilter(source_name=topics.raw))
    assert stored == len(dlq_ids)
