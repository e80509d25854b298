"""The bulk-fix side of the SQL metadata store (migration 6): jobs and their items, shared by
the SQLite and PostgreSQL backends (see :mod:`dataquarantine.quarantine.fix_log`)."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

from dataquarantine.errors import StoreIntegrityError
from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.revisions import Revision
from dataquarantine.quarantine.fix_log import (
    FixItem,
    FixJobKind,
    FixJobRecord,
    FixJobState,
    FixWrite,
    ItemOutcome,
    fix_event,
)
from dataquarantine.quarantine.history import StoredRevision
from dataquarantine.quarantine.sql.review import (
    REVISION_COLUMNS,
    ReviewQueries,
    clean_text,
    json_text,
    revision_row,
)

__all__ = ["FixQueries"]

_JOB_COLUMNS = (
    "id, kind, state, actor, spec, undo_of, total, processed, counts, error, created_at,"
    " finished_at"
)


def _loads(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


class FixQueries(ReviewQueries):
    """The :class:`~dataquarantine.quarantine.fix_log.FixLog` of the SQL stores."""

    def create_job(self, job: FixJobRecord) -> None:
        p, j = self._P, self._JSON_P

        def op(conn: Any) -> None:
            conn.execute(
                f"INSERT INTO dq_fix_jobs ({_JOB_COLUMNS}) VALUES ({p}, {p}, {p}, {p}, {j},"
                f" {p}, {p}, {p}, {j}, {p}, {p}, {p})",
                (
                    job.id,
                    job.kind.value,
                    job.state.value,
                    clean_text(job.actor),
                    json_text(dict(job.spec)),
                    job.undo_of,
                    job.total,
                    job.processed,
                    json_text(dict(job.counts)),
                    job.error,
                    self._encode_ts(job.created_at),
                    self._encode_ts(job.finished_at) if job.finished_at else None,
                ),
            )

        self._write("create fix job", op)

    def update_job(
        self,
        job_id: str,
        *,
        state: FixJobState | None = None,
        total: int | None = None,
        processed: int | None = None,
        counts: Mapping[str, int] | None = None,
        error: str | None = None,
        finished_at: datetime | None = None,
    ) -> None:
        p = self._P
        sets: builtins.list[str] = []
        params: builtins.list[Any] = []
        for column, value in (
            ("state", state.value if state is not None else None),
            ("total", total),
            ("processed", processed),
            ("error", clean_text(error) if error is not None else None),
            ("finished_at", self._encode_ts(finished_at) if finished_at else None),
        ):
            if value is not None:
                sets.append(f"{column} = {p}")
                params.append(value)
        if counts is not None:
            sets.append(f"counts = {self._JSON_P}")
            params.append(json_text(dict(counts)))
        if not sets:
            return
        sql = f"UPDATE dq_fix_jobs SET {', '.join(sets)} WHERE id = {p}"
        self._write("update fix job", lambda conn: conn.execute(sql, (*params, job_id)))

    def get_job(self, job_id: str) -> FixJobRecord | None:
        rows = self._fetch(
            f"SELECT {_JOB_COLUMNS} FROM dq_fix_jobs WHERE id = {self._P}", (job_id,)
        )
        return self._job(rows[0]) if rows else None

    def jobs(
        self,
        *,
        states: Iterable[FixJobState] | None = None,
        kinds: Iterable[FixJobKind] | None = None,
        limit: int = 100,
    ) -> builtins.list[FixJobRecord]:
        p = self._P
        conds: builtins.list[str] = []
        params: builtins.list[Any] = []
        for column, values in (("state", states), ("kind", kinds)):
            if values is None:
                continue
            wanted = [v.value for v in values]
            if not wanted:
                return []
            conds.append(f"{column} IN ({', '.join(p for _ in wanted)})")
            params.extend(wanted)
        where = f" WHERE {' AND '.join(conds)}" if conds else ""
        rows = self._fetch(
            f"SELECT {_JOB_COLUMNS} FROM dq_fix_jobs{where}"
            f" ORDER BY created_at DESC, id DESC LIMIT {p}",
            (*params, limit),
        )
        return [self._job(r) for r in rows]

    def _job(self, row: Sequence[Any]) -> FixJobRecord:
        try:
            (jid, kind, state, actor, spec, undo_of, total, processed, counts, error, at, end) = row
            return FixJobRecord(
                id=str(jid),
                kind=FixJobKind(kind),
                state=FixJobState(state),
                actor=str(actor),
                spec=_loads(spec),
                undo_of=undo_of,
                total=int(total),
                processed=int(processed),
                counts={str(k): int(v) for k, v in _loads(counts).items()},
                error=error,
                created_at=self._decode_ts(at),
                finished_at=self._decode_ts(end) if end is not None else None,
            )
        except (ValueError, TypeError, AttributeError) as exc:
            raise StoreIntegrityError(f"corrupt fix job {row[0]}: {exc}") from exc

    def write_fix(
        self,
        record_id: uuid.UUID,
        revision: Revision,
        *,
        job_id: str,
        base: int,
        outcome: ItemOutcome,
        expected: Iterable[Status],
    ) -> StoredRevision | None:
        p = self._P
        rid = self._encode_id(record_id)
        row = revision_row(revision, self._encode_ts)
        allowed = frozenset(expected)

        def op(conn: Any) -> bool:
            status = self._lock_status(conn, record_id)
            (latest,) = conn.execute(
                "SELECT coalesce(max(number), 0) FROM dq_quarantine_revisions"
                f" WHERE record_id = {p}",
                (rid,),
            ).fetchone()
            if int(latest) != base or status not in allowed:
                return False
            conn.execute(
                "INSERT INTO dq_quarantine_revisions (record_id, number,"
                f" {', '.join(REVISION_COLUMNS)}) VALUES ({p}, {p}, {p}, {p}, {p},"
                f" {self._JSON_P}, {self._JSON_P}, {p})",
                (rid, base + 1, *row),
            )
            conn.execute(
                "INSERT INTO dq_fix_items (job_id, record_id, outcome, number, base)"
                f" VALUES ({p}, {p}, {p}, {p}, {p})",
                (job_id, rid, outcome.value, base + 1, base),
            )
            self._insert_event(conn, fix_event(record_id, status, revision, job_id, base + 1))
            return True

        if not self._write("write fix", op):
            return None
        return StoredRevision(
            record_id=record_id,
            number=base + 1,
            kind=revision.kind,
            author=revision.author,
            payload=bytes(revision.payload),
            changes=revision.changes,
            errors=revision.errors,
            created_at=revision.created_at,
        )

    def write_fixes(
        self, job_id: str, writes: Sequence[FixWrite], *, expected: Iterable[Status]
    ) -> builtins.list[StoredRevision | None]:
        if not writes:
            return []
        p, j = self._P, self._JSON_P
        allowed = frozenset(expected)
        encoded = [self._encode_id(w.record_id) for w in writes]
        among, ids = self._in_ids("id", encoded)
        revised, _ = self._in_ids("record_id", encoded)

        def op(conn: Any) -> builtins.set[uuid.UUID]:
            statuses = {
                uuid.UUID(str(rid)): Status(status)
                for rid, status in conn.execute(
                    f"SELECT id, status FROM dq_quarantine WHERE {among}"
                    f" ORDER BY id{self._FOR_UPDATE}",
                    ids,
                ).fetchall()
            }
            latest = {
                uuid.UUID(str(rid)): int(n)
                for rid, n in conn.execute(
                    "SELECT record_id, max(number) FROM dq_quarantine_revisions"
                    f" WHERE {revised} GROUP BY record_id",
                    ids,
                ).fetchall()
            }
            ok = [
                w
                for w in writes
                if statuses.get(w.record_id) in allowed and latest.get(w.record_id, 0) == w.base
            ]
            if not ok:
                return set()
            self._insert_rows(
                conn,
                f"INSERT INTO dq_quarantine_revisions (record_id, number,"
                f" {', '.join(REVISION_COLUMNS)})",
                f"({p}, {p}, {p}, {p}, {p}, {j}, {j}, {p})",
                [
                    (
                        self._encode_id(w.record_id),
                        w.base + 1,
                        *revision_row(w.revision, self._encode_ts),
                    )
                    for w in ok
                ],
            )
            self._insert_rows(
                conn,
                "INSERT INTO dq_fix_items (job_id, record_id, outcome, number, base)",
                f"({p}, {p}, {p}, {p}, {p})",
                [
                    (job_id, self._encode_id(w.record_id), w.outcome.value, w.base + 1, w.base)
                    for w in ok
                ],
            )
            head, row = self._event_sql()
            self._insert_rows(
                conn,
                head,
                row,
                [
                    self._event_row(
                        fix_event(
                            w.record_id, statuses[w.record_id], w.revision, job_id, w.base + 1
                        )
                    )
                    for w in ok
                ],
            )
            return {w.record_id for w in ok}

        written = self._write("write fixes", op)
        return [
            StoredRevision(
                record_id=w.record_id,
                number=w.base + 1,
                kind=w.revision.kind,
                author=w.revision.author,
                payload=bytes(w.revision.payload),
                changes=w.revision.changes,
                errors=w.revision.errors,
                created_at=w.revision.created_at,
            )
            if w.record_id in written
            else None
            for w in writes
        ]

    def latest_revisions(self, record_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, StoredRevision]:
        if not record_ids:
            return {}
        among, ids = self._in_ids("record_id", [self._encode_id(r) for r in record_ids])
        rows = self._fetch(
            f"SELECT r.record_id, r.number, {', '.join('r.' + c for c in REVISION_COLUMNS)}"
            " FROM dq_quarantine_revisions AS r JOIN (SELECT record_id, max(number) AS number"
            f" FROM dq_quarantine_revisions WHERE {among} GROUP BY record_id)"
            " AS m ON m.record_id = r.record_id AND m.number = r.number",
            ids,
        )
        out: dict[uuid.UUID, StoredRevision] = {}
        try:
            for rid, *row in rows:
                record_id = uuid.UUID(str(rid))
                out[record_id] = self._stored_revision(record_id, *row)
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreIntegrityError(f"corrupt revision: {exc}") from exc
        return out

    def add_items(self, job_id: str, items: Sequence[FixItem]) -> None:
        if not items:
            return
        p = self._P
        rows = [
            (job_id, self._encode_id(i.record_id), i.outcome.value, i.number, i.base) for i in items
        ]

        def op(conn: Any) -> None:
            conn.cursor().executemany(
                "INSERT INTO dq_fix_items (job_id, record_id, outcome, number, base)"
                f" VALUES ({p}, {p}, {p}, {p}, {p}) ON CONFLICT DO NOTHING",
                rows,
            )

        self._write("add fix items", op)

    def items(
        self, job_id: str, *, after: uuid.UUID | None = None, limit: int = 1000
    ) -> builtins.list[FixItem]:
        p = self._P
        cond = f" AND record_id > {p}" if after is not None else ""
        params: builtins.list[Any] = [job_id]
        if after is not None:
            params.append(self._encode_id(after))
        rows = self._fetch(
            f"SELECT record_id, outcome, number, base FROM dq_fix_items WHERE job_id = {p}{cond}"
            f" ORDER BY record_id LIMIT {p}",
            (*params, limit),
        )
        return [FixItem(uuid.UUID(str(r)), ItemOutcome(o), n, b) for r, o, n, b in rows]

    def done(self, job_id: str, record_ids: Sequence[uuid.UUID]) -> builtins.set[uuid.UUID]:
        if not record_ids:
            return set()
        p = self._P
        among, ids = self._in_ids("record_id", [self._encode_id(r) for r in record_ids])
        rows = self._fetch(
            f"SELECT record_id FROM dq_fix_items WHERE job_id = {p} AND {among}", (job_id, *ids)
        )
        return {uuid.UUID(str(r)) for (r,) in rows}

    def item_counts(self, job_id: str) -> dict[str, int]:
        rows = self._fetch(
            f"SELECT outcome, count(*) FROM dq_fix_items WHERE job_id = {self._P} GROUP BY outcome",
            (job_id,),
        )
        return {str(o): int(n) for o, n in rows}
