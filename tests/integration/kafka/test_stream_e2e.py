"""End to end: mixed messages -> valid topic + DLQ + quarantine store, nothing missing."""

from __future__ import annotations

import base64
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from tests.fixtures.kafka import (
    KafkaTopics,
    WorkerThread,
    drain,
    generated_messages,
    ids_of,
    produce,
)

from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR
from dataquarantine.quarantine.envelope import QuarantineFilter
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.stream.dlq import HEADERS
from dataquarantine.stream.settings import StreamSettings
from dataquarantine.stream.stats import VALID, BatchStats

pytestmark = pytest.mark.kafka

N = 2000


class Recorder:
    """A BatchObserver keeping what it was told."""

    def __init__(self) -> None:
        self.batches: list[BatchStats] = []
        self.lags: dict[tuple[str, int], int] = {}

    def observe_batch(self, stats: BatchStats) -> None:
        self.batches.append(stats)

    def set_lag(self, topic: str, partition: int, lag: int) -> None:
        self.lags[(topic, partition)] = lag


def stores(tmp_path: Path) -> dict[str, str]:
    return {
        "store_url": f"sqlite:///{tmp_path / 'q.db'}",
        "payloads_url": f"file://{tmp_path / 'payloads'}",
    }


def test_every_message_lands_once_where_it_belongs(
    kafka_topics: Callable[..., KafkaTopics], tmp_path: Path
) -> None:
    topics = kafka_topics(partitions=4)
    sent = generated_messages(N, bad_ratio=0.25, seed=11)
    produce(topics.bootstrap, topics.raw, (m.as_tuple() for m in sent))
    settings = StreamSettings.load(
        **topics.settings(contracts_dir=DEMO_CONTRACTS_DIR, **stores(tmp_path))
    )
    recorder = Recorder()
    by_id = {m.id: m for m in sent}
    good = {m.id for m in sent if m.expected == "valid"}
    bad = {m.id for m in sent if m.expected != "valid"}
    assert good and bad

    with WorkerThread(settings, observers=[recorder]) as runner:
        valid = drain(topics.bootstrap, topics.valid, until=lambda ms: len(ms) >= len(good))
        dlq = drain(topics.bootstrap, topics.dlq, until=lambda ms: len(ms) >= len(bad))
        # Observers hear about committed checkpoints only; wait for the last one.
        deadline_ok = _wait(lambda: sum(b.records for b in recorder.batches) >= N)
    assert runner.error is None
    assert deadline_ok

    # Nothing missing, nothing elsewhere: valid + DLQ == input, split as expected.
    valid_ids, dlq_ids = ids_of(valid), ids_of(dlq)
    assert set(valid_ids) == good
    assert set(dlq_ids) == bad
    assert len(valid_ids) == len(good) and len(dlq_ids) == len(bad)  # no duplicates here

    # Valid copies: original bytes, contract key (else the original key), original headers.
    for msg in valid:
        src = by_id[ids_of([msg])[0]]
        assert msg.value == src.value
        assert msg.headers == src.headers
        record = orjson.loads(src.value or b"")
        contract_key = record.get("user_id") if "user_event" in record["_schema"] else None
        if record["_schema"] == "page_view":
            contract_key = record["view_id"]
        assert msg.key == (contract_key.encode() if contract_key else src.key)

    # DLQ envelopes and headers; the quarantine id is the store's id.
    with Quarantine.open(settings.store_url, settings.payloads_url) as quarantine:
        stored = {str(r.id): r for r in quarantine.iter(QuarantineFilter(source_name=topics.raw))}
        assert len(stored) == len(bad)
        for msg in dlq:
            src = by_id[ids_of([msg])[0]]
            env = orjson.loads(msg.value or b"")
            assert msg.key == src.key
            assert msg.headers[: len(src.headers)] == src.headers
            assert [k for k, _ in msg.headers[len(src.headers) :]] == list(HEADERS)
            head = env["validation_error"]
            assert head["error_type"] == src.expected
            assert env["errors"][0]["code"] == src.expected
            assert set(head) == {"error_type", "error_message", "field_path"}
            assert env["source_topic"] == topics.raw
            assert msg.header("dq.error.code") == src.expected.encode()
            assert msg.header("dq.error.path") == head["field_path"].encode()
            assert msg.header("dq.source.topic") == topics.raw.encode()
            assert msg.header("dq.source.partition") == str(env["source_partition"]).encode()
            assert msg.header("dq.source.offset") == str(env["source_offset"]).encode()
            assert msg.header("dq.quarantine.id") == env["quarantine_id"].encode()
            if "original_message" in env:
                assert env["original_message"] == orjson.loads(src.value or b"")
                assert (src.value or b"") in (msg.value or b"")  # spliced byte for byte
            else:
                assert base64.b64decode(env["original_message_b64"]) == src.value
            record = stored[env["quarantine_id"]]
            uuid.UUID(env["quarantine_id"])
            assert record.error_code.value == src.expected
            assert record.source.to_dict() == {
                "kind": "kafka",
                "topic": topics.raw,
                "partition": env["source_partition"],
                "offset": env["source_offset"],
            }
            assert quarantine.payload(record) == src.value
            if env["contract"] is not None:
                assert msg.header("dq.contract") == (
                    f"{env['contract']}@{env['contract_version']}".encode()
                )
                assert record.contract == env["contract"]

    # The observers saw every committed record, split by topic/schema/outcome.
    totals: Counter[str] = Counter()
    for stats in recorder.batches:
        assert sum(stats.counts.values()) == stats.records
        for (topic, _schema, outcome), n in stats.counts.items():
            assert topic == topics.raw
            totals[outcome] += n
    assert totals[VALID] == len(good)
    assert sum(totals.values()) == N


def _wait(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()
