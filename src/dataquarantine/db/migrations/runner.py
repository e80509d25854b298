"""Applying the migrations: one transaction for everything pending, each migration's
statements together with its bookkeeping row in ``dq_schema_migrations``; a database whose
recorded history disagrees with :data:`~dataquarantine.db.migrations.catalog.MIGRATIONS` is
refused.

The caller owns the connection (autocommit: the runner begins and ends its own transaction)
and translates driver errors; history disagreements raise
:class:`~dataquarantine.errors.StoreIntegrityError` directly.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dataquarantine.db.migrations.catalog import MIGRATIONS
from dataquarantine.db.migrations.model import Dialect, Migration
from dataquarantine.db.url import quote_identifier
from dataquarantine.errors import StoreIntegrityError

if TYPE_CHECKING:
    from dataquarantine.db.connect import Connection

__all__ = ["APPLIED_SQL", "migrate", "pending"]

log = logging.getLogger("dataquarantine.db.migrations")

#: ``(version, name)`` of every applied migration, in version order.
APPLIED_SQL = "SELECT version, name FROM dq_schema_migrations ORDER BY version"

_CREATE_SQLITE = """
    CREATE TABLE IF NOT EXISTS dq_schema_migrations (
        version    INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        applied_at TEXT NOT NULL
    )
"""

_CREATE_POSTGRES = """
    CREATE TABLE dq_schema_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
    )
"""


def pending(applied: Mapping[int, str], *, label: str) -> list[Migration]:
    """Migrations still to apply, given the recorded ``{version: name}``.

    Raises StoreIntegrityError (naming ``label``, the database's display URL) when a recorded
    name differs from ours; versions newer than ours are logged and left alone.
    """
    for migration in MIGRATIONS:
        name = applied.get(migration.version)
        if name is not None and name != migration.name:
            raise StoreIntegrityError(
                f"{label}: migration {migration.version} is recorded as {name!r}, "
                f"this version of DataQuarantine calls it {migration.name!r}"
            )
    newer = sorted(set(applied) - {m.version for m in MIGRATIONS})
    if newer:
        log.warning("%s has migrations %s unknown to this version of DataQuarantine", label, newer)
    return [m for m in MIGRATIONS if m.version not in applied]


def migrate(conn: Any, dialect: Dialect, *, label: str, schema: str | None = None) -> None:
    """Apply the pending migrations on ``conn`` (an autocommit connection of ``dialect``).

    SQLite: one ``BEGIN IMMEDIATE`` transaction (other processes wait for it). PostgreSQL: one
    transaction under an advisory lock per schema, so concurrent migrators of the same schema
    queue and the second finds nothing left to do; ``schema`` (when given) is created if
    missing. ``label`` names the database in messages.
    """
    if dialect == "sqlite":
        _migrate_sqlite(conn, label)
    else:
        _migrate_postgres(conn, label, schema)


def _migrate_sqlite(conn: sqlite3.Connection, label: str) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_CREATE_SQLITE)
        applied = dict(conn.execute("SELECT version, name FROM dq_schema_migrations"))
        for migration in pending(applied, label=label):
            for statement in migration.sqlite:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO dq_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, datetime.now(UTC).isoformat()),
            )
            log.info("%s: applied migration %d %s", label, migration.version, migration.name)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _lock_key(schema: str | None) -> int:
    """A stable signed 64-bit advisory-lock key for migrating ``schema``."""
    digest = hashlib.sha256(f"dataquarantine.migrate:{schema or ''}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _migrate_postgres(conn: Connection, label: str, schema: str | None) -> None:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(schema),))
        # Check before creating: CREATE ... IF NOT EXISTS still needs CREATE privilege.
        if (
            schema
            and not conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
            ).fetchone()
        ):
            conn.execute(f"CREATE SCHEMA {quote_identifier(schema)}")
        row = conn.execute("SELECT to_regclass('dq_schema_migrations')").fetchone()
        if (row[0] if row else None) is None:
            conn.execute(_CREATE_POSTGRES)
        rows = conn.execute("SELECT version, name FROM dq_schema_migrations").fetchall()
        for migration in pending(dict(rows), label=label):
            for statement in migration.postgres:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO dq_schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            log.info("%s: applied migration %d %s", label, migration.version, migration.name)
