"""``dlq ingest`` against the embedded broker and PostgreSQL: messages produced with each
dialect's headers by a plain producer land in the store with what they say; a fixed record is
replayed to its original topic byte for byte; a SIGKILL loses and doubles nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.kafka import KafkaTopics, create_topics, drain, produce, wait_for, write_config

from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.results import ErrorCode
from dataquarantine.quarantine.envelope import DlqSource, KafkaSource, QuarantineFilter
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.review.service import ReviewService
from dataquarantine.review.settings import ReviewSettings
from dataquarantine.stream.dialects import DlqFormat
from dataquarantine.stream.ingest import DlqIngestWorker
from dataquarantine.stream.settings import StreamSettings

pytestmark = pytest.mark.kafka

CONTRACT = """\
name: orders
version: 1.0.0
schema:
  type: object
  required: [_schema, amount]
  properties:
    _schema: {type: string}
    amount: {type: number}
"""


@pytest.fixture
def contracts(tmp_path: Path) -> Path:
    folder = tmp_path / "contracts"
    folder.mkdir()
    (folder / "orders.yaml").write_text(CONTRACT)
    return folder


def _messages(origin: str) -> list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]:
    return [
        (  # Kafka Connect; our contract finds a problem too
            b"k-connect",
            b'{"_schema": "orders", "amount": "12"}',
            [
                ("trace", b"\x00t1"),
                ("__connect.errors.topic", origin.encode()),
                ("__connect.errors.partition", b"1"),
                ("__connect.errors.offset", b"40"),
                (
                    "__connect.errors.exception.class.name",
                    b"org.apache.kafka.connect.errors.DataException",
                ),
                ("__connect.errors.exception.message", b"sink rejected the record"),
            ],
        ),
        (  # a Confluent rule; valid for our contract (the rule is not ours)
            b"k-rule",
            b'{"_schema":"orders","amount":5}',
            [
                ("trace", b"t2"),
                ("__rule.name", b"amountPositive"),
                ("__rule.mode", b"WRITE"),
                ("__rule.subject", b"orders-value"),
                ("__rule.topic", origin.encode()),
                ("__rule.exception", b"Expr failed"),
            ],
        ),
        (  # Spring Kafka, binary coordinates, bytes no contract applies to
            None,
            b"\x00\x01not json",
            [
                ("kafka_dlt-original-topic", origin.encode()),
                ("kafka_dlt-original-partition", (0).to_bytes(4, "big")),
                ("kafka_dlt-original-offset", (7).to_bytes(8, "big")),
                ("kafka_dlt-exception-fqcn", b"java.lang.NumberFormatException"),
                ("kafka_dlt-exception-message", b'For input string: "x"'),
            ],
        ),
        (  # Connect headers, malformed
            b"k-bad",
            b'{"_schema": "orders", "amount": 1}',
            [("__connect.errors.topic", origin.encode()), ("__connect.errors.partition", b"??")],
        ),
        (None, b'{"no": "headers"}', []),  # no known dialect at all
    ]


class IngestThread:
    def __init__(self, settings: StreamSettings) -> None:
        self.worker = DlqIngestWorker(settings, fmt=DlqFormat.AUTO)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.worker.run()
        except BaseException as exc:
            self.error = exc

    def __enter__(self) -> IngestThread:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.worker.stop()
        self.thread.join(60)
        assert not self.thread.is_alive()
        if self.error is not None:
            raise self.error


def _count(store: str, payloads: str, topic: str) -> int:
    with Quarantine.open(store, payloads) as quarantine:
        return quarantine.count(QuarantineFilter(source_name=topic))


def _ingest_all(settings: dict[str, Any], n: int) -> None:
    store, payloads, topic = (settings[k] for k in ("store_url", "payloads_url", "kafka_raw_topic"))
    with IngestThread(StreamSettings(**settings)):
        ok = wait_for(lambda: _count(store, payloads, topic) >= n, timeout=60)
        assert ok, "the DLQ messages did not all reach the store"


def test_each_dialect_lands_with_what_it_says_and_replays_to_its_origin(
    kafka_topics: Callable[..., KafkaTopics], pg_schema_url: str, contracts: Path, tmp_path: Path
) -> None:
    topics = kafka_topics(partitions=1)
    origin = topics.valid
    sent = _messages(origin)
    produce(topics.bootstrap, topics.raw, sent)
    payloads = f"file://{tmp_path / 'payloads'}"
    settings = topics.settings(
        contracts_dir=str(contracts), store_url=pg_schema_url, payloads_url=payloads
    )
    _ingest_all(settings, len(sent))
    # Consumed again by another group: the ids are the same, nothing is stored twice.
    _ingest_all({**settings, "kafka_consumer_group_id": topics.group + "-again"}, len(sent))

    with Quarantine.open(pg_schema_url, payloads) as quarantine:
        records = sorted(
            quarantine.iter(QuarantineFilter(source_kind="dlq")), key=lambda r: r.source.offset
        )  # type: ignore[union-attr]
        assert len(records) == len(sent)
        by_offset = {r.source.offset: r for r in records}  # type: ignore[union-attr]
        for offset, (key, value, headers) in enumerate(sent):
            rec = by_offset[offset]
            src = rec.source
            assert isinstance(src, DlqSource)
            assert (src.topic, src.partition, src.key) == (topics.raw, 0, key)
            assert list(src.headers) == headers
            assert quarantine.payload(rec) == value
            assert rec.errors[0].code is ErrorCode.UPSTREAM_ERROR
        connect, rule, spring, bad, unknown = (by_offset[i] for i in range(5))
        assert connect.source.origin == KafkaSource(origin, 1, 40)  # type: ignore[union-attr]
        assert (
            connect.errors[0].rule == "kafka-connect:org.apache.kafka.connect.errors.DataException"
        )
        assert [v.code for v in connect.errors] == [
            ErrorCode.UPSTREAM_ERROR,
            ErrorCode.SCHEMA_VIOLATION,
        ]
        assert connect.contract == "orders"
        assert (rule.source.origin, rule.source.original_topic) == (None, origin)  # type: ignore[union-attr]
        assert [v.code for v in rule.errors] == [
            ErrorCode.UPSTREAM_ERROR
        ] and rule.contract == "orders"
        assert spring.source.origin == KafkaSource(origin, 0, 7)  # type: ignore[union-attr]
        assert [v.code for v in spring.errors] == [
            ErrorCode.UPSTREAM_ERROR
        ] and spring.contract is None
        assert "malformed __connect.errors.partition" in bad.errors[0].message
        assert bad.source.original_topic == origin  # type: ignore[union-attr]
        assert unknown.source.dialect == "unknown"  # type: ignore[union-attr]
        assert "no known DLQ headers" in unknown.errors[0].message

    review = ReviewService.open(
        ReviewSettings(
            store_url=pg_schema_url, payloads_url=payloads, contracts_dir=contracts,
            reprocess_sink=f"kafka://{topics.bootstrap}/@origin",
        )
    )  # fmt: skip
    try:
        outcome = review.reprocess(rule.id, actor="test")
        assert outcome.status is Status.REPROCESSED
        still = review.reprocess(connect.id, actor="test")  # not fixed: stays quarantined
        assert still.status is Status.QUARANTINED
    finally:
        review.close()
    (replayed,) = drain(topics.bootstrap, origin, until=lambda ms: len(ms) >= 1)
    key, value, headers = sent[1]
    assert (replayed.key, replayed.value, replayed.headers) == (key, value, [("trace", b"t2")])


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "dataquarantine.cli.app", "dlq", "ingest", "--config",
             str(config), "--topic", config.stem, "--format", "connect", "--log-level", "info"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=dict(os.environ),
        )  # fmt: skip


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


@pytest.mark.slow
def test_sigkill_during_ingest_loses_and_doubles_nothing(
    kafka_topics: Callable[..., KafkaTopics],
    pg_schema_url: str,
    contracts: Path,
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    topics = kafka_topics(partitions=1)
    dlq = f"{topics.raw}-connect"
    create_topics(topics.bootstrap, [dlq], partitions=3)
    n = 6000
    exception = b"org.apache.kafka.connect.errors.DataException"
    messages = [
        (f"k{i}".encode(), b'{"_schema":"orders","amount":%d}' % i,
         [("__connect.errors.topic", b"orders"), ("__connect.errors.partition", b"0"),
          ("__connect.errors.offset", str(i).encode()),
          ("__connect.errors.exception.class.name", exception)])
        for i in range(n)
    ]  # fmt: skip
    produce(topics.bootstrap, dlq, messages)
    payloads = f"file://{tmp_path / 'payloads'}"
    settings = topics.settings(
        contracts_dir=str(contracts), store_url=pg_schema_url, payloads_url=payloads,
        kafka_raw_topic=dlq, flush_max_records=500, kafka_max_poll_records=100,
    )  # fmt: skip
    config = write_config(tmp_path / f"{dlq}.yaml", settings)
    log = tmp_path / "ingest.log"
    kills = 0
    for _ in range(2):
        proc = _start(config, log)
        processes.append(proc)
        before = _count(pg_schema_url, payloads, dlq)
        assert wait_for(lambda b=before: _count(pg_schema_url, payloads, dlq) > b, timeout=60), (
            log.read_text()
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        kills += 1
    assert _count(pg_schema_url, payloads, dlq) < n, "all stored before the last kill"
    proc = _start(config, log)
    processes.append(proc)
    assert wait_for(lambda: _count(pg_schema_url, payloads, dlq) >= n, timeout=120), log.read_text()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0, log.read_text()
    with Quarantine.open(pg_schema_url, payloads) as quarantine:
        records = list(quarantine.iter(QuarantineFilter(source_name=dlq)))
    offsets = sorted(int(r.source.origin.offset) for r in records)  # type: ignore[union-attr]
    assert offsets == list(range(n)), "a message was lost or stored twice"
    assert kills == 2
