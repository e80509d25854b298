"""Store outage: the metadata database stops for ~10 s mid-run. The worker pauses (no
commit, nothing dropped), reports not ready, and catches up when the database is back."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.fixtures.kafka import (
    BackgroundProducer,
    KafkaTopics,
    WorkerThread,
    committed_offsets,
    drain,
    generated_messages,
    ids_of,
    wait_for,
)
from tests.fixtures.postgres import PrivatePostgres

from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR
from dataquarantine.quarantine.envelope import QuarantineFilter
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.stream.settings import StreamSettings

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.slow]

N = 20_000
OUTAGE = 10.0


def test_database_outage_pauses_then_catches_up_without_loss(
    kafka_topics: Callable[..., KafkaTopics],
    private_postgres_factory: Callable[[], PrivatePostgres],
    tmp_path: Path,
) -> None:
    server = private_postgres_factory()
    topics = kafka_topics(partitions=2)
    sent = generated_messages(N, bad_ratio=0.2, seed=13)
    bad_ids = {m.id for m in sent if m.expected != "valid"}
    settings = StreamSettings.load(
        **topics.settings(
            contracts_dir=DEMO_CONTRACTS_DIR,
            store_url=server.url,
            payloads_url=f"file://{tmp_path / 'payloads'}",
            retry_max_backoff_ms=1000,
        )
    )
    producer = BackgroundProducer(topics.bootstrap, topics.raw, sent, rate=1_000)
    with WorkerThread(settings) as runner:
        worker = runner.worker
        assert wait_for(worker.ready, timeout=30)
        producer.start()
        assert wait_for(lambda: worker.committed_records > 2_000, timeout=30)

        server.stop("immediate")
        stopped = time.monotonic()
        assert wait_for(lambda: not worker.ready(), timeout=OUTAGE - 2), "still ready"
        # Paused: nothing is committed while the quarantine writes cannot be durable.
        before = committed_offsets(topics.bootstrap, topics.group, topics.raw)
        time.sleep(max(0.0, stopped + OUTAGE - 1 - time.monotonic()))
        assert committed_offsets(topics.bootstrap, topics.group, topics.raw) == before
        time.sleep(max(0.0, stopped + OUTAGE - time.monotonic()))
        server.start()

        producer.join()
        valid = drain(
            topics.bootstrap, topics.valid,
            until=lambda ms: len(set(ids_of(ms))) >= N - len(bad_ids), timeout=90,
        )  # fmt: skip
        dlq = drain(
            topics.bootstrap, topics.dlq, until=lambda ms: len(set(ids_of(ms))) >= len(bad_ids)
        )
        assert wait_for(lambda: worker.committed_records >= N, timeout=30)
        assert wait_for(worker.ready, timeout=15)
    assert runner.error is None

    valid_ids, dlq_ids = set(ids_of(valid)), set(ids_of(dlq))
    assert valid_ids | dlq_ids == {m.id for m in sent}
    assert dlq_ids == bad_ids
    with Quarantine.open(settings.store_url, settings.payloads_url) as quarantine:
        assert quarantine.count(QuarantineFilter(source_name=topics.raw)) == len(bad_ids)
