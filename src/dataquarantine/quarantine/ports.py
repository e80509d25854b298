"""Ports of the quarantine: the metadata store, the review log and the payload object store.

The metadata store has two ports: :class:`QuarantineStore` writes and queries records (what
every pipeline needs) and :class:`ReviewLog` keeps what review adds to them (revisions, the
event history, status transitions, statistics). A store says what else it can do in its
``capabilities``, so callers never probe its class.

Backends implement these Protocols; :mod:`dataquarantine.testing` has in-memory fakes.
Backends translate their driver's exceptions into :mod:`dataquarantine.errors`
(``*UnavailableError`` is transient, the rest terminal).
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from enum import Enum
from typing import Protocol, cast

from dataquarantine.errors import ConfigError
from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.results import Violation
from dataquarantine.kernel.revisions import Revision
from dataquarantine.quarantine.envelope import QuarantineFilter, QuarantineRecord
from dataquarantine.quarantine.fix_log import FixLog
from dataquarantine.quarantine.history import (
    Bucket,
    Event,
    QuarantineStats,
    StatusChange,
    StoredRevision,
)

__all__ = [
    "Capability",
    "FixLog",
    "JsonPages",
    "PayloadStore",
    "QuarantineStore",
    "ReviewLog",
    "fix_log",
    "json_pages",
    "review_log",
]


class Capability(Enum):
    """What a :class:`QuarantineStore` offers beyond its port."""

    #: It also implements :class:`ReviewLog` (the SQL stores, from migration 4 on).
    REVIEW_LOG = "review_log"
    #: It also implements :class:`JsonPages` (a page of envelopes built as JSON by the database).
    JSON_PAGES = "json_pages"
    #: It also implements :class:`~dataquarantine.quarantine.fix_log.FixLog` (bulk-fix jobs,
    #: migration 6).
    FIX_LOG = "fix_log"


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
    """SQL metadata of quarantined records: write and query."""

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What the store offers beyond this port (see :class:`Capability`)."""
        ...

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

    def check(self) -> None:
        """Raise :class:`~dataquarantine.errors.StoreUnavailableError` if unreachable."""
        ...

    def close(self) -> None: ...


class ReviewLog(Protocol):
    """What review adds to quarantined records (migration 4): revisions, the event history,
    compare-and-set status transitions and statistics. Every write is one transaction with its
    event."""

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

    def transition_many(self, changes: Sequence[StatusChange]) -> builtins.list[bool]:
        """:meth:`transition` of many records in one transaction (errors are left as they
        are): for each change, whether it was applied. An unknown id is not applied."""
        ...

    def stats(
        self, flt: QuarantineFilter, *, bucket: Bucket = "hour", top: int = 10
    ) -> QuarantineStats:
        """Counts by contract, headline code, status and violation path; a time series."""
        ...


class JsonPages(Protocol):
    """A store that answers a page of envelopes as JSON itself (the SQL stores)."""

    def list_json(
        self, flt: QuarantineFilter, *, limit: int = 50, offset: int = 0
    ) -> tuple[bytes, int]:
        """``(items, n)``: the page as one JSON array of ``QuarantineRecord.to_dict()`` forms."""
        ...


def review_log(store: QuarantineStore) -> ReviewLog:
    """``store`` as the :class:`ReviewLog` it declares it is; :class:`ConfigError` if it is not."""
    if Capability.REVIEW_LOG not in store.capabilities:
        raise ConfigError(f"{store!r} keeps no review log")
    return cast("ReviewLog", store)


def fix_log(store: QuarantineStore) -> FixLog:
    """``store`` as the :class:`FixLog` it declares it is; :class:`ConfigError` if it is not."""
    if Capability.FIX_LOG not in store.capabilities:
        raise ConfigError(f"{store!r} keeps no bulk-fix jobs")
    return cast("FixLog", store)


def json_pages(store: QuarantineStore) -> JsonPages | None:
    """``store`` as :class:`JsonPages` when it declares the capability, else ``None``."""
    return cast("JsonPages", store) if Capability.JSON_PAGES in store.capabilities else None
