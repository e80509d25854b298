"""The Kafka valid sink of reprocessing: keyed by quarantine id, through the stream producer."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from tests.fixtures.kafka import KafkaTopics, drain

from dataquarantine.kernel.results import ContractRef
from dataquarantine.review.sinks import (
    KafkaReprocessSink,
    ReprocessedRecord,
    open_reprocess_sink,
)

pytestmark = pytest.mark.kafka


def test_publishes_keyed_by_quarantine_id(kafka_topics: Callable[..., KafkaTopics]) -> None:
    topics = kafka_topics(partitions=1)
    sink = open_reprocess_sink(f"kafka://{topics.bootstrap}/{topics.valid}", None)
    assert isinstance(sink, KafkaReprocessSink)
    sink.check()
    record = ReprocessedRecord(uuid.uuid4(), b'{"a": 1}', ContractRef("orders", "1.0.0"))
    assert sink.publish(record)
    sink.close()
    (message,) = drain(topics.bootstrap, topics.valid, until=lambda m: len(m) >= 1)
    assert message.key == str(record.id).encode()
    assert message.value == b'{"a": 1}'
    assert message.header("dq.quarantine.id") == str(record.id).encode()
    assert message.header("dq.contract") == b"orders@1.0.0"


def test_publishes_a_batch_with_one_flush(
    kafka_topics: Callable[..., KafkaTopics],
) -> None:
    topics = kafka_topics(partitions=1)
    sink = open_reprocess_sink(f"kafka://{topics.bootstrap}/{topics.valid}", None)
    records = [
        ReprocessedRecord(uuid.uuid4(), f'{{"n": {i}}}'.encode(), ContractRef("orders", "1.0.0"))
        for i in range(50)
    ]
    assert sink.publish_many(records) == 50
    sink.close()
    messages = drain(topics.bootstrap, topics.valid, until=lambda m: len(m) >= 50)
    # Keyed by id, so spread over the topic's partitions: compared as a set of pairs.
    assert sorted((m.key, m.value) for m in messages) == sorted(
        (str(r.id).encode(), r.payload) for r in records
    )
