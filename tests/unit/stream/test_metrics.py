"""StreamMetrics: counters from BatchStats and the exposition names."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from dataquarantine.infra.prometheus import new_registry
from dataquarantine.stream.metrics import StreamMetrics
from dataquarantine.stream.stats import VALID, BatchObserver, BatchStats

StatsFactory = Callable[..., BatchStats]


@pytest.fixture
def make_stats() -> StatsFactory:
    def make(
        counts: dict[tuple[str, str, str], int] | None = None,
        *,
        validation_seconds: float = 0.004,
        commit_seconds: float = 0.002,
    ) -> BatchStats:
        counts = counts if counts is not None else {("raw-events", "user_event", VALID): 1}
        return BatchStats(
            counts=counts,
            records=sum(counts.values()),
            validation_seconds=validation_seconds,
            commit_seconds=commit_seconds,
            at=datetime.now(UTC),
        )

    return make


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    found = registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def test_is_a_batch_observer() -> None:
    observer: BatchObserver = StreamMetrics()
    assert observer is not None


def test_counters_add_up_per_topic_schema_and_error_type(make_stats: StatsFactory) -> None:
    metrics = StreamMetrics(CollectorRegistry())
    batch = {
        ("raw-events", "user_event", VALID): 470,
        ("raw-events", "user_event", "schema_violation"): 20,
        ("raw-events", "unknown", "schema_not_found"): 7,
        ("raw-events", "page_view", "parse_error"): 3,
    }
    metrics.observe_batch(make_stats(batch))
    metrics.observe_batch(make_stats({("raw-events", "user_event", VALID): 30}))
    r = metrics.registry
    ue = {"topic": "raw-events", "schema": "user_event"}

    assert value(r, "dataquarantine_records_processed_total", **ue, error_type=VALID) == 500
    assert value(r, "dataquarantine_records_valid_total", **ue, error_type=VALID) == 500
    assert (
        value(r, "dataquarantine_records_invalid_total", **ue, error_type="schema_violation") == 20
    )
    assert (
        value(r, "dataquarantine_records_processed_total", **ue, error_type="schema_violation")
        == 20
    )
    unknown = {"topic": "raw-events", "schema": "unknown", "error_type": "schema_not_found"}
    assert value(r, "dataquarantine_records_invalid_total", **unknown) == 7
    # Valid records never show up as invalid, and the other way round.
    assert (
        r.get_sample_value("dataquarantine_records_invalid_total", {**ue, "error_type": VALID})
        is None
    )
    assert (
        r.get_sample_value(
            "dataquarantine_records_valid_total", {**ue, "error_type": "schema_violation"}
        )
        is None
    )


def test_processed_is_valid_plus_invalid(make_stats: StatsFactory) -> None:
    metrics = StreamMetrics(CollectorRegistry())
    metrics.observe_batch(
        make_stats(
            {
                ("a", "x", VALID): 11,
                ("a", "x", "rule_violation"): 2,
                ("b", "y", "parse_error"): 5,
                ("b", "y", "empty"): 0,
            }
        )
    )

    def total(name: str) -> float:
        return sum(s.value for m in metrics.registry.collect() for s in m.samples if s.name == name)

    processed = total("dataquarantine_records_processed_total")
    assert processed == 18
    assert processed == total("dataquarantine_records_valid_total") + total(
        "dataquarantine_records_invalid_total"
    )


def test_durations_are_observed_once_per_batch(make_stats: StatsFactory) -> None:
    metrics = StreamMetrics(CollectorRegistry())
    metrics.observe_batch(make_stats(validation_seconds=0.003, commit_seconds=0.020))
    metrics.observe_batch(make_stats(validation_seconds=0.007, commit_seconds=0.040))
    r = metrics.registry

    assert value(r, "dataquarantine_validation_duration_seconds_count") == 2
    assert value(r, "dataquarantine_validation_duration_seconds_sum") == pytest.approx(0.010)
    assert value(r, "dataquarantine_batch_commit_duration_seconds_count") == 2
    assert value(r, "dataquarantine_batch_commit_duration_seconds_sum") == pytest.approx(0.060)
    assert value(r, "dataquarantine_validation_duration_seconds_bucket", le="0.005") == 1


def test_lag_per_partition_and_cleared_on_revoke() -> None:
    metrics = StreamMetrics(CollectorRegistry())
    metrics.set_lag("raw-events", 0, 1200)
    metrics.set_lag("raw-events", 1, 3)
    metrics.set_lag("raw-events", 1, -1)  # "unknown" offsets never show as negative lag
    r = metrics.registry
    assert value(r, "dataquarantine_consumer_lag", topic="raw-events", partition="0") == 1200
    assert value(r, "dataquarantine_consumer_lag", topic="raw-events", partition="1") == 0

    metrics.clear_lag("raw-events", 0)
    metrics.clear_lag("raw-events", 7)  # never seen: no error
    assert (
        r.get_sample_value("dataquarantine_consumer_lag", {"topic": "raw-events", "partition": "0"})
        is None
    )


def test_exposition_uses_the_seed_names(make_stats: StatsFactory) -> None:
    metrics = StreamMetrics()
    metrics.observe_batch(
        make_stats(
            {
                ("raw-events", "user_event", VALID): 2,
                ("raw-events", "user_event", "schema_violation"): 1,
            }
        )
    )
    metrics.set_lag("raw-events", 0, 5)
    text = generate_latest(metrics.registry).decode()

    for name in (
        "dataquarantine_records_processed_total",
        "dataquarantine_records_valid_total",
        "dataquarantine_records_invalid_total",
        "dataquarantine_validation_duration_seconds_bucket",
        "dataquarantine_batch_commit_duration_seconds_bucket",
        "dataquarantine_consumer_lag",
    ):
        assert f"\n{name}" in text, name
    assert (
        'dataquarantine_records_invalid_total{error_type="schema_violation",'
        'schema="user_event",topic="raw-events"} 1.0' in text
    )
    # The default registry is private and carries the process collectors (RSS, CPU).
    assert "process_resident_memory_bytes" in text


def test_two_instances_do_not_clash() -> None:
    first, second = StreamMetrics(), StreamMetrics()
    assert first.registry is not second.registry
    shared = new_registry()
    StreamMetrics(shared)
    with pytest.raises(ValueError, match="Duplicated"):
        StreamMetrics(shared)


def test_revoked_partitions_lose_their_lag_series() -> None:
    from dataquarantine.stream.checkpoint import clear_lag

    metrics = StreamMetrics(CollectorRegistry())
    metrics.set_lag("raw", 0, 5)
    metrics.set_lag("raw", 1, 7)
    clear_lag([metrics], {("raw", 0)})  # what Committer.drop does for revoked partitions
    families = {s.labels["partition"] for s in metrics.lag.collect()[0].samples}
    assert families == {"1"}


def test_readiness_is_read_at_scrape_time_and_retries_are_counted_by_step() -> None:
    metrics = StreamMetrics(CollectorRegistry())
    ready = [False]
    metrics.track_ready(lambda: ready[0])
    assert b"dataquarantine_worker_ready 0.0" in generate_latest(metrics.registry)
    ready[0] = True
    assert b"dataquarantine_worker_ready 1.0" in generate_latest(metrics.registry)
    metrics.observe_retry("quarantine write")
    metrics.observe_retry("quarantine write")
    text = generate_latest(metrics.registry).decode()
    assert 'dataquarantine_stream_retries_total{step="quarantine_write"} 2.0' in text
