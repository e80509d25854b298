"""Plain DB-API connections to the store's database, for modules that keep their own tables
beside the quarantine's (gate history, per-minute validation metrics).

The store's migrations create those tables; this module only connects, translates driver
errors into :mod:`dataquarantine.errors`, and encodes timestamps the way the store does
(integer microseconds on SQLite, ``timestamptz`` on PostgreSQL).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from dataquarantine.errors import (
    ConfigError,
    StoreError,
    StoreIntegrityError,
    StoreUnavailableError,
)
from dataquarantine.quarantine.sql.base import from_epoch_micros, to_epoch_micros, to_utc
from dataquarantine.quarantine.sql.url import PostgresTarget, SqliteTarget, quote_identifier

__all__ = [
    "StoreTarget",
    "connect",
    "decode_ts",
    "driver_errors",
    "encode_ts",
    "placeholder",
    "translate",
]

StoreTarget = SqliteTarget | PostgresTarget


def placeholder(target: StoreTarget) -> str:
    """The bind-parameter mark of the target's driver."""
    return "?" if isinstance(target, SqliteTarget) else "%s"


def encode_ts(target: StoreTarget, value: datetime) -> Any:
    return to_epoch_micros(value) if isinstance(target, SqliteTarget) else to_utc(value)


def decode_ts(value: Any) -> datetime:
    return to_utc(value) if isinstance(value, datetime) else from_epoch_micros(int(value))


def driver_errors() -> tuple[type[BaseException], ...]:
    """The exceptions :func:`translate` knows (psycopg's only when it is importable)."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return (sqlite3.Error, OSError)
    return (sqlite3.Error, OSError, psycopg.Error)


def translate(exc: BaseException, label: str) -> StoreError:
    """A driver exception as a store error: transient when the database is unreachable,
    locked or busy, terminal otherwise."""
    if isinstance(exc, StoreError):
        return exc
    transient = isinstance(exc, sqlite3.OperationalError | OSError)
    if not transient and not isinstance(exc, sqlite3.Error):
        import psycopg

        transient = isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
    cls = StoreUnavailableError if transient else StoreIntegrityError
    return cls(f"{label}: {exc}")


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
    from dataquarantine.extras import require_extra

    require_extra("postgres", f"{application_name} on a postgresql:// URL")
    import psycopg

    pg = psycopg.connect(
        target.conninfo,
        autocommit=autocommit,
        connect_timeout=max(1, int(timeout)),
        application_name=application_name,
    )
    if target.schema:
        pg.execute(
            "SELECT set_config('search_path', %s, false)", (quote_identifier(target.schema),)
        )
        if not autocommit:
            pg.commit()  # keep the session setting out of the caller's transaction
    return pg
