"""A stream worker on a shared contract registry: a version registered in PostgreSQL reaches it
within 2 s (LISTEN/NOTIFY) and is used from the next batch on, a pinned topic keeps its
version, and a registry outage (a private PostgreSQL stopped and restarted; S3 behind a cut
port) keeps the contracts in use without stopping or dropping anything."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.kafka import (
    KafkaTopics,
    WorkerThread,
    create_topics,
    drain,
    ids_of,
    produce,
    wait_for,
)
from tests.fixtures.postgres import PrivatePostgres
from tests.fixtures.s3 import MotoServer, PortCut, create_bucket

from dataquarantine.quarantine.envelope import QuarantineFilter
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.registry.postgres import PostgresSource
from dataquarantine.registry.s3 import S3Source
from dataquarantine.review.schemas import register_version
from dataquarantine.stream.metrics import StreamMetrics
from dataquarantine.stream.settings import StreamSettings
from dataquarantine.validation.registry import ContractRegistry

pytestmark = [pytest.mark.kafka]


def orders(version: str, required: list[str]) -> dict[str, Any]:
    return {
        "name": "orders",
        "version": version,
        "schema": {
            "type": "object",
            "required": required,
            "properties": {"id": {"type": "string"}, "note": {"type": "string"}},
        },
    }


V1 = orders("1.0.0", ["id"])
V2 = orders("2.0.0", ["id", "note"])  # rejects what V1 accepted: registered with "none"


def messages(phase: str, n: int) -> list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]:
    """``n`` records valid under V1 and invalid under V2, each with a ``test-id`` header."""
    out = []
    for i in range(n):
        mid = f"{phase}-{i}"
        value = json.dumps({"_schema": "orders", "id": mid}).encode()
        out.append((None, value, [("test-id", mid.encode())]))
    return out


def sent_ids(batch: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]) -> set[str]:
    return {headers[0][1].decode() for _, _, headers in batch}


def stream_settings(topics: KafkaTopics, tmp_path: Path, **overrides: Any) -> StreamSettings:
    return StreamSettings.load(
        **topics.settings(
            store_url=f"sqlite:///{tmp_path / 'quarantine.db'}",
            payloads_url=f"file://{tmp_path / 'payloads'}",
            **overrides,
        )
    )


def version_of(worker: Any) -> str:
    return str(worker.live.registry.get("orders").version)


def check_outcome(
    topics: KafkaTopics, settings: StreamSettings, valid: set[str], invalid: set[str]
) -> None:
    """Every message accounted for: ``valid`` on the valid topic, ``invalid`` in the DLQ
    (judged by V2, as the headers and the store say), nothing lost."""
    got_valid = drain(
        topics.bootstrap, topics.valid, until=lambda ms: len(set(ids_of(ms))) >= len(valid)
    )
    got_dlq = drain(
        topics.bootstrap, topics.dlq, until=lambda ms: len(set(ids_of(ms))) >= len(invalid)
    )
    assert set(ids_of(got_valid)) == valid
    assert set(ids_of(got_dlq)) == invalid
    assert {m.header("dq.contract") for m in got_dlq} == {b"orders@2.0.0"}
    with Quarantine.open(settings.store_url, settings.payloads_url) as quarantine:
        stored = quarantine.list(QuarantineFilter(source_name=topics.raw), limit=10_000)
    assert {(r.contract, r.contract_version) for r in stored} == {("orders", "2.0.0")}
    assert len(stored) == len(invalid)


@pytest.mark.postgres
def test_a_version_registered_in_postgresql_reaches_a_running_worker_within_2_s(
    kafka_topics: Callable[..., KafkaTopics], pg_schema_url: str, tmp_path: Path
) -> None:
    topics = kafka_topics(partitions=2)
    pinned = f"{topics.raw}-pinned"
    create_topics(topics.bootstrap, [pinned], partitions=1)
    registry = ContractRegistry.from_source(PostgresSource(pg_schema_url))
    register_version(registry, V1, actor="test")
    settings = stream_settings(
        topics,
        tmp_path,
        kafka_raw_topic=f"{topics.raw},{pinned}",
        topic_contracts={pinned: "orders@1.0.0"},  # pinned; the raw topic follows latest
        contracts_url=pg_schema_url,
        contracts_poll_seconds=600,  # only the notification can bring V2 in time
        contracts_cache="",
    )
    with WorkerThread(settings) as runner:
        worker = runner.worker
        assert wait_for(worker.ready, timeout=30)
        before = messages("before", 200)
        produce(topics.bootstrap, topics.raw, before)
        assert wait_for(lambda: worker.committed_records >= 200, timeout=30)

        started = time.monotonic()
        register_version(registry, V2, compatibility="none", actor="test")
        assert wait_for(lambda: version_of(worker) == "2.0.0", timeout=2.0, interval=0.01)
        print(f"v2 live in the worker {time.monotonic() - started:.3f} s after registering")

        after, kept = messages("after", 200), messages("pinned", 50)
        produce(topics.bootstrap, topics.raw, after)
        produce(topics.bootstrap, pinned, kept)
        assert wait_for(lambda: worker.committed_records >= 450, timeout=30)
    registry.source.close()
    check_outcome(topics, settings, sent_ids(before) | sent_ids(kept), sent_ids(after))


@pytest.mark.postgres
@pytest.mark.slow
def test_a_postgresql_registry_outage_mid_stream_keeps_the_contracts_then_recovers(
    kafka_topics: Callable[..., KafkaTopics],
    private_postgres_factory: Callable[[], PrivatePostgres],
    tmp_path: Path,
) -> None:
    server = private_postgres_factory()  # never the shared server: this one is stopped
    url = f"{server.url}?schema=dq_registry"
    writer = PostgresSource(url)
    register_version(ContractRegistry.from_source(writer), V1, actor="test")
    writer.close()
    topics = kafka_topics(partitions=2)
    settings = stream_settings(
        topics, tmp_path, contracts_url=url, contracts_poll_seconds=0.5, contracts_cache=""
    )
    metrics = StreamMetrics()
    with WorkerThread(settings, observers=[metrics]) as runner:
        worker = runner.worker
        assert wait_for(worker.ready, timeout=30)
        before = messages("before", 100)
        produce(topics.bootstrap, topics.raw, before)
        assert wait_for(lambda: worker.committed_records >= 100, timeout=30)

        server.stop("immediate")
        assert wait_for(lambda: not worker.live.up, timeout=10), "the outage went unnoticed"
        during = messages("during", 100)
        produce(topics.bootstrap, topics.raw, during)  # judged by the contracts kept
        assert wait_for(lambda: worker.committed_records >= 200, timeout=30)
        assert worker.ready() and version_of(worker) == "1.0.0"
        errors = metrics.registry.get_sample_value("dataquarantine_contract_registry_errors_total")
        assert errors is not None and errors >= 1
        assert metrics.registry.get_sample_value("dataquarantine_contract_registry_up") == 0

        server.start()
        writer = PostgresSource(url)
        register_version(ContractRegistry.from_source(writer), V2, compatibility="none")
        writer.close()
        assert wait_for(lambda: version_of(worker) == "2.0.0", timeout=20), "V2 never arrived"
        assert worker.live.up
        assert metrics.registry.get_sample_value("dataquarantine_contract_registry_up") == 1
        after = messages("after", 100)
        produce(topics.bootstrap, topics.raw, after)
        assert wait_for(lambda: worker.committed_records >= 300, timeout=30)
    check_outcome(topics, settings, sent_ids(before) | sent_ids(during), sent_ids(after))


@pytest.mark.s3
def test_an_s3_registry_outage_keeps_the_contracts_and_polling_brings_the_next_version(
    kafka_topics: Callable[..., KafkaTopics],
    moto_server: MotoServer,
    s3_env: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    if not moto_server.running:
        moto_server.start()
    bucket = f"dq-{uuid.uuid4().hex[:20]}"
    create_bucket(moto_server.endpoint_url, bucket)
    cut = PortCut(moto_server.port)  # the workers' way to S3, cut during the outage
    monkeypatch.setenv("AWS_ENDPOINT_URL", cut.endpoint_url)
    writer = S3Source(bucket, "contracts", endpoint_url=moto_server.endpoint_url)
    registry = ContractRegistry.from_source(writer)
    register_version(registry, V1, actor="test")
    topics = kafka_topics(partitions=2)
    settings = stream_settings(
        topics,
        tmp_path,
        contracts_url=f"s3://{bucket}/contracts",
        contracts_poll_seconds=0.5,
        contracts_cache=str(tmp_path / "cache"),
    )
    with WorkerThread(settings) as runner:
        worker = runner.worker
        assert wait_for(worker.ready, timeout=30)
        before = messages("before", 100)
        produce(topics.bootstrap, topics.raw, before)
        assert wait_for(lambda: worker.committed_records >= 100, timeout=30)

        cut.cut()
        assert wait_for(lambda: not worker.live.up, timeout=10), "the outage went unnoticed"
        during = messages("during", 100)
        produce(topics.bootstrap, topics.raw, during)
        assert wait_for(lambda: worker.committed_records >= 200, timeout=30)
        assert worker.ready() and version_of(worker) == "1.0.0"

        register_version(registry, V2, compatibility="none", actor="test")
        time.sleep(1.0)
        assert version_of(worker) == "1.0.0"  # unreachable: the contracts in use stay
        cut.restore()
        assert wait_for(lambda: version_of(worker) == "2.0.0", timeout=20), "V2 never arrived"
        after = messages("after", 100)
        produce(topics.bootstrap, topics.raw, after)
        assert wait_for(lambda: worker.committed_records >= 300, timeout=30)
    writer.close()
    cut.cut()
    check_outcome(topics, settings, sent_ids(before) | sent_ids(during), sent_ids(after))
