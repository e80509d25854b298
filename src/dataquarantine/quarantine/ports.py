"""Ports of the quarantine: the metadata store and the payload object store.

Backends implement these Protocols; :mod:`dataquarantine.testing` has in-memory fakes.
Backends translate their driver's exceptions into :mod:`dataquarantine.errors`
(``*UnavailableError`` is transient, the rest terminal).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Protocol

from dataquarantine.quarantine.envelope import QuarantineFilter, QuarantineRecord

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

    def insert_many(self, records: Sequence[QuarantineRecord]) -> int:
        """Insert records in one transaction; rows whose ``dedup_key`` exists are skipped.

        Returns how many rows were new. Durable when this returns.
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
