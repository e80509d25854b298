"""SQLite specifics of the SQL metadata store (pragmas, statement limits, locking, files,
migrations). The behaviour every store shares is in test_store_behaviour.py."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from tests.unit.quarantine.test_store_behaviour import make_record

from dataquarantine.db.migrations import MIGRATIONS
from dataquarantine.errors import (
    StoreIntegrityError,
    StoreUnavailableError,
)
from dataquarantine.quarantine.envelope import (
    QuarantineFilter,
)
from dataquarantine.quarantine.ports import QuarantineStore
from dataquarantine.quarantine.sql import (
    SqliteQuarantineStore,
    SqlQuarantineStore,
    open_store,
)

# -- SQLite specifics --------------------------------------------------------------------------


def test_sqlite_pragmas(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'q.db'}")
    store.migrate()
    assert isinstance(store, SqliteQuarantineStore)
    with store.connection() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert conn.execute("PRAGMA busy_timeout").fetchone() == (5000,)
    store.close()


def test_sqlite_multi_row_statements_within_an_old_parameter_limit(tmp_path: Path) -> None:
    # Rows go in by multi-row statements; a build limited to 999 bound parameters gets shorter
    # ones. New and existing rows mixed: only the new ones count (and get their code rows).
    store = SqliteQuarantineStore(tmp_path / "q.db")
    store.migrate()
    with store.connection() as conn:
        conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    records = [make_record(i) for i in range(701)]
    assert store.insert_many(records[::2]) == 351
    assert store.insert_many(records) == 350
    assert store.count(QuarantineFilter()) == 701
    with store.connection() as conn:
        codes = conn.execute("SELECT count(*) FROM dq_quarantine_codes").fetchone()
    assert codes == (701,)
    assert [r.id for r in store.iter(QuarantineFilter())] == [r.id for r in records]
    store.close()


def test_sqlite_relative_path_and_default_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///.dataquarantine/quarantine.db")
    store.migrate()
    store.insert_many([make_record(1)])
    store.close()
    assert (tmp_path / ".dataquarantine" / "quarantine.db").is_file()


def test_sqlite_memory() -> None:
    store: QuarantineStore = open_store("sqlite:///:memory:")  # mypy checks the Protocol
    store.migrate()
    assert store.insert_many([make_record(1), make_record(2)]) == 2
    assert store.count(QuarantineFilter(source_kind="kafka")) == 1
    store.close()


def test_sqlite_locked_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    store = SqliteQuarantineStore(path, busy_timeout=0.05)
    store.migrate()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailableError, match="locked"):
            store.insert_many([make_record(1)])
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.insert_many([make_record(1)]) == 1  # the same call succeeds once free
    store.close()


def test_sqlite_unopenable_file_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    store = open_store(f"sqlite:///{tmp_path / 'dir.db'}")
    with pytest.raises(StoreUnavailableError):
        store.migrate()


def test_sqlite_missing_schema_and_corrupt_rows_are_integrity_errors(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    store = open_store(f"sqlite:///{path}")
    with pytest.raises(StoreIntegrityError):  # not migrated: no such table
        store.count(QuarantineFilter())
    store.migrate()
    record = make_record(1)
    store.insert_many([record])
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("UPDATE dq_quarantine SET errors = 'not json'")
    raw.close()
    with pytest.raises(StoreIntegrityError, match="corrupt"):
        store.get(record.id)
    store.close()


def test_sqlite_refuses_a_diverging_migration_history(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    store = open_store(f"sqlite:///{path}")
    store.migrate()
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("UPDATE dq_schema_migrations SET name = 'something else' WHERE version = 1")
    raw.close()
    with pytest.raises(StoreIntegrityError, match="migration 1"):
        store.migrate()
    store.close()


def test_sqlite_concurrent_migrate_and_insert(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    stores = [open_store(url) for _ in range(4)]
    failures: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def work(n: int, store: SqlQuarantineStore) -> None:
        try:
            barrier.wait()
            store.migrate()
            store.insert_many([make_record(i) for i in range(n * 50, n * 50 + 100)])
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n, s)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert stores[0].count(QuarantineFilter()) == 250
    assert stores[0].applied_migrations() == [(m.version, m.name) for m in MIGRATIONS]
    for store in stores:
        store.close()
