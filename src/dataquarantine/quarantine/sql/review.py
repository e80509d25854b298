"""The review side of the SQL metadata store: revisions, event history, status transitions and
statistics (migration 4), shared by the SQLite and PostgreSQL backends.

:class:`ReviewQueries` is a mixin of
:class:`~dataquarantine.quarantine.sql.base.SqlQuarantineStore`; the backends supply a
transaction hook (:meth:`ReviewQueries._write`) and a few dialect fragments. Every write
runs in one transaction with its event row.
"""

from __future__ import annotations

import builtins
import json
import uuid
from abc import abstractmethod
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import orjson

from dataquarantine.errors import RecordNotFoundError, StoreIntegrityError
from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.results import ErrorCode, Violation
from dataquarantine.kernel.revisions import Revision, RevisionKind, change_from_dict
from dataquarantine.quarantine.envelope import QuarantineFilter, QuarantineRecord
from dataquarantine.quarantine.history import (
    Bucket,
    Count,
    Event,
    EventAction,
    QuarantineStats,
    SeriesPoint,
    StatusChange,
    StoredRevision,
)

__all__ = [
    "INSERT_ROWS",
    "REVISION_COLUMNS",
    "ReviewQueries",
    "clean_text",
    "insert_rows",
    "json_text",
    "revision_row",
]

T = TypeVar("T")
Row = tuple[Any, ...]

#: Column order of :func:`revision_row` (without ``record_id`` and ``number``).
REVISION_COLUMNS = ("kind", "author", "payload", "changes", "errors", "created_at")
_NONE = "(none)"


def clean_text(value: str) -> str:
    """``value`` storable as text: lone surrogates (e.g. undecodable file names) and NUL
    (refused by PostgreSQL) become U+FFFD."""
    value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value.replace("\x00", "\ufffd")


def json_text(value: Any) -> str:
    """JSON text both databases accept: NUL (refused by ``jsonb``) and lone surrogates (not
    UTF-8) become U+FFFD instead of failing the write, so no revision is ever lost."""
    try:
        text = orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):
        text = json.dumps(value, default=str, ensure_ascii=False)
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text.replace("\\u0000", "\\ufffd")


def revision_row(revision: Revision, encode_ts: Callable[[datetime], Any]) -> Row:
    """One revision in :data:`REVISION_COLUMNS` order."""
    return (
        revision.kind.value,
        clean_text(revision.author),
        bytes(revision.payload),
        json_text([c.to_dict() for c in revision.changes]),
        json_text([v.to_dict() for v in revision.errors]),
        encode_ts(revision.created_at),
    )


#: Rows per multi-row INSERT (8 columns: 4,000 bind parameters, within both backends' limits).
INSERT_ROWS = 500


def insert_rows(conn: Any, head: str, marks: str, rows: Sequence[Row], tail: str = "") -> int:
    """``head VALUES marks, marks, ... tail``: ``rows`` as multi-row INSERTs of at most
    :data:`INSERT_ROWS` rows, one round trip each (bind parameters only). Rows inserted."""
    inserted = 0
    for start in range(0, len(rows), INSERT_ROWS):
        part = rows[start : start + INSERT_ROWS]
        cur = conn.execute(
            f"{head} VALUES {', '.join([marks] * len(part))}{tail}",
            [value for row in part for value in row],
        )
        inserted += max(cur.rowcount, 0)
    return inserted


def _loads(value: Any) -> Any:
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return value


def _codes(errors: Sequence[Violation]) -> builtins.list[str]:
    headline = errors[0].code if errors else ErrorCode.SYSTEM_ERROR
    return builtins.list(dict.fromkeys([headline.value, *(v.code.value for v in errors)]))


