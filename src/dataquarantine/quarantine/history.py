"""What happened to a quarantined record after it was caught: stored revisions, the event
history of its status changes, and aggregate statistics. Plain values, written and read by the
metadata store (:class:`~dataquarantine.quarantine.ports.QuarantineStore`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.results import Violation
from dataquarantine.kernel.revisions import FieldChange, RevisionKind

__all__ = [
    "Bucket",
    "Count",
    "Event",
    "EventAction",
    "QuarantineStats",
    "SeriesPoint",
    "StatusChange",
    "StoredRevision",
]

#: Width of one point of the stats time series.
Bucket = Literal["hour", "day"]


@dataclass(frozen=True, slots=True)
class StoredRevision:
    """A :class:`~dataquarantine.kernel.revisions.Revision` as stored: numbered from 1 per
    record, beside the untouched original payload."""

    record_id: uuid.UUID
    number: int
    kind: RevisionKind
    author: str
    payload: bytes
    changes: tuple[FieldChange, ...] = ()
    errors: tuple[Violation, ...] = ()
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def valid(self) -> bool:
        return not self.errors


class EventAction(StrEnum):
    """What a person (or the system) did to a record."""

    EDIT = "edit"
    REPROCESS = "reprocess"
    RESOLVE = "resolve"
    DISCARD = "discard"
    #: A bulk fix wrote a revision (``detail`` names the job), or an undo reverted one.
    FIX = "fix"
    UNDO = "undo"


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of a record's history. ``from_status == to_status`` for actions that do not
    change the status (an edit, a reprocess that failed again)."""

    record_id: uuid.UUID
    actor: str
    action: EventAction
    from_status: Status | None = None
    to_status: Status | None = None
    reason: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_dict(self) -> dict[str, Any]:
        return {
            "record_id": str(self.record_id),
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action.value,
            "from_status": self.from_status.value if self.from_status else None,
            "to_status": self.to_status.value if self.to_status else None,
            "reason": self.reason,
            "detail": dict(self.detail),
        }


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One compare-and-set of a batch: when the status is one of ``expected`` it becomes
    ``to`` (``attempts`` replaced when given), recorded with ``event``."""

    expected: frozenset[Status]
    to: Status
    event: Event
    attempts: int | None = None

    @property
    def record_id(self) -> uuid.UUID:
        return self.event.record_id


@dataclass(frozen=True, slots=True)
class Count:
    key: str
    count: int


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """Records quarantined in the bucket starting at ``at`` whose headline code is ``code``."""

    at: datetime
    code: str
    count: int


@dataclass(frozen=True, slots=True)
class QuarantineStats:
    """Counts of the records matching a filter. Each record counts once, under its headline
    error code; ``by_field`` counts violations by JSON Pointer path (most frequent first)."""

    total: int
    by_contract: tuple[Count, ...]
    by_code: tuple[Count, ...]
    by_status: tuple[Count, ...]
    by_field: tuple[Count, ...]
    series: tuple[SeriesPoint, ...]
    bucket: Bucket = "hour"
