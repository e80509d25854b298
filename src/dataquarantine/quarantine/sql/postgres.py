"""PostgreSQL backend of the quarantine metadata store (psycopg 3)."""

from __future__ import annotations

import builtins
import functools
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import orjson
import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import set_json_loads

from dataquarantine.db.codec import to_utc
from dataquarantine.db.connect import use_schema
from dataquarantine.db.migrations.model import Dialect
from dataquarantine.db.migrations.runner import APPLIED_SQL, migrate
from dataquarantine.db.url import PostgresTarget
from dataquarantine.errors import (
    ConfigError,
)
from dataquarantine.kernel.revisions import Revision
from dataquarantine.masking import mask_secrets
from dataquarantine.quarantine.envelope import QuarantineFilter, QuarantineRecord
from dataquarantine.quarantine.history import Bucket
from dataquarantine.quarantine.sql.base import (
    INSERT_COLUMNS,
    Row,
    SqlQuarantineStore,
    log,
    store_error,
)
from dataquarantine.quarantine.sql.review import INSERT_ROWS, REVISION_COLUMNS, revision_row

__all__ = ["PostgresQuarantineStore"]

T = TypeVar("T")
Connection = psycopg.Connection[tuple[Any, ...]]

_COLUMNS = ", ".join(INSERT_COLUMNS)
# updated_at is the server's now(), set when rows move out of the stage.
_STAGE_COLUMNS = ", ".join(c for c in INSERT_COLUMNS if c != "updated_at")

# Rows are COPYed into a per-session temp table, then moved with one INSERT ... SELECT that
# skips existing keys: one round trip of data per batch, whatever its size.
_CREATE_STAGE = """
    CREATE TEMP TABLE IF NOT EXISTS dq_stage (
        id               uuid NOT NULL,
        dedup_key        text,
        contract         text,
        contract_version text,
        source_kind      text NOT NULL,
        source_name      text NOT NULL,
        source           jsonb NOT NULL,
        error_code       text NOT NULL,
        errors           jsonb NOT NULL,
        status           text NOT NULL,
        attempts         integer NOT NULL,
        quarantined_at   timestamptz NOT NULL,
        run_id           text NOT NULL,
        payload_key      text NOT NULL,
        payload_offset   bigint NOT NULL,
        payload_length   bigint NOT NULL,
        payload_sha256   text NOT NULL
    ) ON COMMIT DELETE ROWS
"""
_COPY_STAGE = f"COPY pg_temp.dq_stage ({_STAGE_COLUMNS}) FROM STDIN"
# No conflict target: a duplicate dedup_key *or* id is skipped, never an error. The codes of
# the rows actually inserted are derived from their stored errors in the same statement.
_MOVE_STAGE = f"""
    WITH inserted AS (
        INSERT INTO dq_quarantine ({_COLUMNS})
        SELECT {_STAGE_COLUMNS}, now() FROM pg_temp.dq_stage
        ON CONFLICT DO NOTHING
        RETURNING id, error_code, errors
    ), codes AS (
        INSERT INTO dq_quarantine_codes (record_id, code)
        SELECT i.id, i.error_code FROM inserted AS i
        UNION
        SELECT i.id, e ->> 'code' FROM inserted AS i, jsonb_array_elements(i.errors) AS e
    )
    SELECT count(*) FROM inserted
"""

# Remediation attempts travel the same way and become revision 1 of the rows actually inserted.
_CREATE_REVISION_STAGE = """
    CREATE TEMP TABLE IF NOT EXISTS dq_revision_stage (
        record_id  uuid NOT NULL,
        kind       text NOT NULL,
        author     text NOT NULL,
        payload    bytea NOT NULL,
        changes    jsonb NOT NULL,
        errors     jsonb NOT NULL,
        created_at timestamptz NOT NULL
    ) ON COMMIT DELETE ROWS
"""
_REVISION_COLUMNS = ", ".join(REVISION_COLUMNS)
_COPY_REVISION_STAGE = f"COPY pg_temp.dq_revision_stage (record_id, {_REVISION_COLUMNS}) FROM STDIN"
_MOVE_STAGE_WITH_REVISIONS = _MOVE_STAGE.replace(
    "    SELECT count(*) FROM inserted",
    f"""    , revisions AS (
        INSERT INTO dq_quarantine_revisions (record_id, number, {_REVISION_COLUMNS})
        SELECT r.record_id, 1, {", ".join("r." + c for c in REVISION_COLUMNS)}
        FROM pg_temp.dq_revision_stage AS r JOIN inserted AS i ON i.id = r.record_id
        ON CONFLICT DO NOTHING
    )
    SELECT count(*) FROM inserted""",
)
_BUCKET_UNITS = {"hour": "hour", "day": "day"}

