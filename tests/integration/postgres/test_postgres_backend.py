"""PostgreSQL-only behaviour of the metadata store: schemas, concurrency, outages, errors.

The backend-independent behaviour suite (filters, paging, round trips, 50k rows) runs on
PostgreSQL too, from tests/unit/quarantine/test_store_behaviour.py.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql
from tests.fixtures.postgres import PrivatePostgres, drop_schema, with_schema

from dataquarantine.db.migrations import MIGRATIONS
from dataquarantine.errors import StoreIntegrityError, StoreUnavailableError
from dataquarantine.kernel.results import ErrorCode, Violation
from dataquarantine.quarantine.envelope import (
    ENVELOPE_NAMESPACE,
    KafkaSource,
    PayloadRef,
    QuarantineFilter,
    QuarantineRecord,
)
from dataquarantine.quarantine.sql import SqlQuarantineStore, open_store

ALL = QuarantineFilter()


def make_record(i: int) -> QuarantineRecord:
    source = KafkaSource("orders", i % 4, i)
    dedup_key = f"{source.coordinates}#{i:064x}"
    return QuarantineRecord(
        id=uuid.uuid5(ENVELOPE_NAMESPACE, dedup_key),
        source=source,
        errors=(Violation(ErrorCode.SCHEMA_VIOLATION, "/id", f"record {i} is bad"),),
        payload=PayloadRef("chunks/0", i * 10, 10, f"{i:064x}"),
        dedup_key=dedup_key,
    )


@pytest.fixture
def open_pg(pg_url: str) -> Iterator[Callable[[str], SqlQuarantineStore]]:
    """Open (not migrate) stores on URLs; all are closed after the test."""
    stores: list[SqlQuarantineStore] = []

    def make(url: str) -> SqlQuarantineStore:
        stores.append(open_store(url))
        return stores[-1]

    yield make
    for store in stores:
        store.close()


def _tables(url: str, schema: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
        ).fetchall()
    return {r[0] for r in rows}


def _backend_pid(store: SqlQuarantineStore) -> int:
    return int(store.query("SELECT pg_backend_pid()")[0][0])


def test_schema_is_created_and_isolates_stores(
    pg_url: str,
    pg_schema_url_factory: Callable[[], str],
    open_pg: Callable[[str], SqlQuarantineStore],
) -> None:
    first, second = open_pg(pg_schema_url_factory()), open_pg(pg_schema_url_factory())
    public_before = _tables(pg_url, "public")
    first.migrate()
    second.migrate()
    first.insert_many([make_record(i) for i in range(3)])
    assert first.count(ALL) == 3
    assert second.count(ALL) == 0
    schema = getattr(first, "schema", None)
    assert isinstance(schema, str)
    assert {"dq_quarantine", "dq_quarantine_codes", "dq_schema_migrations"} <= _tables(
        pg_url, schema
    )
    assert _tables(pg_url, "public") == public_before


def test_mixed_case_schema_is_quoted(
    pg_url: str, open_pg: Callable[[str], SqlQuarantineStore]
) -> None:
    schema = f"dq_test_Mixed_{uuid.uuid4().hex[:8]}"
    try:
        store = open_pg(with_schema(pg_url, schema))
        store.migrate()
        assert store.insert_many([make_record(1)]) == 1
        assert "dq_quarantine" in _tables(pg_url, schema)  # not folded to lower case
        assert _tables(pg_url, schema.lower()) == set()
    finally:
        drop_schema(pg_url, schema)


def test_concurrent_migrations_apply_once(
    pg_schema_url: str, open_pg: Callable[[str], SqlQuarantineStore]
) -> None:
    stores = [open_pg(pg_schema_url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    failures: list[BaseException] = []

    def work(store: SqlQuarantineStore) -> None:
        try:
            barrier.wait()
            store.migrate()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    expected = [(m.version, m.name) for m in MIGRATIONS]
    assert all(store.applied_migrations() == expected for store in stores)


def test_concurrent_inserts_of_the_same_records(
    pg_schema_url: str, open_pg: Callable[[str], SqlQuarantineStore]
) -> None:
    stores = [open_pg(pg_schema_url) for _ in range(3)]
    stores[0].migrate()
    records = [make_record(i) for i in range(2000)]
    counts: list[int] = []
    barrier = threading.Barrier(len(stores))

    def work(store: SqlQuarantineStore) -> None:
        barrier.wait()
        counts.append(store.insert_many(records))

    threads = [threading.Thread(target=work, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 2000
    assert stores[0].count(ALL) == 2000


def test_unmigrated_and_corrupt_data_are_integrity_errors(
    pg_url: str, pg_schema_url: str, open_pg: Callable[[str], SqlQuarantineStore]
) -> None:
    store = open_pg(pg_schema_url)
    with pytest.raises(StoreIntegrityError):
        store.count(ALL)
    store.migrate()
    record = make_record(1)
    store.insert_many([record])
    schema = getattr(store, "schema", None)
    assert isinstance(schema, str)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("UPDATE {}.dq_quarantine SET errors = '\"not a list\"'").format(
                sql.Identifier(schema)
            )
        )
        conn.execute(
            sql.SQL("UPDATE {}.dq_schema_migrations SET name = 'other'").format(
                sql.Identifier(schema)
            )
        )
    with pytest.raises(StoreIntegrityError, match="corrupt"):
        store.get(record.id)
    with pytest.raises(StoreIntegrityError, match="migration 1"):
        store.migrate()


def test_unreachable_server_is_unavailable(open_pg: Callable[[str], SqlQuarantineStore]) -> None:
    store = open_pg("postgresql://postgres@127.0.0.1:1/test?connect_timeout=2")
    with pytest.raises(StoreUnavailableError):
        store.check()
    with pytest.raises(StoreUnavailableError):
        store.insert_many([make_record(1)])


def test_a_killed_connection_is_replaced_transparently(
    pg_url: str, pg_schema_url: str, open_pg: Callable[[str], SqlQuarantineStore]
) -> None:
    store = open_pg(pg_schema_url)
    store.migrate()
    pid = _backend_pid(store)
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    # The dead connection is noticed on use and the call is retried once on a new one.
    assert store.insert_many([make_record(1)]) == 1
    assert _backend_pid(store) != pid


def test_outage_then_recovery(
    private_postgres_factory: Callable[[], PrivatePostgres],
    open_pg: Callable[[str], SqlQuarantineStore],
) -> None:
    server = private_postgres_factory()
    store = open_pg(server.url)  # no schema: the private server's public schema is ours
    store.migrate()
    assert store.insert_many([make_record(i) for i in range(100)]) == 100

    server.stop("immediate")
    batch = [make_record(i) for i in range(100, 200)]
    with pytest.raises(StoreUnavailableError):
        store.insert_many(batch)
    with pytest.raises(StoreUnavailableError):
        store.check()
    with pytest.raises(StoreUnavailableError):
        store.count(ALL)

    server.start()
    assert store.insert_many(batch) == 100  # the caller's retry succeeds
    assert store.count(ALL) == 200

    # A restart between two calls is invisible: the stale connection is replaced.
    server.stop("immediate")
    server.start()
    assert store.insert_many([make_record(200)]) == 1
    assert store.count(ALL) == 201
