"""Scale-out: two workers in one group share the partitions; one is killed, none is lost."""

from __future__ import annotations

import json
import re
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

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

N = 30_000


def messages(log: str) -> list[str]:
    """A worker's log messages, whether it logs JSON lines or text."""
    found = []
    for line in log.splitlines():
        if line.startswith("{"):
            found.append(str(json.loads(line).get("msg", "")))
        else:
            found.append(line)
    return found


def partitions_of(log: str) -> set[str]:
    """The partitions a worker was assigned, from its log."""
    found: set[str] = set()
    for msg in messages(log):
        if msg.startswith("assigned ") or " assigned " in msg:
            found |= set(re.findall(r"\S+\[\d+\]", msg.split("assigned ", 1)[1]))
    return found


def count(log: str, word: str) -> int:
    """How many log messages hold ``word``."""
    return sum(f" {word} " in f" {msg} " for msg in messages(log))


def test_two_workers_share_the_partitions_and_survive_losing_one(
    kafka_topics: Callable[..., KafkaTopics],
    worker_processes: Callable[[dict[str, Any]], WorkerProcess],
    tmp_path: Path,
) -> None:
    topics = kafka_topics(partitions=4)
    sent = generated_messages(N, bad_ratio=0.05, seed=9)
    bad_ids = {m.id for m in sent if m.expected != "valid"}
    settings = topics.settings(
        contracts_dir=str(DEMO_CONTRACTS_DIR),
        store_url=f"sqlite:///{tmp_path / 'q.db'}",
        payloads_url=f"file://{tmp_path / 'payloads'}",
    )
    # ~30 s of messages: they still flow when the second worker dies and the first takes over.
    producer = BackgroundProducer(topics.bootstrap, topics.raw, sent, rate=1_000).start()
    first = worker_processes(settings)
    assert wait_for(lambda: len(partitions_of(first.log())) == 4, timeout=60), first.log()
    time.sleep(1)
    # A second worker joins while messages flow: the first one gives up some partitions
    # (committing what it has done), and both share the topic...
    second = worker_processes(settings)
    shared = wait_for(lambda: bool(partitions_of(second.log())), timeout=60)
    assert shared, first.log() + second.log()
    assert count(first.log(), "revoked")
    time.sleep(2)
    # ...then one dies mid-run; the other takes its partitions over.
    second.kill()
    assert not producer.done
    producer.join()
    valid = drain(
        topics.bootstrap, topics.valid,
        until=lambda ms: len(set(ids_of(ms))) >= N - len(bad_ids), timeout=90,
    )  # fmt: skip
    dlq = drain(topics.bootstrap, topics.dlq, until=lambda ms: len(set(ids_of(ms))) >= len(bad_ids))
    assert first.terminate() == 0, first.log()

    assert partitions_of(first.log()) == {f"{topics.raw}[{p}]" for p in range(4)}
    assert count(first.log(), "assigned") >= 2, first.log()  # at start, then the takeover
    valid_ids, dlq_ids = Counter(ids_of(valid)), Counter(ids_of(dlq))
    assert set(valid_ids) | set(dlq_ids) == {m.id for m in sent}
    assert set(dlq_ids) == bad_ids
    duplicates = sum(valid_ids.values()) + sum(dlq_ids.values()) - N
    print(f"\nscale-out: {N} messages, 2 workers, one SIGKILLed: {duplicates} duplicates")
