"""Schema migrations: the assembled list is pinned (shipped migrations are never edited or
reordered), and the runner applies what is pending or refuses a diverging history."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sqlite3
from pathlib import Path

import pytest

from dataquarantine.db.migrations import MIGRATIONS, ensure_schema, migrate, pending
from dataquarantine.db.migrations.runner import APPLIED_SQL
from dataquarantine.db.url import SqliteTarget
from dataquarantine.errors import ConfigError, StoreIntegrityError, StoreUnavailableError

# Changing either means a shipped migration changed: existing databases would refuse to open
# (or silently miss a table). Append a new migration instead, then update both pins.
PINNED_VERSIONS = [
    (1, "quarantine records and violation codes"),
    (2, "quality gate run history"),
    (3, "per-minute validation metrics"),
    (4, "review revisions, events and reprocessed records"),
    (5, "shared contract registry"),
    (6, "bulk fix jobs and their items"),
    (7, "record indexes for keyset pages on (quarantined_at, id)"),
]
PINNED_SHA256 = "2b33ef0c21bb285085620ee4de90ede1799a418bc08bb28f11580baaa1b4b875"


def _canonical() -> bytes:
    return json.dumps(
        [
            {
                "version": m.version,
                "name": m.name,
                "sqlite": list(m.sqlite),
                "postgres": list(m.postgres),
            }
            for m in MIGRATIONS
        ],
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def test_versions_and_names_are_pinned() -> None:
    assert [(m.version, m.name) for m in MIGRATIONS] == PINNED_VERSIONS


def test_statements_are_pinned() -> None:
    assert hashlib.sha256(_canonical()).hexdigest() == PINNED_SHA256


def test_statements_per_dialect() -> None:
    for m in MIGRATIONS:
        assert m.statements("sqlite") == m.sqlite
        assert m.statements("postgres") == m.postgres


# -- the runner --------------------------------------------------------------------------------


def test_ensure_schema_creates_every_table_once_in_wal_mode(tmp_path: Path) -> None:
    target = SqliteTarget(tmp_path / "sub" / "q.db")
    ensure_schema(target, application_name="test")
    ensure_schema(target, application_name="test")  # nothing left to do
    with contextlib.closing(sqlite3.connect(tmp_path / "sub" / "q.db")) as conn:
        applied = conn.execute(APPLIED_SQL).fetchall()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert applied == PINNED_VERSIONS
    assert {"dq_quarantine", "dq_gate_runs", "validation_metrics", "dq_reprocessed"} <= tables


def test_a_diverging_history_is_refused_and_nothing_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        migrate(conn, "sqlite", label="db")
        conn.execute("UPDATE dq_schema_migrations SET name = 'other' WHERE version = 2")
        conn.execute("DELETE FROM dq_schema_migrations WHERE version = 4")
        conn.execute("DROP TABLE dq_reprocessed")
        with pytest.raises(StoreIntegrityError, match="db: migration 2 is recorded as 'other'"):
            migrate(conn, "sqlite", label="db")
        assert not conn.in_transaction
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "dq_reprocessed" not in tables


def test_newer_migrations_are_logged_and_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    applied = {m.version: m.name for m in MIGRATIONS} | {99: "from the future"}
    with caplog.at_level(logging.WARNING, logger="dataquarantine.db.migrations"):
        assert pending(applied, label="db") == []
    assert "[99] unknown to this version" in caplog.text
    assert pending({1: MIGRATIONS[0].name}, label="db") == list(MIGRATIONS[1:])


def test_ensure_schema_refuses_memory_and_translates_unopenable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not :memory:"):
        ensure_schema(SqliteTarget(None), application_name="test")
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StoreUnavailableError, match="migrate"):
        ensure_schema(SqliteTarget(tmp_path / "dir.db"), application_name="test")
