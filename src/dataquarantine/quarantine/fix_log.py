"""The bulk-fix side of the metadata store (migration 6): jobs and what each did per record.

A job (a fix or the undo of one) is a row that survives a restart: its definition, state and
counts. Each record a job looked at gets one item: its outcome, and for a record it revised
the revision it wrote and the one it was based on (what an undo goes back to). A revision is
written by :meth:`FixLog.write_fix`, a compare-and-set on the record's latest revision number
in one transaction with its item and its ``fix`` event, so two jobs on the same record are
serialised and a reviewer's edit made meanwhile is never overwritten.

:class:`InMemoryFixLog` is the reference implementation (the in-memory store's half); the SQL
stores implement the same behaviour suite.
"""

from __future__ import annotations

import builtins
import dataclasses
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from dataquarantine.errors import RecordNotFoundError
from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.revisions import Revision
from dataquarantine.quarantine.envelope import QuarantineRecord
from dataquarantine.quarantine.history import Event, EventAction, StoredRevision

__all__ = [
    "FixItem",
    "FixJobKind",
    "FixJobRecord",
    "FixJobState",
    "FixLog",
    "FixWrite",
    "InMemoryFixLog",
    "ItemOutcome",
    "fix_event",
]


class FixJobKind(StrEnum):
    """A bulk fix or its undo; or one of the review's bulk jobs (reprocess, resolve, discard),
    kept in the same table so that they too survive a restart."""

    FIX = "fix"
    UNDO = "undo"
    REPROCESS = "reprocess"
    RESOLVE = "resolve"
    DISCARD = "discard"


class FixJobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    #: The serving process stopped while the job ran (set when a server starts again).
    INTERRUPTED = "interrupted"


class ItemOutcome(StrEnum):
    """What a job did to one record (the job's counts are these, per outcome)."""

    FIXED_VALID = "fixed_valid"
    FIXED_INVALID = "fixed_invalid"
    STEP_ERROR = "step_error"
    #: Revised by someone else since the job started (or, for an undo, since the fix).
    CONFLICT = "conflict"
    #: The steps changed nothing, or the record's status does not allow an edit.
    SKIPPED = "skipped"
    FAILED = "failed"
    REVERTED = "reverted"
    #: An undo left it: the record was already replayed downstream (reprocessed).
    REPLAYED = "replayed"


@dataclass(frozen=True, slots=True)
class FixJobRecord:
    """A stored job. ``spec`` is its definition (steps, filter, options) as JSON data;
    ``undo_of`` the fix job an undo reverts."""

    id: str
    kind: FixJobKind
    state: FixJobState
    actor: str
    spec: Mapping[str, Any]
    undo_of: str | None = None
    total: int = 0
    processed: int = 0
    counts: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FixItem:
    """One record a job looked at; ``number`` and ``base`` only when it wrote a revision."""

    record_id: uuid.UUID
    outcome: ItemOutcome
    number: int | None = None
    base: int | None = None


@dataclass(frozen=True, slots=True)
class FixWrite:
    """One revision for :meth:`FixLog.write_fixes`: stored as ``base + 1`` with ``outcome``."""

    record_id: uuid.UUID
    revision: Revision
    base: int
    outcome: ItemOutcome


class FixLog(Protocol):
    """Jobs and their items (migration 6)."""

    def create_job(self, job: FixJobRecord) -> None: ...

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
        """Change the given fields (the others are kept)."""
        ...

    def get_job(self, job_id: str) -> FixJobRecord | None: ...

    def jobs(
        self,
        *,
        states: Iterable[FixJobState] | None = None,
        kinds: Iterable[FixJobKind] | None = None,
        limit: int = 100,
    ) -> builtins.list[FixJobRecord]:
        """Jobs, newest first (only those in ``states`` and of ``kinds`` when given)."""
        ...

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
        """Store ``revision`` as revision ``base + 1`` with the job's item and a ``fix`` (or,
        for an ``undo`` revision, ``undo``) event, in one transaction. ``None``, with nothing
        written, when the record's latest revision is not ``base`` or its status is not in
        ``expected``. Raises :class:`RecordNotFoundError` for an unknown id."""
        ...

    def write_fixes(
        self, job_id: str, writes: Sequence[FixWrite], *, expected: Iterable[Status]
    ) -> builtins.list[StoredRevision | None]:
        """:meth:`write_fix` for many records in one transaction (set-based: a page of a job
        costs a few statements); one answer per write, ``None`` where nothing was written.
        An unknown id is ``None`` too."""
        ...

    def latest_revisions(self, record_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, StoredRevision]:
        """The latest revision of each of ``record_ids`` that has one (one query)."""
        ...

    def add_items(self, job_id: str, items: Sequence[FixItem]) -> None:
        """Record outcomes that wrote nothing (an existing item is kept)."""
        ...

    def items(
        self, job_id: str, *, after: uuid.UUID | None = None, limit: int = 1000
    ) -> builtins.list[FixItem]:
        """The job's items by record id, those after ``after`` (a keyset page)."""
        ...

    def done(self, job_id: str, record_ids: Sequence[uuid.UUID]) -> builtins.set[uuid.UUID]:
        """Which of ``record_ids`` the job already has an item for (to resume it)."""
        ...

    def item_counts(self, job_id: str) -> dict[str, int]:
        """The number of items per outcome."""
        ...


