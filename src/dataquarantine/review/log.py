"""A :class:`~dataquarantine.quarantine.ports.ReviewLog` whose calls retry transient failures."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dataquarantine.infra.retry import RetryPolicy
from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.results import Violation
from dataquarantine.kernel.revisions import Revision
from dataquarantine.quarantine.envelope import QuarantineFilter, QuarantineRecord
from dataquarantine.quarantine.history import (
    Bucket,
    Event,
    QuarantineStats,
    StatusChange,
    StoredRevision,
)
from dataquarantine.quarantine.ports import ReviewLog

__all__ = ["RetryingReviewLog"]


@dataclass(frozen=True, slots=True)
class RetryingReviewLog:
    """``log`` with every call retried by ``retry`` (transient errors only, within its budget)."""

    log: ReviewLog
    retry: RetryPolicy

    def add_revision(self, record_id: uuid.UUID, revision: Revision) -> StoredRevision:
        return self.retry.call(self.log.add_revision, record_id, revision)

    def revisions(self, record_id: uuid.UUID) -> builtins.list[StoredRevision]:
        return self.retry.call(self.log.revisions, record_id)

    def events(self, record_id: uuid.UUID) -> builtins.list[Event]:
        return self.retry.call(self.log.events, record_id)

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
        expected = tuple(expected)  # a retry must see the same statuses again
        return self.retry.call(
            self.log.transition,
            record_id,
            expected=expected,
            to=to,
            event=event,
            attempts=attempts,
            errors=errors,
        )

    def transition_many(self, changes: Sequence[StatusChange]) -> builtins.list[bool]:
        return self.retry.call(self.log.transition_many, tuple(changes))

    def stats(
        self, flt: QuarantineFilter, *, bucket: Bucket = "hour", top: int = 10
    ) -> QuarantineStats:
        return self.retry.call(self.log.stats, flt, bucket=bucket, top=top)
