"""The ``postgresql://`` contract source: versions in ``dq_contract_versions``, changes pushed
by ``LISTEN/NOTIFY``.

The table is created by the migrations (:mod:`dataquarantine.db.migrations.registry`) in the
URL's ``?schema=``. A registration inserts one row and, in the same transaction, notifies the
``dq_contracts`` channel with the schema as payload; every listening process marks its registry
stale and reloads it at its next batch boundary. A lost listening connection is reopened with
backoff; every LISTEN that starts counts as a change (a notification may have been missed
before it).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg

from dataquarantine.contracts.loader import spec_from_dict
from dataquarantine.contracts.source import StoredContract, same_version
from dataquarantine.db.connect import Connection, connect_postgres
from dataquarantine.db.errors import is_transient
from dataquarantine.db.migrations.ensure import ensure_schema
from dataquarantine.db.url import PostgresTarget, parse_store_url
from dataquarantine.errors import (
    ConfigError,
    RegistryError,
    RegistryUnavailableError,
    StoreError,
)
from dataquarantine.infra.retry import RetryPolicy

__all__ = ["CHANNEL", "PostgresSource"]

log = logging.getLogger("dataquarantine.registry")

#: The notification channel; the payload is the schema (``""`` without one).
CHANNEL = "dq_contracts"
_APP = "dataquarantine-registry"
_COLUMNS = "definition, fingerprint, registered_by, registered_at, verdict, reasons"


def _translate(exc: BaseException, what: str) -> RegistryError:
    if isinstance(exc, RegistryError):
        return exc
    if isinstance(exc, StoreError):  # from the migrations
        cls = RegistryUnavailableError if exc.transient else RegistryError
        return cls(f"{what}: {exc}")
    cls = RegistryUnavailableError if is_transient(exc) else RegistryError
    return cls(f"{what}: {exc}")


def _entry(row: tuple[Any, ...]) -> StoredContract:
    definition, fingerprint, by, at, verdict, reasons = row
    return StoredContract(
        spec_from_dict(definition),
        fingerprint,
        registered_by=by,
        registered_at=at,
        verdict=verdict,
        reasons=tuple(reasons or ()),
    )


class PostgresSource:
    """Contract versions in a PostgreSQL schema (the tables are migrated on open)."""

    def __init__(self, url: str, *, timeout: float = 3.0) -> None:
        target = parse_store_url(url)
        if not isinstance(target, PostgresTarget):
            raise ConfigError(f"not a PostgreSQL URL: {url!r}")
        self.target = target
        self.timeout = timeout
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self._migrated = False

    @property
    def location(self) -> str:
        return self.target.display

    def _run(self, what: str, fn: Callable[[Connection], Any]) -> Any:
        """``fn`` on the source's connection (opened, and the tables migrated, on first use);
        a failed connection is dropped, so the next call opens a new one."""
        with self._lock:
            try:
                if not self._migrated:
                    ensure_schema(self.target, application_name=_APP, timeout=self.timeout)
                    self._migrated = True
                if self._conn is None or self._conn.closed:
                    self._conn = connect_postgres(
                        self.target, autocommit=False, application_name=_APP, timeout=self.timeout
                    )
                with self._conn.transaction():
                    return fn(self._conn)
            except (psycopg.Error, OSError, StoreError) as exc:
                self._drop()
                raise _translate(exc, f"contract registry {self.location}: {what}") from exc

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                conn.close()

    def revision(self) -> str:
        row = self._run(
            "read the revision",
            lambda c: c.execute(
                "SELECT count(*), coalesce(max(seq), 0) FROM dq_contract_versions"
            ).fetchone(),
        )
        return f"{row[0]}:{row[1]}"

    def entries(self) -> list[StoredContract]:
        rows = self._run(
            "read the versions",
            lambda c: c.execute(
                f"SELECT {_COLUMNS} FROM dq_contract_versions ORDER BY seq"
            ).fetchall(),
        )
        return [_entry(r) for r in rows]

    def add(self, entry: StoredContract) -> bool:
        name, version = entry.spec.name, str(entry.spec.version)

        def insert(c: Connection) -> tuple[Any, ...] | None:
            inserted = c.execute(
                "INSERT INTO dq_contract_versions (name, version, format, definition, "
                "fingerprint, registered_by, registered_at, verdict, reasons) "
                "VALUES (%s, %s, %s, %s::jsonb, %s, %s, coalesce(%s, now()), %s, %s::jsonb) "
                "ON CONFLICT (name, version) DO NOTHING RETURNING seq",
                (
                    name,
                    version,
                    entry.spec.format,
                    json.dumps(entry.definition),
                    entry.fingerprint,
                    entry.registered_by,
                    entry.registered_at,
                    entry.verdict,
                    json.dumps(list(entry.reasons)),
                ),
            ).fetchone()
            if inserted is not None:
                c.execute("SELECT pg_notify(%s, %s)", (CHANNEL, self.target.schema or ""))
                return None
            row: tuple[Any, ...] | None = c.execute(
                f"SELECT {_COLUMNS} FROM dq_contract_versions WHERE name = %s AND version = %s",
                (name, version),
            ).fetchone()
            return row

        existing = self._run(f"register {entry.ref}", insert)
        return not same_version(_entry(existing), entry) if existing is not None else True

    def watch(self, on_change: Callable[[], None]) -> Callable[[], None] | None:
        """LISTEN on a connection of its own, in a daemon thread."""
        stop = threading.Event()
        thread = threading.Thread(
            target=self._listen, args=(on_change, stop), name="dq-registry-listen", daemon=True
        )
        thread.start()

        def cancel() -> None:
            stop.set()
            thread.join(timeout=5.0)

        return cancel

    def _listen(self, on_change: Callable[[], None], stop: threading.Event) -> None:
        schema = self.target.schema or ""
        policy = RetryPolicy(initial_backoff=0.2, max_backoff=5.0, deadline=None, max_attempts=1)
        failures = 0
        while not stop.is_set():
            try:
                conn = connect_postgres(
                    self.target, autocommit=True, application_name=_APP, timeout=self.timeout
                )
            except (psycopg.Error, OSError) as exc:
                failures += 1
                if failures == 1:
                    log.warning("registry notifications lost (%s); reconnecting", exc)
                stop.wait(policy.backoff(failures))
                continue
            try:
                conn.execute(f"LISTEN {CHANNEL}")
                if failures:
                    log.info("registry notifications back after %d attempt(s)", failures)
                failures = 0
                on_change()  # a registration may have happened before this LISTEN
                while not stop.is_set():
                    for note in conn.notifies(timeout=0.5):
                        if note.payload == schema:
                            on_change()
            except (psycopg.Error, OSError) as exc:
                failures += 1
                log.warning("registry notifications lost (%s); reconnecting", exc)
                stop.wait(policy.backoff(failures))
            finally:
                with contextlib.suppress(psycopg.Error, OSError):
                    conn.close()

    def close(self) -> None:
        with self._lock:
            self._drop()