class InMemoryFixLog:
    """:class:`FixLog` over dicts (the in-memory store mixes it in)."""

    _rows: dict[uuid.UUID, QuarantineRecord]
    _revisions: defaultdict[uuid.UUID, builtins.list[StoredRevision]]
    _events: defaultdict[uuid.UUID, builtins.list[Event]]
    _lock: threading.Lock
    _fix_jobs: dict[str, FixJobRecord]
    _fix_items: defaultdict[str, dict[uuid.UUID, FixItem]]

    def create_job(self, job: FixJobRecord) -> None:
        with self._lock:
            self._fix_jobs[job.id] = job

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
        given: dict[str, Any] = {
            "state": state,
            "total": total,
            "processed": processed,
            "counts": dict(counts) if counts is not None else None,
            "error": error,
            "finished_at": finished_at,
        }
        with self._lock:
            jobs = self._fix_jobs
            job = jobs.get(job_id)
            if job is not None:
                changes = {k: v for k, v in given.items() if v is not None}
                jobs[job_id] = dataclasses.replace(job, **changes)

    def get_job(self, job_id: str) -> FixJobRecord | None:
        with self._lock:
            return self._fix_jobs.get(job_id)

    def jobs(
        self,
        *,
        states: Iterable[FixJobState] | None = None,
        kinds: Iterable[FixJobKind] | None = None,
        limit: int = 100,
    ) -> builtins.list[FixJobRecord]:
        wanted = frozenset(states) if states is not None else None
        of = frozenset(kinds) if kinds is not None else None
        with self._lock:
            found = [
                j
                for j in self._fix_jobs.values()
                if (wanted is None or j.state in wanted) and (of is None or j.kind in of)
            ]
        return sorted(found, key=lambda j: (j.created_at, j.id), reverse=True)[:limit]

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
        with self._lock:
            record = self._rows.get(record_id)
            if record is None:
                raise RecordNotFoundError(f"no quarantined record {record_id}")
            revisions = self._revisions[record_id]
            if len(revisions) != base or record.status not in frozenset(expected):
                return None
            stored = StoredRevision(
                record_id=record_id,
                number=base + 1,
                kind=revision.kind,
                author=revision.author,
                payload=bytes(revision.payload),
                changes=revision.changes,
                errors=revision.errors,
                created_at=revision.created_at,
            )
            revisions.append(stored)
            self._fix_items[job_id][record_id] = FixItem(record_id, outcome, stored.number, base)
            self._events[record_id].append(
                fix_event(record_id, record.status, revision, job_id, stored.number)
            )
            return stored

    def write_fixes(
        self, job_id: str, writes: Sequence[FixWrite], *, expected: Iterable[Status]
    ) -> builtins.list[StoredRevision | None]:
        allowed = frozenset(expected)
        out: builtins.list[StoredRevision | None] = []
        for w in writes:
            if w.record_id not in self._rows:
                out.append(None)
                continue
            out.append(
                self.write_fix(
                    w.record_id,
                    w.revision,
                    job_id=job_id,
                    base=w.base,
                    outcome=w.outcome,
                    expected=allowed,
                )
            )
        return out

    def latest_revisions(self, record_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, StoredRevision]:
        with self._lock:
            return {r: self._revisions[r][-1] for r in record_ids if self._revisions.get(r)}

    def add_items(self, job_id: str, items: Sequence[FixItem]) -> None:
        with self._lock:
            table = self._fix_items[job_id]
            for item in items:
                table.setdefault(item.record_id, item)

    def items(
        self, job_id: str, *, after: uuid.UUID | None = None, limit: int = 1000
    ) -> builtins.list[FixItem]:
        with self._lock:
            table = dict(self._fix_items.get(job_id, {}))
        keys = sorted(k for k in table if after is None or str(k) > str(after))
        return [table[k] for k in keys[:limit]]

    def done(self, job_id: str, record_ids: Sequence[uuid.UUID]) -> builtins.set[uuid.UUID]:
        with self._lock:
            table = self._fix_items.get(job_id, {})
            return {r for r in record_ids if r in table}

    def item_counts(self, job_id: str) -> dict[str, int]:
        with self._lock:
            table = self._fix_items.get(job_id, {})
            return dict(Counter(i.outcome.value for i in table.values()))


def fix_event(
    record_id: uuid.UUID, status: Status, revision: Revision, job_id: str, number: int
) -> Event:
    """The history event of revision ``number`` written by a job (the status is kept)."""
    action = EventAction.UNDO if revision.kind == "undo" else EventAction.FIX
    return Event(
        record_id=record_id,
        actor=revision.author,
        action=action,
        from_status=status,
        to_status=status,
        detail={"job": job_id, "revision": number, "changes": len(revision.changes)},
        at=revision.created_at,
    )
