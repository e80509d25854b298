"""A broker that is not reachable: the worker waits (not ready), retries, and resumes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tests.fixtures.kafka import (
    TEST_CONSUMER_EXTRA,
    WorkerThread,
    create_topics,
    drain,
    generated_messages,
    ids_of,
    produce,
    wait_for,
)

from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR
from dataquarantine.stream.embedded import EmbeddedBroker, free_port
from dataquarantine.stream.settings import StreamSettings

pytestmark = pytest.mark.kafka

N = 1000


def test_worker_started_before_the_broker_resumes_when_it_comes(tmp_path: Path) -> None:
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    settings = StreamSettings.load(
        kafka_bootstrap_servers=bootstrap,
        kafka_consumer_group_id="late-broker",
        kafka_raw_topic="raw",
        kafka_valid_topic="valid",
        kafka_dlq_topic="dlq",
        kafka_consumer_extra={**TEST_CONSUMER_EXTRA, "topic.metadata.refresh.interval.ms": "1000"},
        contracts_dir=DEMO_CONTRACTS_DIR,
        store_url=f"sqlite:///{tmp_path / 'q.db'}",
        payloads_url=f"file://{tmp_path / 'payloads'}",
        prometheus_port=0,
    )
    sent = generated_messages(N, bad_ratio=0.1, seed=17)
    with WorkerThread(settings) as runner:
        time.sleep(3)
        assert runner.error is None and not runner.worker.ready()
        broker = EmbeddedBroker(port=port, log_path=tmp_path / "broker.log").start()
        try:
            create_topics(bootstrap, ["raw"], partitions=2)
            create_topics(bootstrap, ["valid", "dlq"], partitions=1)
            produce(bootstrap, "raw", (m.as_tuple() for m in sent))
            good = sum(m.expected == "valid" for m in sent)
            valid = drain(bootstrap, "valid", until=lambda ms: len(ms) >= good, timeout=90)
            dlq = drain(bootstrap, "dlq", until=lambda ms: len(ms) >= N - good, timeout=30)
            assert set(ids_of(valid)) | set(ids_of(dlq)) == {m.id for m in sent}
            assert wait_for(runner.worker.ready, timeout=15)
        finally:
            runner.stop()
            broker.stop()
    assert runner.error is None
