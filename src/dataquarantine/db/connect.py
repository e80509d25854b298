"""Connections to the store's database, and the one place a session's ``search_path`` is set.

:func:`connect` opens a plain DB-API connection for modules that keep their own tables beside
the quarantine's (gate history, per-minute validation metrics) and for loads;
:func:`use_schema` confines a PostgreSQL session to one schema (the quarantine store and the
gate runner open their own connections and call it). :func:`translate` turns driver errors into
:mod:`dataquarantine.errors` by :mod:`dataquarantine.db.errors`' table.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any, TypeAlias

from dataquarantine.db.errors import driver_errors, is_transient
from dataquarantine.db.url import PostgresTarget, SqliteTarget, StoreTarget, quote_identifier
from dataquarantine.errors import (
    ConfigError,
    StoreError,
    StoreIntegrityError,
    StoreUnavailableError,
)

if TYPE_CHECKING:
    import psycopg

    #: A PostgreSQL connection with tuple rows.
    Connection: TypeAlias = psycopg.Connection[tuple[Any, ...]]
else:
    Connection = Any

__all__ = [
    "Connection",
    "StoreTarget",
    "connect",
    "driver_errors",
    "translate",
    "use_schema",
]


def translate(exc: BaseException, label: str) -> StoreError:
    """A driver exception as a store error: transient when the database is unreachable,
    locked or busy, terminal otherwise (:func:`dataquarantine.db.errors.is_transient`)."""
    if isinstance(exc, StoreError):
        return exc
    cls = StoreUnavailableError if is_transient(exc) else StoreIntegrityError
    return cls(f"{label}: {exc}")


def use_schema(conn: Connection, schema: str | None) -> None:
    """Make ``schema`` (validated and quoted) the session's whole ``search_path``, so tables
    of the same name elsewhere are never seen; nothing when ``schema`` is None. Session-wide:
    a caller in a transaction commits it."""
    if schema:
        conn.execute("SELECT set_config('search_path', %s, false)", (quote_identifier(schema),))


def connect(
    target: StoreTarget, *, autocommit: bool, application_name: str, timeout: float = 5.0
) -> Any:
    """A new connection (the caller owns and closes it). Driver errors propagate untranslated;
    wrap the caller's work with :func:`translate`."""
    if isinstance(target, SqliteTarget):
        if target.path is None:
            raise ConfigError(f"{application_name} needs a SQLite file, not :memory:")
        target.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(target.path), timeout=timeout, check_same_thread=False)
        if autocommit:
            conn.isolation_level = None
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        return conn
    return connect_postgres(
        target, autocommit=autocommit, application_name=application_name, timeout=timeout
    )


def connect_postgres(
    target: PostgresTarget, *, autocommit: bool, application_name: str, timeout: float = 5.0
) -> Connection:
    """A new PostgreSQL connection confined to the target's schema (:func:`use_schema`)."""
    from dataquarantine.extras import require_extra

    require_extra("postgres", f"{application_name} on a postgresql:// URL")
    import psycopg

    pg: Connection = psycopg.connect(
        target.conninfo,
        autocommit=autocommit,
        connect_timeout=max(1, int(timeout)),
        application_name=application_name,
    )
    try:
        use_schema(pg, target.schema)
        if target.schema and not autocommit:
            pg.commit()  # keep the session setting out of the caller's transaction
    except BaseException:
        pg.close()
        raise
    return pg