class ReviewQueries:
    """The :class:`~dataquarantine.quarantine.ports.ReviewLog` of the SQL stores: revisions,
    events, transitions and stats over the store's connection."""

    _P: ClassVar[str]
    #: The placeholder of a JSON parameter (PostgreSQL casts it to jsonb).
    _JSON_P: ClassVar[str]
    #: Row lock suffix of a SELECT inside a write transaction ("" where the whole database is
    #: locked by the transaction already).
    _FOR_UPDATE: ClassVar[str]
    #: ``FROM`` item expanding ``q.errors`` into rows ``e``, and the path of one such row.
    _ERROR_ROWS: ClassVar[str]
    _ERROR_PATH: ClassVar[str]

    def _in_ids(self, column: str, ids: Sequence[Any]) -> tuple[str, builtins.list[Any]]:
        """The condition "``column`` is one of the encoded ``ids``" and its parameters."""
        marks = ", ".join(self._P for _ in ids)
        return f"{column} IN ({marks})", list(ids)

    def _stored_revision(
        self,
        record_id: uuid.UUID,
        number: Any,
        kind: Any,
        author: Any,
        payload: Any,
        changes: Any,
        errors: Any,
        created_at: Any,
    ) -> StoredRevision:
        """One ``dq_revisions`` row as a value (raises ValueError, KeyError or TypeError on a
        corrupt row; the caller says which read failed)."""
        return StoredRevision(
            record_id=record_id,
            number=int(number),
            kind=RevisionKind(kind),
            author=str(author),
            payload=bytes(payload),
            changes=tuple(change_from_dict(c) for c in _loads(changes)),
            errors=tuple(Violation.from_dict(v) for v in _loads(errors)),
            created_at=self._decode_ts(created_at),
        )

    # -- hooks (implemented by SqlQuarantineStore and the backends) ------------------------------

    @abstractmethod
    def _fetch(self, sql: str, params: Sequence[Any]) -> builtins.list[Row]: ...

    @abstractmethod
    def _write(self, where: str, op: Callable[[Any], T]) -> T:
        """Run ``op(conn)`` in one write transaction (errors translated); ``conn.execute``
        takes the dialect's placeholders and returns a cursor."""

    @abstractmethod
    def _encode_id(self, record_id: uuid.UUID) -> Any: ...

    @abstractmethod
    def _encode_ts(self, value: datetime) -> Any: ...

    @abstractmethod
    def _decode_ts(self, value: Any) -> datetime: ...

    @abstractmethod
    def _where(self, flt: QuarantineFilter) -> tuple[str, builtins.list[Any]]: ...

    @abstractmethod
    def _bucket_sql(self, bucket: Bucket) -> str:
        """SQL expression: ``q.quarantined_at`` truncated to the bucket."""

    @abstractmethod
    def get(self, record_id: uuid.UUID) -> QuarantineRecord | None: ...

    # -- revisions and events --------------------------------------------------------------------

    def add_revision(self, record_id: uuid.UUID, revision: Revision) -> StoredRevision:
        """Store ``revision`` as the record's next revision, with an ``edit`` event.

        Raises :class:`~dataquarantine.errors.RecordNotFoundError` for an unknown id.
        """
        p = self._P
        rid = self._encode_id(record_id)
        row = revision_row(revision, self._encode_ts)

        def op(conn: Any) -> int:
            status = self._lock_status(conn, record_id)
            (number,) = conn.execute(
                "SELECT coalesce(max(number), 0) + 1 FROM dq_quarantine_revisions"
                f" WHERE record_id = {p}",
                (rid,),
            ).fetchone()
            conn.execute(
                "INSERT INTO dq_quarantine_revisions (record_id, number,"
                f" {', '.join(REVISION_COLUMNS)}) VALUES ({p}, {p}, {p}, {p}, {p},"
                f" {self._JSON_P}, {self._JSON_P}, {p})",
                (rid, number, *row),
            )
            action = EventAction.EDIT if revision.kind is RevisionKind.EDIT else None
            if action is not None:
                self._insert_event(
                    conn,
                    Event(
                        record_id=record_id,
                        actor=revision.author,
                        action=action,
                        from_status=status,
                        to_status=status,
                        detail={"revision": int(number), "changes": len(revision.changes)},
                        at=revision.created_at,
                    ),
                )
            return int(number)

        number = self._write("add revision", op)
        return StoredRevision(
            record_id=record_id,
            number=number,
            kind=revision.kind,
            author=revision.author,
            payload=bytes(revision.payload),
            changes=revision.changes,
            errors=revision.errors,
            created_at=revision.created_at,
        )

    def revisions(self, record_id: uuid.UUID) -> builtins.list[StoredRevision]:
        """Every revision of the record, oldest (number 1) first."""
        p = self._P
        rows = self._fetch(
            f"SELECT number, {', '.join(REVISION_COLUMNS)} FROM dq_quarantine_revisions"
            f" WHERE record_id = {p} ORDER BY number",
            (self._encode_id(record_id),),
        )
        try:
            return [self._stored_revision(record_id, *row) for row in rows]
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreIntegrityError(f"corrupt revision of {record_id}: {exc}") from exc

    def events(self, record_id: uuid.UUID) -> builtins.list[Event]:
        """The record's history, oldest first."""
        rows = self._fetch(
            "SELECT at, actor, action, from_status, to_status, reason, detail"
            f" FROM dq_quarantine_events WHERE record_id = {self._P} ORDER BY id",
            (self._encode_id(record_id),),
        )
        try:
            return [
                Event(
                    record_id=record_id,
                    at=self._decode_ts(at),
                    actor=str(actor),
                    action=EventAction(action),
                    from_status=Status(before) if before else None,
                    to_status=Status(after) if after else None,
                    reason=reason,
                    detail=_loads(detail),
                )
                for at, actor, action, before, after, reason, detail in rows
            ]
        except (ValueError, TypeError) as exc:
            raise StoreIntegrityError(f"corrupt event of {record_id}: {exc}") from exc

    # -- transitions -----------------------------------------------------------------------------

    def transition(
        self,
        record_id: uuid.UUID,
        *,
        expected: Iterable[Status],
        to: Status,
        event: Event,
        attempts: int | None = None,
        errors: Sequence[Violation] | None = None,
    ) -> QuarantineRecord | None:
        """Compare-and-set the record's status, in one transaction with ``event``.

        When the current status is one of ``expected`` it becomes ``to``; ``attempts`` and
        ``errors`` (with the error code index) are replaced when given. Returns the updated
        record, or ``None`` when the status was not expected (nothing changed). Raises
        :class:`~dataquarantine.errors.RecordNotFoundError` for an unknown id.
        """
        allowed = frozenset(expected)
        p = self._P
        rid = self._encode_id(record_id)

        def op(conn: Any) -> bool:
            status = self._lock_status(conn, record_id)
            if status not in allowed:
                return False
            sets = [f"status = {p}", f"updated_at = {p}"]
            params: builtins.list[Any] = [to.value, self._encode_ts(datetime.now(UTC))]
            if attempts is not None:
                sets.append(f"attempts = {p}")
                params.append(attempts)
            if errors is not None:
                codes = _codes(errors)
                sets += [f"errors = {self._JSON_P}", f"error_code = {p}"]
                params += [json_text([v.to_dict() for v in errors]), codes[0]]
                conn.execute(f"DELETE FROM dq_quarantine_codes WHERE record_id = {p}", (rid,))
                for code in codes:
                    conn.execute(
                        f"INSERT INTO dq_quarantine_codes (record_id, code) VALUES ({p}, {p})",
                        (rid, code),
                    )
            conn.execute(
                f"UPDATE dq_quarantine SET {', '.join(sets)} WHERE id = {p}", (*params, rid)
            )
            self._insert_event(conn, event)
            return True

        if not self._write("transition", op):
            return None
        return self.get(record_id)

    def transition_many(self, changes: Sequence[StatusChange]) -> builtins.list[bool]:
        """:meth:`transition` of many records in one transaction: one locking read of the
        statuses, then the updates and events as batches."""
        if not changes:
            return []
        among, ids = self._in_ids("id", [self._encode_id(c.record_id) for c in changes])

        def op(conn: Any) -> builtins.list[bool]:
            statuses = {
                uuid.UUID(str(rid)): Status(status)
                for rid, status in conn.execute(
                    f"SELECT id, status FROM dq_quarantine WHERE {among}"
                    f" ORDER BY id{self._FOR_UPDATE}",
                    ids,
                ).fetchall()
            }
            applied: builtins.list[bool] = []
            for change in changes:
                ok = statuses.get(change.record_id) in change.expected
                if ok:  # a record changed twice in one batch sees its first change
                    statuses[change.record_id] = change.to
                applied.append(ok)
            done = [c for c, ok in zip(changes, applied, strict=True) if ok]
            if not done:
                return applied
            now = self._encode_ts(datetime.now(UTC))
            self._set_statuses(
                conn, [(self._encode_id(c.record_id), c.to.value, now, c.attempts) for c in done]
            )
            head, row = self._event_sql()
            self._insert_rows(conn, head, row, [self._event_row(c.event) for c in done])
            return applied

        return self._write("transition", op)

    def _lock_status(self, conn: Any, record_id: uuid.UUID) -> Status:
        row = conn.execute(
            f"SELECT status FROM dq_quarantine WHERE id = {self._P}{self._FOR_UPDATE}",
            (self._encode_id(record_id),),
        ).fetchone()
        if row is None:
            raise RecordNotFoundError(f"no quarantined record {record_id}")
        return Status(row[0])

    def _insert_rows(
        self, conn: Any, head: str, row: str, rows: Sequence[Row], tail: str = ""
    ) -> int:
        """:func:`insert_rows` (a backend may run it its own way)."""
        return insert_rows(conn, head, row, rows, tail)

    def _set_statuses(self, conn: Any, rows: Sequence[Row]) -> None:
        """``(id, status, updated_at, attempts or None)`` rows of locked records, set."""
        p = self._P
        conn.cursor().executemany(
            f"UPDATE dq_quarantine SET status = {p}, updated_at = {p},"
            f" attempts = COALESCE({p}, attempts) WHERE id = {p}",
            [(status, at, attempts, rid) for rid, status, at, attempts in rows],
        )

    def _event_sql(self) -> tuple[str, str]:
        """The head of the events' INSERT and the marks of one row."""
        p = self._P
        return (
            "INSERT INTO dq_quarantine_events (record_id, at, actor, action, from_status,"
            " to_status, reason, detail)",
            f"({p}, {p}, {p}, {p}, {p}, {p}, {p}, {self._JSON_P})",
        )

    def _event_row(self, event: Event) -> tuple[Any, ...]:
        return (
            self._encode_id(event.record_id),
            self._encode_ts(event.at),
            clean_text(event.actor),
            event.action.value,
            event.from_status.value if event.from_status else None,
            event.to_status.value if event.to_status else None,
            clean_text(event.reason) if event.reason is not None else None,
            json_text(dict(event.detail)),
        )

    def _insert_event(self, conn: Any, event: Event) -> None:
        head, row = self._event_sql()
        conn.execute(f"{head} VALUES {row}", self._event_row(event))

    # -- statistics ------------------------------------------------------------------------------

    def stats(
        self, flt: QuarantineFilter, *, bucket: Bucket = "hour", top: int = 10
    ) -> QuarantineStats:
        """Counts of the records matching ``flt`` (see :class:`QuarantineStats`)."""
        where, params = self._where(flt)
        table = "dq_quarantine AS q"
        p = self._P

        def grouped(column: str, limit: int | None = None) -> tuple[Count, ...]:
            sql = (
                f"SELECT {column}, count(*) FROM {table}{where} GROUP BY {column}"
                " ORDER BY count(*) DESC, 1"
            )
            args = [*params]
            if limit is not None:
                sql += f" LIMIT {p}"
                args.append(limit)
            return tuple(
                Count(str(k) if k is not None else _NONE, int(n)) for k, n in self._fetch(sql, args)
            )

        by_status = grouped("q.status")
        fields_sql = (
            f"SELECT {self._ERROR_PATH}, count(*) FROM {table}, {self._ERROR_ROWS}{where}"
            f" GROUP BY {self._ERROR_PATH} ORDER BY count(*) DESC, 1 LIMIT {p}"
        )
        by_field = tuple(
            Count(str(k) if k is not None else "", int(n))
            for k, n in self._fetch(fields_sql, [*params, top])
        )
        at = self._bucket_sql(bucket)
        series_sql = (
            f"SELECT {at}, q.error_code, count(*) FROM {table}{where}"
            f" GROUP BY {at}, q.error_code ORDER BY 1, 2"
        )
        series = tuple(
            SeriesPoint(at=self._decode_ts(b), code=str(code), count=int(n))
            for b, code, n in self._fetch(series_sql, params)
        )
        return QuarantineStats(
            total=sum(c.count for c in by_status),
            by_contract=grouped("q.contract", top),
            by_code=grouped("q.error_code"),
            by_status=by_status,
            by_field=by_field,
            series=series,
            bucket=bucket,
        )

    # -- valid sink table ------------------------------------------------------------------------

    def publish_reprocessed(
        self,
        record_id: uuid.UUID,
        payload: bytes,
        contract: str | None,
        contract_version: str | None,
    ) -> bool:
        """Insert into ``dq_reprocessed`` once per id; returns False when it was there already."""
        p = self._P

        def op(conn: Any) -> bool:
            cur = conn.execute(
                "INSERT INTO dq_reprocessed (id, contract, contract_version, payload,"
                f" published_at) VALUES ({p}, {p}, {p}, {p}, {p}) ON CONFLICT DO NOTHING",
                (
                    self._encode_id(record_id),
                    contract,
                    contract_version,
                    bytes(payload),
                    self._encode_ts(datetime.now(UTC)),
                ),
            )
            return bool(cur.rowcount)

        return self._write("publish", op)

    def publish_reprocessed_many(
        self, records: Sequence[tuple[uuid.UUID, bytes, str | None, str | None]]
    ) -> int:
        """:meth:`publish_reprocessed` of ``(id, payload, contract, version)`` rows in one
        transaction, each once per id; returns how many were new."""
        if not records:
            return 0
        p = self._P
        among, ids = self._in_ids("id", [self._encode_id(r[0]) for r in records])

        def op(conn: Any) -> int:
            before = conn.execute(
                f"SELECT count(*) FROM dq_reprocessed WHERE {among}", ids
            ).fetchone()[0]
            now = self._encode_ts(datetime.now(UTC))
            rows: dict[uuid.UUID, Row] = {}
            for i, data, c, v in records:  # the first of an id, as one INSERT per record
                rows.setdefault(i, (self._encode_id(i), c, v, bytes(data), now))
            self._insert_rows(
                conn,
                "INSERT INTO dq_reprocessed (id, contract, contract_version, payload,"
                " published_at)",
                f"({p}, {p}, {p}, {p}, {p})",
                list(rows.values()),  # an id once: ON CONFLICT cannot skip a row of its own
                " ON CONFLICT DO NOTHING",
            )
            return len(rows) - int(before)

        return self._write("publish", op)

    def reprocessed(self, record_id: uuid.UUID) -> bytes | None:
        """The payload published to ``dq_reprocessed`` for that id, if any."""
        rows = self._fetch(
            f"SELECT payload FROM dq_reprocessed WHERE id = {self._P}",
            (self._encode_id(record_id),),
        )
        return bytes(rows[0][0]) if rows else None

    def reprocessed_count(self) -> int:
        return int(self._fetch("SELECT count(*) FROM dq_reprocessed", ())[0][0])
