"""Poison messages are quarantined; they never crash the worker or stop the flow."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from tests.fixtures.kafka import KafkaTopics, WorkerThread, drain, ids_of, produce

from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR
from dataquarantine.quarantine.envelope import QuarantineFilter
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.stream.settings import StreamSettings

pytestmark = pytest.mark.kafka

VALID = orjson.dumps(
    {
        "_schema": "user_event",
        "event_id": "9a1f4a7e-1b2c-4d3e-8f40-5a6b7c8d9e0f",
        "user_id": "USER000042",
        "event_type": "view",
        "timestamp": "2024-05-01T10:00:00Z",
        "session_id": "s1",
    }
)
HUGE_VALID = VALID[:-1] + b',"properties":{"blob":"' + b"x" * 1_500_000 + b'"}}'

#: id -> (value, expected headline code)
POISON: dict[str, tuple[bytes | None, str]] = {
    "not-json": (b"hello, world", "parse_error"),
    "invalid-utf8": (b'{"_schema":"user_event","user_id":"\xff\xfe"}', "parse_error"),
    "empty": (b"", "parse_error"),
    "tombstone": (None, "parse_error"),
    "unknown-schema": (b'{"_schema":"no_such_contract","a":1}', "schema_not_found"),
    "no-schema": (b'{"a":1}', "schema_not_found"),
    "array": (b"[1,2,3]", "schema_not_found"),
    "deep": (b"[" * 50_000 + b"]" * 50_000, "parse_error"),
    "huge-invalid": (b'{"_schema":"nope","blob":"' + b"y" * 2_000_000 + b'"}', "schema_not_found"),
    "huge-valid": (HUGE_VALID, "system_error"),
}


def test_poison_messages_are_quarantined_and_the_flow_goes_on(
    kafka_topics: Callable[..., KafkaTopics], tmp_path: Path
) -> None:
    topics = kafka_topics(partitions=1)
    messages = [(None, value, [("test-id", mid.encode())]) for mid, (value, _) in POISON.items()]
    messages.append((b"k", VALID, [("test-id", b"valid-after")]))
    produce(topics.bootstrap, topics.raw, messages, extra={"message.max.bytes": 10_000_000})
    settings = StreamSettings.load(
        **topics.settings(
            contracts_dir=DEMO_CONTRACTS_DIR,
            store_url=f"sqlite:///{tmp_path / 'q.db'}",
            payloads_url=f"file://{tmp_path / 'payloads'}",
        )
    )
    with WorkerThread(settings) as runner:
        dlq = drain(topics.bootstrap, topics.dlq, until=lambda ms: len(ms) >= len(POISON))
        valid = drain(topics.bootstrap, topics.valid, until=lambda ms: len(ms) >= 1)
        assert runner.worker.ready()
    assert runner.error is None

    assert ids_of(valid) == ["valid-after"]
    assert valid[0].value == VALID
    assert sorted(ids_of(dlq)) == sorted(POISON)
    with Quarantine.open(settings.store_url, settings.payloads_url) as quarantine:
        stored = {str(r.id): r for r in quarantine.iter(QuarantineFilter(source_name=topics.raw))}
        assert len(stored) == len(POISON)
        for msg in dlq:
            mid = ids_of([msg])[0]
            value, code = POISON[mid]
            env = orjson.loads(msg.value or b"")
            assert env["validation_error"]["error_type"] == code, mid
            record = stored[env["quarantine_id"]]
            assert record.error_code.value == code
            # The store keeps every byte, whatever the DLQ envelope could carry.
            assert quarantine.payload(record) == (value or b"")
            if mid.startswith("huge"):
                assert env["original_omitted"] is True
                assert env["original_size"] == len(value or b"")
            elif "original_message_b64" in env:
                assert base64.b64decode(env["original_message_b64"]) == (value or b"")
            else:
                assert env["original_message"] == orjson.loads(value or b"")
