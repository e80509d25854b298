"""Values the review service returns: pages, record details, reprocess outcomes, jobs, schemas."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson

from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.results import Violation
from dataquarantine.quarantine.envelope import QuarantineRecord
from dataquarantine.quarantine.history import Event, StoredRevision

__all__ = [
    "Job",
    "JobState",
    "Page",
    "RecordDetail",
    "ReprocessOutcome",
    "SchemaInfo",
    "SchemaVersion",
    "parse_json",
]


def parse_json(data: bytes) -> tuple[bool, Any]:
    """``(True, value)`` when ``data`` is one JSON document, else ``(False, None)``."""
    try:
        return True, orjson.loads(data)
    except orjson.JSONDecodeError:
        return False, None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a filtered list; ``total`` is the true number of matching records."""

    items: tuple[QuarantineRecord, ...]
    total: int
    page: int
    page_size: int


@dataclass(frozen=True, slots=True)
class RecordDetail:
    """A record with its original bytes, its revisions and its history."""

    record: QuarantineRecord
    payload: bytes
    revisions: tuple[StoredRevision, ...] = ()
    events: tuple[Event, ...] = ()

    @property
    def payload_json(self) -> Any:
        """The original payload parsed, or ``None`` when it is not JSON (see :attr:`is_json`)."""
        return parse_json(self.payload)[1]

    @property
    def is_json(self) -> bool:
        return parse_json(self.payload)[0]

    @property
    def latest_payload(self) -> bytes:
        """The payload a reprocess would validate: the latest revision, else the original."""
        return self.revisions[-1].payload if self.revisions else self.payload


@dataclass(frozen=True, slots=True)
class ReprocessOutcome:
    """The result of reprocessing one record (the API's response body)."""

    id: uuid.UUID
    status: Status
    errors: tuple[Violation, ...]
    attempts: int
    #: False when the record was already reprocessed and nothing was done again.
    changed: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "status": self.status.value,
            "errors": [v.to_dict() for v in self.errors],
            "attempts": self.attempts,
        }


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    #: The serving process stopped while the job ran (set when a server starts again); its
    #: records' statuses are in the store, so starting the same job again finishes it.
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class Job:
    """Progress of a background bulk reprocess (a snapshot; poll for the next one)."""

    id: str
    state: JobState
    total: int = 0
    processed: int = 0
    reprocessed: int = 0
    still_invalid: int = 0
    dead: int = 0
    #: Records resolved or discarded by a bulk resolve / discard.
    closed: int = 0
    skipped: int = 0
    failed: int = 0
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    error: str | None = None

    @property
    def progress(self) -> float:
        """Fraction done, 0..1 (1 when there was nothing to do)."""
        if self.state is JobState.DONE or self.total == 0:
            return 1.0 if self.state in (JobState.DONE, JobState.FAILED) else 0.0
        return min(1.0, self.processed / self.total)


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    version: str
    kind: str
    source: str | None = None
    #: Who registered the version and when (``None`` for a file written by hand).
    registered_by: str | None = None
    registered_at: datetime | None = None
    #: The compatibility verdict against the previous version when it was registered.
    verdict: str = "unchecked"
    fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class SchemaInfo:
    """A contract and its versions (ascending); ``latest`` is what reprocess uses by default."""

    name: str
    latest: str
    versions: tuple[SchemaVersion, ...]
