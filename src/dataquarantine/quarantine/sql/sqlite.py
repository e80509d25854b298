"""SQLite backend of the quarantine metadata store (stdlib :mod:`sqlite3`)."""

from __future__ import annotations

import builtins
import functools
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from dataquarantine.db.codec import from_epoch_micros, to_epoch_micros
from dataquarantine.db.migrations.model import Dialect
from dataquarantine.db.migrations.runner import APPLIED_SQL, migrate
from dataquarantine.db.sqlite import enter_wal
from dataquarantine.errors import (
    ConfigError,
    StoreUnavailableError,
)
from dataquarantine.kernel.revisions import Revision
from dataquarantine.quarantine.envelope import QuarantineRecord
from dataquarantine.quarantine.history import Bucket
from dataquarantine.quarantine.sql.base import (
    INSERT_COLUMNS,
    Row,
    SqlQuarantineStore,
    store_error,
)
from dataquarantine.quarantine.sql.review import REVISION_COLUMNS, revision_row

__all__ = ["SqliteQuarantineStore"]

T = TypeVar("T")

# UPSERT, row values and the JSON functions used here are all present from 3.35 (2021).
_MIN_SQLITE = (3, 35, 0)


# Rows go in with multi-row statements: the driver releases the GIL around every statement
# step, so one statement per row makes a writer thread queue for the GIL once per row behind
# a busy thread (5 ms each at the default switch interval). A batch of n rows takes one
# statement per set bit of n (runs of 2**k rows, at most _MAX_RUN), so a few statement texts,
# cached by the driver, serve every batch.
_MAX_RUN = 512

_INSERT_HEAD = f"INSERT INTO dq_quarantine ({', '.join(INSERT_COLUMNS)}) VALUES "
_ROW_MARKS = f"({', '.join('?' * len(INSERT_COLUMNS))})"
# No conflict target: a duplicate dedup_key *or* id is skipped, never an error.
_INSERT_TAIL = " ON CONFLICT DO NOTHING"

# New rows of a transaction are exactly those above the max rowid seen when it began (rowids
# are allocated as max + 1 and the write lock is ours): a code row is written only for those.
# The codes themselves come from Python, which has them at hand (parsing the JSON back in SQL
# cost more than the insert of the record itself).
_CODES_HEAD = (
    "INSERT OR IGNORE INTO dq_quarantine_codes (record_id, code)"
    " SELECT v.column1, v.column2 FROM (VALUES "
)
_CODES_TAIL = (
    ") AS v WHERE EXISTS (SELECT 1 FROM dq_quarantine AS q WHERE q.id = v.column1 AND q.rowid > ?)"
)


@functools.cache
def _insert_sql(rows: int) -> str:
    return _INSERT_HEAD + ", ".join([_ROW_MARKS] * rows) + _INSERT_TAIL


@functools.cache
def _codes_sql(rows: int) -> str:
    return _CODES_HEAD + ", ".join(["(?, ?)"] * rows) + _CODES_TAIL


