"""Ports of the quarantine: the metadata store and the payload object store.

Backends implement these Protocols; :mod:`dataquarantine.testing` has in-memory fakes.
Backends translate their driver's exceptions into :mod:`dataquarantine.errors`
(``*UnavailableError`` is transient, the rest terminal).
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Protocol

from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.results import Violation
from dataquarantine.kernel.revisions import Revision
from dataquarantine.quarantine.envelope import QuarantineFilter, QuarantineRecord
from dataquarantine.quarantine.history import Bucket, Event, QuarantineStats, StoredRevision

__all__ = ["PayloadStore", "QuarantineStore"]


class PayloadStore(Protocol):
    """Object storage for original record bytes, written in chunks (one object per batch)."""

    def put_chunk(self, data: bytes) -> str:
        """Store ``data`` as one object and return its key.

        Keys are content-addressed (derived from the SHA-256 of ``data``), so writing the same
        chunk twice is harmless. The write is durable when this returns.
        """
        ...

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """Return ``length`` bytes of object ``key`` from ``offset`` (byte for byte)."""
        ...

    def check(self) -> None:
        """Raise :class:`~dataquarantine.errors.PayloadStoreUnavailableError` if unreachable."""
        ...

    def close(self) -> None: ...


class QuarantineStore(Protocol):
    """SQL metadata of quarantined records."""

    def migrate(self) -> None:
        """Apply pending versioned migrations (idempotent, safe to call at every start)."""
        ...

    def insert_many(
        self,
        records: Sequence[QuarantineRecord],
        revisions: Mapping[uuid.UUID, Revision] | None = None,
    ) -> int:
        """Insert records in one transaction; rows whose ``dedup_key`` exists are skipped.

        ``revisions`` maps record ids to their remediation attempt, stored as revision 1 in
        the same transaction (only for the rows actually inserted). Batch, set-based: no round
        trip per row. Returns how many rows were new. Durable when this returns.
        """
        ...

    def get(self, record_id: uuid.UUID) -> QuarantineRecord | None: ...

    def list(
        self, flt: QuarantineFilter, *, limit: int = 50, offset: int = 0
    ) -> list[QuarantineRecord]:
        """Matching records, newest first."""
        ...

    def count(self, flt: QuarantineFilter) -> int:
        """The true number of matching records."""
        ...

    def iter(self, flt: QuarantineFilter, *, batch_size: int = 1000) -> Iterator[QuarantineRecord]:
        """Every matching record, oldest first, fetched in pages (for export)."""
        ...

    # -- review (migration 4) -------------------------------------------------------------------

    def add_revision(self, record_id: uuid.UUID, revision: Revision) -> StoredRevision:
        """Store the record's next revision (an ``edit`` revision also gets an ``edit`` event).

        Raises :class:`~dataquarantine.errors.RecordNotFoundError` for an unknown id.
        """
        ...

    def revisions(self, record_id: uuid.UUID) -> builtins.list[StoredRevision]:
        """Every revision of the record, number 1 first."""
        ...

    def events(self, record_id: uuid.UUID) -> builtins.list[Event]:
        """The record's history, oldest first."""
        ...

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
        """Compare-and-set the status (and replace attempts/errors when given) atomically with
        ``event``. ``None`` when the current status is not in ``expected``; raises
        :class:`~dataquarantine.errors.RecordNotFoundError` for an unknown id."""
        ...

    def stats(
        self, flt: QuarantineFilter, *, bucket: Bucket = "hour", top: int = 10
    ) -> QuarantineStats:
        """Counts by contract, headline code, status and violation path; a time series."""
        ...

    def check(self) -> None:
        """Raise :class:`~dataquarantine.errors.StoreUnavailableError` if unreachable."""
        ...

    def close(self) -> None: ...
