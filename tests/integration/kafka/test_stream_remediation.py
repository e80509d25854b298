"""The double pass in the stream worker, on the embedded broker: a fixable message goes to the
valid topic fixed (``dq.remediated: 1``), its original to the store as ``remediated``; an
unfixable one goes to the DLQ and the store with the attempt; counters reach Prometheus."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from prometheus_client import generate_latest
from tests.fixtures.kafka import KafkaTopics, WorkerThread, drain, produce

from dataquarantine.kernel.lifecycle import Status
from dataquarantine.quarantine.envelope import QuarantineFilter
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.stream.metrics import StreamMetrics
from dataquarantine.stream.settings import StreamSettings
from dataquarantine.stream.stats import BatchStats

pytestmark = pytest.mark.kafka

CONTRACT = """\
name: contact
version: 1.0.0
key: contact_id
phone_region: FR
schema:
  type: object
  required: [contact_id, phone, email]
  properties:
    contact_id: {type: string}
    phone: {type: string, pattern: "^\\\\+[0-9]{8,15}$"}
    email: {type: string, pattern: "^[a-z@.]+$"}
remediation:
  - {field: phone, action: e164_phone}
  - {field: email, action: trim}
  - {field: email, action: lowercase}
  - {field: id, action: rename, to: contact_id}
"""
GOOD = b'{"contact_id":"c1","phone":"+33123456789","email":"a@b.fr"}'
FIXABLE = b'{"id":"c2","phone":"01 23 45 67 89","email":" A@B.FR "}'
HOPELESS = b'{"contact_id":"c3","phone":"??","email":"a@b.fr"}'


class Counted:
    def __init__(self) -> None:
        self.records = 0

    def observe_batch(self, stats: BatchStats) -> None:
        self.records += stats.records

    def set_lag(self, topic: str, partition: int, lag: int) -> None:
        pass


def test_stream_double_pass(kafka_topics: Callable[..., KafkaTopics], tmp_path: Path) -> None:
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / "contact.yaml").write_text(CONTRACT)
    topics = kafka_topics(partitions=1)
    produce(
        topics.bootstrap,
        topics.raw,
        [(b"k1", GOOD, [("h", b"1")]), (b"k2", FIXABLE, [("h", b"2")]), (b"k3", HOPELESS, None)],
    )
    settings = StreamSettings.load(
        **topics.settings(
            contracts_dir=str(contracts),
            topic_contracts={topics.raw: "contact"},
            store_url=f"sqlite:///{tmp_path / 'q.db'}",
            payloads_url=f"file://{tmp_path / 'payloads'}",
        )
    )
    metrics, counted = StreamMetrics(), Counted()
    with WorkerThread(settings, observers=[metrics, counted]) as runner:
        valid = drain(topics.bootstrap, topics.valid, until=lambda ms: len(ms) >= 2)
        dlq = drain(topics.bootstrap, topics.dlq, until=lambda ms: len(ms) >= 1)
        deadline = time.monotonic() + 30
        while counted.records < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert runner.error is None

    by_key = {m.key: m for m in valid}
    assert set(by_key) == {b"c1", b"c2"}  # the fixed record's key comes from its fixed value
    assert by_key[b"c1"].value == GOOD and by_key[b"c1"].header("dq.remediated") is None
    fixed = by_key[b"c2"]
    assert orjson.loads(fixed.value or b"") == {
        "phone": "+33123456789",
        "email": "a@b.fr",
        "contact_id": "c2",
    }
    assert fixed.header("h") == b"2" and fixed.header("dq.remediated") == b"1"
    (bad,) = dlq
    assert bad.key == b"k3"

    with Quarantine.open(settings.store_url, settings.payloads_url) as quarantine:
        records = {r.status: r for r in quarantine.iter(QuarantineFilter())}
        assert set(records) == {Status.REMEDIATED, Status.QUARANTINED}
        remediated = records[Status.REMEDIATED]
        assert quarantine.payload(remediated) == FIXABLE
        assert fixed.header("dq.quarantine.id") == str(remediated.id).encode()
        assert quarantine.payload(records[Status.QUARANTINED]) == HOPELESS

    text = generate_latest(metrics.registry).decode()
    assert (
        'dataquarantine_remediations_total{action="e164_phone",contract="contact",'
        'outcome="applied"} 1.0'
    ) in text
    assert (
        'dataquarantine_remediated_records_total{contract="contact",outcome="remediated"} 1.0'
    ) in text
    # counted as valid: processed = valid + invalid holds with the remediated one on the valid side
    assert 'dataquarantine_records_valid_total{error_type="valid",schema="contact"' in text
    valid_line = next(
        line
        for line in text.splitlines()
        if line.startswith("dataquarantine_records_valid_total{") and 'schema="contact"' in line
    )
    assert valid_line.endswith(" 2.0")
