"""ValidationMetricsWriter on real PostgreSQL: upserts that add up, and a server outage."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
from tests.fixtures.postgres import PrivatePostgres

from dataquarantine.stream.aggregates import ValidationMetricsWriter
from dataquarantine.stream.stats import VALID, BatchStats

PAST = datetime(2024, 5, 1, 10, 15, 42, tzinfo=UTC)
MINUTE = PAST.replace(second=0)


def stats(counts: dict[tuple[str, str, str], int], *, at: datetime = PAST) -> BatchStats:
    return BatchStats(
        counts=counts,
        records=sum(counts.values()),
        validation_seconds=0.001 * sum(counts.values()),
        commit_seconds=0.01,
        at=at,
    )


def test_upserts_add_counts_and_keep_the_average(pg_schema_url: str) -> None:
    writer = ValidationMetricsWriter(pg_schema_url, flush_interval=None)
    writer.observe_batch(
        stats({("raw", "user_event", VALID): 90, ("raw", "user_event", "parse_error"): 10})
    )
    assert writer.flush() == 1
    writer.observe_batch(stats({("raw", "user_event", VALID): 50}))
    writer.observe_batch(stats({("raw", "page_view", "rule_violation"): 4}))
    writer.close()

    reader = ValidationMetricsWriter(pg_schema_url, flush_interval=None)
    rows = {(r.topic, r.schema): r for r in reader.rows()}
    ue = rows["raw", "user_event"]
    assert ue.minute == MINUTE
    assert (ue.processed, ue.valid, ue.invalid) == (150, 140, 10)
    assert abs(ue.duration_ms_total - 150.0) < 1e-9
    assert ue.avg_duration_ms is not None
    assert abs(ue.avg_duration_ms - 1.0) < 1e-9
    assert (rows["raw", "page_view"].invalid, rows["raw", "page_view"].valid) == (4, 0)


def test_concurrent_writers_sum_up(pg_schema_url: str) -> None:
    writers = [ValidationMetricsWriter(pg_schema_url, flush_interval=None) for _ in range(4)]
    writers[0].flush(everything=True)  # nothing pending: no migration race to set up

    def work(writer: ValidationMetricsWriter) -> None:
        for minute in range(20):
            writer.observe_batch(
                stats({("raw", "user_event", VALID): 5}, at=PAST + timedelta(minutes=minute))
            )
            writer.flush()

    threads = [threading.Thread(target=work, args=(w,)) for w in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w in writers:
        w.close()

    rows = ValidationMetricsWriter(pg_schema_url, flush_interval=None).rows()
    assert len(rows) == 20
    assert {r.processed for r in rows} == {20}


def test_an_outage_keeps_the_counts_until_the_server_is_back(
    private_postgres_factory: Callable[[], PrivatePostgres],
) -> None:
    server = private_postgres_factory()
    writer = ValidationMetricsWriter(server.url, flush_interval=None)
    writer.observe_batch(stats({("raw", "user_event", VALID): 1}))
    assert writer.flush() == 1

    server.stop("immediate")
    writer.observe_batch(stats({("raw", "user_event", VALID): 2}))
    writer.observe_batch(stats({("raw", "user_event", "schema_violation"): 3}))
    assert writer.flush() == 0  # logged, kept
    assert writer.flush() == 0

    server.start()
    assert writer.flush() == 1
    writer.close()
    with psycopg.connect(server.url) as conn:
        found = conn.execute(
            "SELECT processed, valid, invalid FROM validation_metrics WHERE minute = %s",
            (MINUTE,),
        ).fetchall()
    assert found == [(6, 3, 3)]