# QuarantineRecord.to_dict() of each row of a page (``p``), built by the server: one text
# value instead of a decoded row and a record object per envelope. error_code is the
# property's (the first violation's code); quarantined_at reads as Python's isoformat() of a
# UTC datetime (sessions run in UTC), with microseconds only when not zero.
_ENVELOPE_JSON = """
    json_build_object(
        'id', p.id, 'contract', p.contract, 'contract_version', p.contract_version,
        'source', p.source, 'errors', p.errors,
        'error_code', coalesce(p.errors -> 0 ->> 'code', 'system_error'),
        'status', p.status, 'attempts', p.attempts,
        'quarantined_at', to_char(p.quarantined_at, CASE
            WHEN date_trunc('second', p.quarantined_at) = p.quarantined_at
            THEN 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'
            ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"' END),
        'run_id', p.run_id,
        'payload', json_build_object(
            'key', p.payload_key, 'offset', p.payload_offset,
            'length', p.payload_length, 'sha256', p.payload_sha256))"""
_PAGE_JSON = (
    f"SELECT coalesce(json_agg({_ENVELOPE_JSON}"
    " ORDER BY p.quarantined_at DESC, p.id DESC), '[]')::text, count(*) FROM ({}) AS p"
)


class PostgresQuarantineStore(SqlQuarantineStore):
    """Quarantine metadata in PostgreSQL.

    One connection for writes (autocommit, explicit transactions), opened on first use,
    shared by the threads of the process under a lock; reads use a small pool of reader
    connections (``max_readers``) so concurrent readers run in parallel. With ``schema=`` in
    the URL every object lives in that schema, which :meth:`migrate` creates; the session's
    ``search_path`` is that schema alone, so tables of the same name elsewhere are never seen
    or touched.

    When a connection that was already open turns out dead (server restart, failover), the
    call is retried once on a fresh connection; that is safe because every call is a read
    or an idempotent insert. If the server is still down the call raises
    StoreUnavailableError and the next call connects again.
    """

    dialect: ClassVar[Dialect] = "postgres"
    _P: ClassVar[str] = "%s"
    _TEXT_CONDITION: ClassVar[str] = (
        "EXISTS (SELECT 1 FROM jsonb_array_elements(q.errors) AS e"
        # '!' as the escape character reads the same whatever standard_conforming_strings is.
        " WHERE e ->> 'message' ILIKE %s ESCAPE '!')"
    )
    # Containment: any element of the errors array has that path.
    _PATH_CONDITION: ClassVar[str] = (
        "q.errors @> jsonb_build_array(jsonb_build_object('path', %s::text))"
    )
    _JSON_P: ClassVar[str] = "%s::jsonb"
    _FOR_UPDATE: ClassVar[str] = " FOR UPDATE"
    _ERROR_ROWS: ClassVar[str] = "jsonb_array_elements(q.errors) AS e"
    _ERROR_PATH: ClassVar[str] = "e ->> 'path'"

    def _in_ids(self, column: str, ids: Sequence[Any]) -> tuple[str, builtins.list[Any]]:
        # One array parameter: the statement stays the same for any number of ids (psycopg
        # parses it once, not a page's 500 placeholders each time).
        return f"{column} = ANY({self._P})", [list(ids)]

    def __init__(
        self, target: PostgresTarget, *, connect_timeout: int = 5, max_readers: int = 8
    ) -> None:
        super().__init__(target.display)
        self.schema = target.schema
        try:
            params: dict[str, Any] = conninfo_to_dict(target.conninfo)
        except psycopg.Error as exc:
            raise ConfigError(f"malformed PostgreSQL URL {target.display!r}: {exc}") from exc
        params.setdefault("connect_timeout", connect_timeout)
        params.setdefault("application_name", "dataquarantine")
        self._params = params
        self._conn: Connection | None = None
        self._stage_ready = False
        #: Reader connections (see :meth:`_fetch`): at most this many.
        self.max_readers = max_readers
        self._readers_lock = threading.RLock()
        self._readers_freed = threading.Condition(self._readers_lock)
        self._idle: builtins.list[Connection] = []
        self._readers = 0

    # -- connection ----------------------------------------------------------------------------

    def _connect(self) -> Connection:
        conn = self._new_connection()
        self._stage_ready = False
        return conn

    def _new_connection(self) -> Connection:
        conn: Connection = psycopg.connect(autocommit=True, **self._params)
        try:
            set_json_loads(orjson.loads, conn)
            # JIT only slows these short statements (and big batches get absurd estimates).
            conn.execute(
                "SELECT set_config('TimeZone', 'UTC', false), set_config('jit', 'off', false)"
            )
            use_schema(conn, self.schema)
        except BaseException:
            conn.close()
            raise
        return conn

    def _acquire(self) -> tuple[Connection, bool]:
        """The open connection and True, or a new one and False."""
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn, True
        self._discard()
        self._conn = self._connect()
        return self._conn, False

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _run(self, where: str, op: Callable[[Connection], T]) -> T:
        """Run ``op`` on the connection under the lock, translating errors (see class doc)."""
        label = f"{self.url}: {where}"
        with self._lock:
            self._ensure_open()
            for attempt in (1, 2):
                try:
                    conn, reused = self._acquire()
                except psycopg.Error as exc:
                    raise store_error(exc, label) from exc
                try:
                    return op(conn)
                except psycopg.Error as exc:
                    lost = conn.closed or conn.broken
                    if lost:
                        self._discard()
                    if not (lost and reused and attempt == 1):
                        raise store_error(exc, label) from exc
                    log.warning("%s: connection lost (%s); reconnecting", label, mask_secrets(exc))
            raise AssertionError("unreachable")  # pragma: no cover

    def _insert_rows(
        self, conn: Any, head: str, row: str, rows: Sequence[Row], tail: str = ""
    ) -> int:
        """Multi-row INSERTs with numbered parameters sent as they are (a raw cursor: psycopg
        does not parse the long statement for ``%s`` again on every page)."""
        inserted = 0
        for start in range(0, len(rows), INSERT_ROWS):
            part = rows[start : start + INSERT_ROWS]
            values = _numbered(row, row, len(part))
            cur = psycopg.RawCursor(conn)
            cur.execute(f"{head} VALUES {values}{tail}", [v for r in part for v in r])
            inserted += max(cur.rowcount, 0)
        return inserted

    def _set_statuses(self, conn: Any, rows: Sequence[Row]) -> None:
        """One ``UPDATE ... FROM (VALUES ...)`` per :data:`INSERT_ROWS` rows."""
        first, other = "(%s::uuid, %s, %s::timestamptz, %s::integer)", "(%s, %s, %s, %s)"
        for start in range(0, len(rows), INSERT_ROWS):
            part = rows[start : start + INSERT_ROWS]
            values = _numbered(first, other, len(part))
            psycopg.RawCursor(conn).execute(
                "UPDATE dq_quarantine AS q SET status = v.status, updated_at = v.at,"
                f" attempts = COALESCE(v.attempts, q.attempts) FROM (VALUES {values})"
                " AS v (id, status, at, attempts) WHERE q.id = v.id",
                [value for row in part for value in row],
            )

    def _fetch(self, sql: str, params: Sequence[Any]) -> builtins.list[Row]:
        """Run a read on a pooled reader connection, so concurrent readers (the review API's
        threads) do not queue behind one connection. When a pooled connection turns out dead,
        the idle ones are dropped too and the read is retried once on a fresh connection."""
        label = f"{self.url}: query"
        for attempt in (1, 2):
            conn, reused = self._take_reader(label)
            try:
                rows = conn.execute(sql, params).fetchall()
            except psycopg.Error as exc:
                lost = conn.closed or conn.broken
                self._give_reader(conn, lost=lost)
                if not (lost and reused and attempt == 1):
                    raise store_error(exc, label) from exc
                log.warning("%s: connection lost (%s); reconnecting", label, mask_secrets(exc))
                continue
            self._give_reader(conn, lost=False)
            return rows
        raise AssertionError("unreachable")  # pragma: no cover

    def _take_reader(self, label: str) -> tuple[Connection, bool]:
        """An idle reader (True), or a new one (False); waits when max_readers are busy."""
        with self._readers_freed:
            while True:
                self._ensure_open()
                if self._idle:
                    return self._idle.pop(), True
                if self._readers < self.max_readers:
                    self._readers += 1
                    break
                self._readers_freed.wait()
        try:
            return self._new_connection(), False
        except psycopg.Error as exc:
            with self._readers_lock:
                self._readers -= 1
            raise store_error(exc, label) from exc

    def _give_reader(self, conn: Connection, *, lost: bool) -> None:
        with self._readers_freed:
            if lost or self._closed or conn.closed or conn.broken:
                dropped = [conn, *self._idle] if lost else [conn]
                if lost:
                    self._idle.clear()
                self._readers -= len(dropped)
                for dead in dropped:
                    dead.close()
            else:
                self._idle.append(conn)
            self._readers_freed.notify()

    def _write(self, where: str, op: Callable[[Any], T]) -> T:
        def run(conn: Connection) -> T:
            with conn.transaction():
                return op(conn)

        return self._run(where, run)

    # -- hooks ---------------------------------------------------------------------------------

    def _encode_id(self, record_id: uuid.UUID) -> Any:
        return record_id

    def _encode_ts(self, value: datetime) -> Any:
        return to_utc(value)

    def _decode_ts(self, value: Any) -> datetime:
        if not isinstance(value, datetime):
            raise TypeError(f"quarantined_at is {type(value).__name__}, not a timestamp")
        return to_utc(value)

    def _bucket_sql(self, bucket: Bucket) -> str:
        return f"date_trunc('{_BUCKET_UNITS[bucket]}', q.quarantined_at)"

    def _text_param(self, text: str) -> str:
        escaped = text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
        return f"%{escaped}%"

    # -- reads ---------------------------------------------------------------------------------

    def list_json(
        self, flt: QuarantineFilter, *, limit: int = 50, offset: int = 0
    ) -> tuple[bytes, int]:
        """The page built as JSON by the server (see :data:`_ENVELOPE_JSON`)."""
        rows = self._fetch(*self.page_json_sql(flt, limit, offset))
        text, count = rows[0]
        return text.encode(), int(count)

    def page_json_sql(
        self, flt: QuarantineFilter, limit: int, offset: int
    ) -> tuple[str, builtins.list[Any]]:
        """The query of :meth:`list_json` (one row: the JSON array, its length) and its
        parameters."""
        # The code test probes dq_quarantine_codes for each candidate row, newest first: find
        # the page's ids from the indexes alone, then read only those rows.
        page, params = self._page_sql(flt, limit, offset, ids_first=flt.code is not None)
        return _PAGE_JSON.replace("{}", page, 1), params

    # -- port ----------------------------------------------------------------------------------

    def migrate(self) -> None:
        """Apply pending migrations in one transaction under an advisory lock.

        The lock serialises concurrent migrators of the same schema; the second one finds
        nothing left to do. The schema (when given) is created here if missing.
        """
        self._run(
            "migrate", lambda conn: migrate(conn, self.dialect, label=self.url, schema=self.schema)
        )

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
        rows = [self._encode(record, None) for record in records]
        revision_rows = [
            (rid, *revision_row(rev, self._encode_ts)) for rid, rev in (revisions or {}).items()
        ]

        def op(conn: Connection) -> int:
            if not self._stage_ready:
                conn.execute(_CREATE_STAGE)
                conn.execute(_CREATE_REVISION_STAGE)
                self._stage_ready = True
            with conn.transaction(), conn.cursor() as cur:
                with cur.copy(_COPY_STAGE) as copy:
                    for row in rows:
                        copy.write_row(row[:-1])
                if revision_rows:
                    with cur.copy(_COPY_REVISION_STAGE) as copy:
                        for revision in revision_rows:
                            copy.write_row(revision)
                cur.execute(_MOVE_STAGE_WITH_REVISIONS if revision_rows else _MOVE_STAGE)
                counted = cur.fetchone()
                return int(counted[0]) if counted else 0

        return self._run("insert", op)

    def check(self) -> None:
        """Raise StoreUnavailableError unless the server answers."""
        self._run("check", lambda conn: conn.execute("SELECT 1").fetchall())

    def close(self) -> None:
        """Close the connections; the store cannot be used afterwards."""
        with self._lock:
            self._closed = True
            self._discard()
        with self._readers_freed:
            idle, self._idle = self._idle, []
            self._readers -= len(idle)
            for conn in idle:
                conn.close()
            self._readers_freed.notify_all()


@functools.lru_cache(maxsize=64)
def _numbered(first: str, other: str, n: int) -> str:
    """``first`` then ``n - 1`` times ``other`` (rows of ``%s`` marks), joined, the marks
    numbered ``$1, $2, ...`` in order (the same few shapes every page: cached)."""
    pieces = ", ".join([first] + [other] * (n - 1)).split("%s")
    return "".join(
        piece + (f"${i + 1}" if i < len(pieces) - 1 else "") for i, piece in enumerate(pieces)
    )