def _runs(n: int, most: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` runs covering ``range(n)``, each of 2**k items and at most ``most``."""
    start = 0
    while start < n:
        size = min(most, 1 << ((n - start).bit_length() - 1))
        yield start, start + size
        start += size


def _code_rows(records: Sequence[QuarantineRecord], rows: Sequence[Sequence[Any]]) -> list[Any]:
    """``record_id, code`` flattened, for every distinct code of every record."""
    flat: list[Any] = []
    for record, row in zip(records, rows, strict=True):
        record_id = row[0]
        for code in {record.error_code.value, *(v.code.value for v in record.errors)}:
            flat += (record_id, code)
    return flat


# Revision 1 of each record carrying a remediation attempt, for new rows only (as above).
_INSERT_REVISIONS = f"""
    INSERT OR IGNORE INTO dq_quarantine_revisions (record_id, number, {", ".join(REVISION_COLUMNS)})
    SELECT ?1, 1, ?2, ?3, ?4, ?5, ?6, ?7
    WHERE EXISTS (SELECT 1 FROM dq_quarantine WHERE id = ?1 AND rowid > ?8)
"""
_BUCKET_MICROS = {"hour": 3_600_000_000, "day": 86_400_000_000}


def _lower(value: str | None) -> str | None:
    # SQLite's own lower() only folds ASCII; this one folds all of Unicode.
    return value.lower() if isinstance(value, str) else value


class SqliteQuarantineStore(SqlQuarantineStore):
    """Quarantine metadata in a SQLite file (or in memory).

    The file is opened on first use (parent folders are created), in WAL mode with
    ``synchronous=FULL``: every committed ``insert_many`` survives a power cut, which
    NORMAL does not promise; the cost is one fsync per batch, not per record.
    One connection is shared by all threads of the process, serialised by a lock.
    """

    dialect: ClassVar[Dialect] = "sqlite"
    _P: ClassVar[str] = "?"
    _TEXT_CONDITION: ClassVar[str] = (
        "EXISTS (SELECT 1 FROM json_each(q.errors) AS e"
        " WHERE instr(dq_lower(json_extract(e.value, '$.message')), ?) > 0)"
    )
    _PATH_CONDITION: ClassVar[str] = (
        "EXISTS (SELECT 1 FROM json_each(q.errors) AS e WHERE json_extract(e.value, '$.path') = ?)"
    )
    _JSON_P: ClassVar[str] = "?"
    _FOR_UPDATE: ClassVar[str] = ""  # BEGIN IMMEDIATE holds the database's write lock
    _ERROR_ROWS: ClassVar[str] = "json_each(q.errors) AS e"
    _ERROR_PATH: ClassVar[str] = "json_extract(e.value, '$.path')"

    def __init__(self, path: Path | None, *, busy_timeout: float = 5.0) -> None:
        """``path`` ``None`` means a private in-memory database.

        ``busy_timeout`` is how many seconds a call waits for another process's write lock
        before raising StoreUnavailableError.
        """
        if sqlite3.sqlite_version_info < _MIN_SQLITE:
            raise ConfigError(
                f"SQLite {sqlite3.sqlite_version} is too old: the metadata store needs "
                f"{'.'.join(map(str, _MIN_SQLITE))} or newer"
            )
        super().__init__(f"sqlite:///{path}" if path is not None else "sqlite:///:memory:")
        self.path = path
        self._busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None

    # -- connection ----------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self.path is None:
            target = ":memory:"
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            target = str(self.path)
        conn = sqlite3.connect(
            target,
            timeout=self._busy_timeout,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,  # guarded by self._lock
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            enter_wal(conn, self._busy_timeout)
            conn.execute("PRAGMA synchronous = FULL")
            # Checkpoint the WAL every ~40 MB, not every 4 MB (the default): a batch of a few
            # thousand records fills 4 MB, so each commit also copied its pages back into the
            # database and synced it twice (12 to 15% of a batch's write time). Durability
            # does not change: a commit is durable once in the WAL.
            conn.execute("PRAGMA wal_autocheckpoint = 10000")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA temp_store = MEMORY")
            # The indexes take random ids: with the 2 MB default cache, inserts slow down as
            # the table grows past it. 32 MB keeps the hot index pages in memory.
            conn.execute("PRAGMA cache_size = -32768")
            conn.create_function("dq_lower", 1, _lower, deterministic=True)
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def _session(self, where: str) -> Iterator[sqlite3.Connection]:
        """The connection (opened on demand) under the lock, with errors translated."""
        with self._lock:
            self._ensure_open()
            try:
                if self._conn is None:
                    self._conn = self._connect()
                yield self._conn
            except sqlite3.Error as exc:
                raise store_error(exc, f"{self.url}: {where}") from exc
            except OSError as exc:  # creating the parent folder
                raise StoreUnavailableError(f"{self.url}: {where}: {exc}") from exc

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """The store's one connection (opened on demand) under its lock, errors translated:
        for diagnostics and maintenance (PRAGMAs, limits, backups). Leave no transaction open."""
        with self._session("connection") as conn:
            yield conn

    @contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front, so two writers queue instead of deadlocking.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _fetch(self, sql: str, params: Sequence[Any]) -> builtins.list[Row]:
        with self._session("query") as conn:
            return conn.execute(sql, params).fetchall()

    def _write(self, where: str, op: Callable[[Any], T]) -> T:
        with self._session(where) as conn, self._transaction(conn):
            return op(conn)

    # -- hooks ---------------------------------------------------------------------------------

    def _encode_id(self, record_id: uuid.UUID) -> Any:
        return str(record_id)

    def _encode_ts(self, value: datetime) -> Any:
        return to_epoch_micros(value)

    def _decode_ts(self, value: Any) -> datetime:
        return from_epoch_micros(int(value))

    def _text_param(self, text: str) -> str:
        return text.lower()

    def _bucket_sql(self, bucket: Bucket) -> str:
        width = _BUCKET_MICROS[bucket]
        return f"(q.quarantined_at / {width}) * {width}"

    # -- port ----------------------------------------------------------------------------------

    def migrate(self) -> None:
        """Apply pending migrations in one write transaction (other processes wait)."""
        with self._session("migrate") as conn:
            migrate(conn, self.dialect, label=self.url)

    def applied_migrations(self) -> builtins.list[tuple[int, str]]:
        rows = self._fetch(APPLIED_SQL, ())
        return [(int(v), str(n)) for v, n in rows]

    def insert_many(
        self,
        records: Sequence[QuarantineRecord],
        revisions: Mapping[uuid.UUID, Revision] | None = None,
    ) -> int:
        """Insert in one transaction, skipping existing dedup keys; return the new-row count.

        ``revisions`` (by record id) are stored as revision 1 of the rows actually inserted.
        """
        if not records:
            return 0
        now = to_epoch_micros(datetime.now(UTC))
        rows = [self._encode(record, now) for record in records]
        revision_rows = [
            (self._encode_id(rid), *revision_row(rev, self._encode_ts))
            for rid, rev in (revisions or {}).items()
        ]
        with self._session("insert") as conn, self._transaction(conn):
            (last_rowid,) = conn.execute(
                "SELECT coalesce(max(rowid), 0) FROM dq_quarantine"
            ).fetchone()
            inserted = 0
            for start, stop in _runs(len(rows), self._max_run(conn, len(INSERT_COLUMNS))):
                params = [value for row in rows[start:stop] for value in row]
                # rowcount: the rows this statement inserted (a skipped duplicate is not one).
                inserted += conn.execute(_insert_sql(stop - start), params).rowcount
            if inserted:
                codes = _code_rows(records, rows)
                for start, stop in _runs(len(codes) // 2, self._max_run(conn, 2)):
                    params = [*codes[2 * start : 2 * stop], last_rowid]
                    conn.execute(_codes_sql(stop - start), params)
                if revision_rows:
                    conn.executemany(
                        _INSERT_REVISIONS, [(*row, last_rowid) for row in revision_rows]
                    )
            return inserted

    def _max_run(self, conn: sqlite3.Connection, width: int) -> int:
        """Rows of ``width`` values per statement: up to _MAX_RUN, within the bound-parameter
        limit this SQLite was built with (999 on old builds)."""
        limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - 1
        return min(_MAX_RUN, 1 << ((limit // width).bit_length() - 1))

    def check(self) -> None:
        """Raise StoreUnavailableError unless the database answers."""
        with self._session("check") as conn:
            conn.execute("SELECT 1").fetchall()

    def close(self) -> None:
        """Close the connection; the store cannot be used afterwards."""
        with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()
