"""``stream`` with OpenLineage configured: START, RUNNING events with the committed counts,
COMPLETE at shutdown, to a local receiver."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from tests.fixtures.kafka import KafkaTopics, WorkerThread, generated_messages, produce, wait_for
from tests.fixtures.lineage import Receiver

from dataquarantine.cli.stream import build_observers
from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR
from dataquarantine.stream.settings import StreamSettings

pytestmark = pytest.mark.kafka


def test_running_events_carry_the_committed_counts(
    kafka_topics: Callable[..., KafkaTopics],
    receiver: Receiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENLINEAGE_URL", receiver.url)
    topics = kafka_topics(partitions=2)
    sent = generated_messages(400, bad_ratio=0.1, seed=3)
    bad = sum(1 for m in sent if m.expected != "valid")
    settings = StreamSettings(
        **topics.settings(
            contracts_dir=str(DEMO_CONTRACTS_DIR),
            store_url=f"sqlite:///{tmp_path / 'q.db'}",
            payloads_url=f"file://{tmp_path / 'p'}",
            lineage_interval_seconds=0.2,
        )
    )
    observers = build_observers(settings)
    produce(topics.bootstrap, topics.raw, (m.as_tuple() for m in sent))

    def rows(kind: str) -> int:
        return sum(
            d["inputFacets"]["dataQualityMetrics"]["rowCount"]
            for e in receiver.events
            if e["eventType"] == kind
            for d in e["inputs"]
        )

    with WorkerThread(settings, observers=observers):
        assert wait_for(lambda: rows("RUNNING") >= 1, timeout=60)
    for observer in observers:
        close = getattr(observer, "close", None)
        if callable(close):
            close()
    kinds = [e["eventType"] for e in receiver.events]
    assert kinds[0] == "START" and kinds[-1] == "COMPLETE" and "RUNNING" in kinds
    assert len({e["run"]["runId"] for e in receiver.events}) == 1
    assert rows("RUNNING") + rows("COMPLETE") == len(sent)
    failed = sum(
        int(a["actual"])
        for e in receiver.events
        for d in e["inputs"]
        for a in d["inputFacets"].get("dataQualityAssertions", {}).get("assertions", [])
        if a["assertion"] == "contract"
    )
    assert failed == bad
    outputs = {
        o["name"]: o["outputFacets"]["outputStatistics"]["rowCount"]
        for o in receiver.events[-1]["outputs"]
    }
    assert set(outputs) == {topics.valid, topics.dlq, "dq_quarantine"}
