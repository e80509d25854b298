"""Bringing a database's schema up to date from its store URL, for the features that keep
their tables beside the quarantine's (gate history, per-minute validation metrics)."""

from __future__ import annotations

import contextlib

from dataquarantine.db.connect import connect, translate
from dataquarantine.db.errors import driver_errors
from dataquarantine.db.migrations.runner import migrate
from dataquarantine.db.sqlite import enter_wal
from dataquarantine.db.url import SqliteTarget, StoreTarget
from dataquarantine.errors import StoreUnavailableError
from dataquarantine.extras import require_extra

__all__ = ["ensure_schema"]


def ensure_schema(target: StoreTarget, *, application_name: str, timeout: float = 5.0) -> None:
    """Apply every pending migration to ``target`` on a connection of its own (closed after).

    A SQLite file is put in WAL mode, as the quarantine store keeps it. Raises
    StoreUnavailableError (worth retrying) or StoreIntegrityError (including a migration
    history that disagrees with this version's), ConfigError for ``sqlite:///:memory:``,
    MissingExtraError for a PostgreSQL URL without the ``postgres`` extra.
    """
    label = f"{target.display}: migrate"
    if not isinstance(target, SqliteTarget):
        require_extra("postgres", "a postgresql:// store")  # as the quarantine store says it
    try:
        conn = connect(target, autocommit=True, application_name=application_name, timeout=timeout)
        try:
            if isinstance(target, SqliteTarget):
                enter_wal(conn, timeout)
                migrate(conn, "sqlite", label=target.display)
            else:
                migrate(conn, "postgres", label=target.display, schema=target.schema)
        finally:
            with contextlib.suppress(*driver_errors()):
                conn.close()
    except driver_errors() as exc:
        raise translate(exc, label) from exc
    except OSError as exc:  # creating a SQLite file's parent folder
        raise StoreUnavailableError(f"{label}: {exc}") from exc
