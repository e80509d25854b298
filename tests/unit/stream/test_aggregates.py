"""ValidationMetricsWriter on SQLite: per-minute upserts that add up, retried after failures."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dataquarantine.db.connect import connect
from dataquarantine.quarantine.sql import open_store
from dataquarantine.stream import aggregates
from dataquarantine.stream.aggregates import MetricsRow, ValidationMetricsWriter
from dataquarantine.stream.stats import VALID, BatchObserver, BatchStats

StatsFactory = Callable[..., BatchStats]
PAST = datetime(2024, 5, 1, 10, 15, 42, tzinfo=UTC)
MINUTE = PAST.replace(second=0)


@pytest.fixture
def make_stats() -> StatsFactory:
    def make(
        counts: dict[tuple[str, str, str], int],
        *,
        at: datetime = PAST,
        validation_seconds: float = 0.1,
    ) -> BatchStats:
        return BatchStats(
            counts=counts,
            records=sum(counts.values()),
            validation_seconds=validation_seconds,
            commit_seconds=0.01,
            at=at,
        )

    return make


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store' / 'quarantine.db'}"


def by_key(rows: list[MetricsRow]) -> dict[tuple[datetime, str, str], MetricsRow]:
    return {(r.minute, r.topic, r.schema): r for r in rows}


def test_is_a_batch_observer(store_url: str) -> None:
    writer: BatchObserver = ValidationMetricsWriter(store_url, flush_interval=None)
    writer.set_lag("t", 0, 10)  # accepted, ignored


def test_closed_minutes_are_upserted_with_counts_and_average_duration(
    store_url: str, make_stats: StatsFactory
) -> None:
    writer = ValidationMetricsWriter(store_url, flush_interval=None)
    # 100 records validated in 0.1 s: each (topic, schema) is charged by its share.
    writer.observe_batch(
        make_stats(
            {
                ("raw", "user_event", VALID): 70,
                ("raw", "user_event", "schema_violation"): 10,
                ("raw", "unknown", "schema_not_found"): 20,
            }
        )
    )
    now = datetime.now(UTC)
    writer.observe_batch(make_stats({("raw", "user_event", VALID): 5}, at=now))

    assert writer.flush() == 2  # the current minute is still open
    rows = by_key(writer.rows())
    assert set(rows) == {(MINUTE, "raw", "user_event"), (MINUTE, "raw", "unknown")}
    ue = rows[MINUTE, "raw", "user_event"]
    assert (ue.processed, ue.valid, ue.invalid) == (80, 70, 10)
    assert ue.duration_ms_total == pytest.approx(80.0)
    assert ue.avg_duration_ms == pytest.approx(1.0)
    unknown = rows[MINUTE, "raw", "unknown"]
    assert (unknown.processed, unknown.valid, unknown.invalid) == (20, 0, 20)

    writer.close()  # writes the open minute too
    after = by_key(ValidationMetricsWriter(store_url, flush_interval=None).rows())
    assert after[now.replace(second=0, microsecond=0), "raw", "user_event"].processed == 5


def test_later_flushes_and_other_writers_add_to_the_row(
    store_url: str, make_stats: StatsFactory
) -> None:
    first = ValidationMetricsWriter(store_url, flush_interval=None)
    second = ValidationMetricsWriter(store_url, flush_interval=None)
    first.observe_batch(make_stats({("raw", "page_view", VALID): 10}, validation_seconds=0.01))
    first.flush()
    first.observe_batch(make_stats({("raw", "page_view", "rule_violation"): 10}))
    second.observe_batch(make_stats({("raw", "page_view", VALID): 20}, validation_seconds=0.05))
    first.close()
    second.close()

    (row,) = ValidationMetricsWriter(store_url, flush_interval=None).rows()
    assert (row.processed, row.valid, row.invalid) == (40, 30, 10)
    assert row.duration_ms_total == pytest.approx(10 + 100 + 50)
    assert row.avg_duration_ms == pytest.approx(160 / 40)


def test_one_statement_per_flush(
    store_url: str, make_stats: StatsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[str] = []

    def traced(*args: Any, **kwargs: Any) -> Any:
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(aggregates, "connect", traced)
    writer = ValidationMetricsWriter(store_url, flush_interval=None)
    writer.observe_batch(make_stats({("raw", "warmup", VALID): 1}))
    writer.flush()  # migrates and connects
    assert statements  # the writer's connection is traced
    statements.clear()
    for minute in range(30):
        at = PAST + timedelta(minutes=minute)
        writer.observe_batch(make_stats({("raw", f"s{i}", VALID): 3 for i in range(10)}, at=at))

    assert writer.flush() == 300
    assert len(statements) == 1
    assert statements[0].lstrip().startswith("INSERT INTO validation_metrics")
    assert len(writer.rows()) == 301


def test_a_failed_flush_is_logged_and_retried(
    tmp_path: Path, make_stats: StatsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the store's folder should be")
    url = f"sqlite:///{blocker / 'quarantine.db'}"
    writer = ValidationMetricsWriter(url, flush_interval=None)
    writer.observe_batch(make_stats({("raw", "user_event", VALID): 3}))

    with caplog.at_level(logging.WARNING, logger="dataquarantine.stream.aggregates"):
        assert writer.flush() == 0
    assert "retrying at the next flush" in caplog.text

    writer.observe_batch(make_stats({("raw", "user_event", VALID): 4}))
    blocker.unlink()
    assert writer.flush() == 1
    (row,) = writer.rows()
    assert row.processed == 7


def test_close_never_raises_when_the_store_is_unusable(
    tmp_path: Path, make_stats: StatsFactory
) -> None:
    blocker = tmp_path / "blocked"
    blocker.write_text("x")
    writer = ValidationMetricsWriter(f"sqlite:///{blocker / 'q.db'}", flush_interval=None)
    writer.observe_batch(make_stats({("raw", "user_event", VALID): 3}))
    writer.close()
    writer.close()


def test_the_background_thread_flushes_ended_minutes(
    store_url: str, make_stats: StatsFactory
) -> None:
    writer = ValidationMetricsWriter(store_url, flush_interval=0.05)
    try:
        writer.observe_batch(make_stats({("raw", "user_event", VALID): 9}))
        deadline = time.monotonic() + 10
        while not writer.rows() and time.monotonic() < deadline:
            time.sleep(0.05)
    except Exception:
        writer.close()
        raise
    rows = writer.rows()
    writer.close()
    assert [r.processed for r in rows] == [9]


def test_the_table_comes_with_the_store_migrations(store_url: str) -> None:
    store = open_store(store_url)
    store.migrate()
    assert (3, "per-minute validation metrics") in store.applied_migrations()
    store.close()
    path = store_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(validation_metrics)")]
    assert columns == [
        "minute", "topic", "schema", "processed", "valid", "invalid",
        "duration_ms_total", "avg_duration_ms",
    ]  # fmt: skip


def test_in_memory_store_disables_the_writer(make_stats: StatsFactory) -> None:
    writer = ValidationMetricsWriter("sqlite:///:memory:", flush_interval=1.0)
    writer.observe_batch(make_stats({("raw", "user_event", VALID): 3}))
    assert not writer.enabled
    assert writer.flush(everything=True) == 0
    writer.close()


def test_empty_batches_are_ignored(store_url: str, make_stats: StatsFactory) -> None:
    writer = ValidationMetricsWriter(store_url, flush_interval=None)
    writer.observe_batch(make_stats({}))
    writer.observe_batch(make_stats({("raw", "x", VALID): 0}))
    assert writer.flush(everything=True) == 0
    writer.close()
