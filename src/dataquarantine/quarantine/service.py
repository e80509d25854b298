"""The quarantine service: bad records in, durable envelopes out, bytes kept byte for byte.

:class:`Quarantine` composes a metadata store (SQL) and a payload store (folder or S3). A write
stores the payload bytes first, packed into a few large chunk objects, then the metadata rows in
one transaction. A crash between the two leaves an orphan chunk, never a metadata row whose
bytes are missing. Transient failures of either store are retried with a :class:`RetryPolicy`;
when the budget is spent the error propagates, so the caller knows nothing was recorded and can
pause, spool or fail: no record is dropped silently.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal, NamedTuple

from dataquarantine.errors import ConfigError, DataQuarantineError, PayloadStoreError
from dataquarantine.infra.retry import RetryPolicy
from dataquarantine.quarantine.envelope import (
    PayloadRef,
    QuarantineFilter,
    QuarantineItem,
    QuarantineRecord,
)
from dataquarantine.quarantine.payloads import open_payload_store
from dataquarantine.quarantine.ports import PayloadStore, QuarantineStore

__all__ = [
    "DEFAULT_MAX_CHUNK_BYTES",
    "MIN_BRIDGE_BYTES",
    "Dependency",
    "Quarantine",
    "WriteReport",
    "read_runs",
]

#: A store the quarantine depends on, as probes name it.
Dependency = Literal["store", "payloads"]

#: A gap between two payloads of one chunk is read through when no larger than this, or than
#: the payload bytes already in the run.
MIN_BRIDGE_BYTES = 64 << 10

DEFAULT_MAX_CHUNK_BYTES = 8 << 20


@dataclass(frozen=True, slots=True)
class WriteReport:
    """The outcome of :meth:`Quarantine.write`.

    ``ids[i]`` is the (deterministic) id of input item ``i``, also for duplicates and for items
    that were already quarantined by an earlier write; ``inserted`` counts the new metadata rows
    and ``chunks`` the payload objects put. (If an insert committed but its reply was lost, the
    retry finds the rows present and ``inserted`` undercounts; the rows are stored either way.)
    """

    ids: tuple[uuid.UUID, ...]
    inserted: int
    chunks: int


class _Entry(NamedTuple):
    item: QuarantineItem
    digest: str
    dedup_key: str
    record_id: uuid.UUID


class Quarantine:
    """Write, read and list quarantined records over a metadata store and a payload store."""

    def __init__(
        self,
        store: QuarantineStore,
        payloads: PayloadStore,
        *,
        retry: RetryPolicy | None = None,
        max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES,
    ) -> None:
        if max_chunk_bytes < 1:
            raise ConfigError(f"max_chunk_bytes must be positive, not {max_chunk_bytes}")
        self.store = store
        self.payloads = payloads
        self.retry = retry if retry is not None else RetryPolicy()
        self.max_chunk_bytes = max_chunk_bytes

    @classmethod
    def open(
        cls, store_url: str, payloads_url: str, *, retry: RetryPolicy | None = None
    ) -> Quarantine:
        """Open both stores from their URLs and apply pending metadata migrations."""
        from dataquarantine.quarantine.sql import open_store

        store = open_store(store_url)
        try:
            payloads = open_payload_store(payloads_url)
        except BaseException:
            with contextlib.suppress(Exception):  # keep the original error
                store.close()
            raise
        service = cls(store, payloads, retry=retry)
        try:
            service.retry.call(store.migrate)
        except BaseException:
            with contextlib.suppress(Exception):
                service.close()
            raise
        return service

    def write(self, items: Sequence[QuarantineItem]) -> WriteReport:
        """Quarantine ``items`` durably: payload chunks first, then metadata in one transaction.

        Idempotent: an item with the same source coordinates and bytes always gets the same id
        and is stored once, within a call and across calls.
        """
        if not items:
            return WriteReport(ids=(), inserted=0, chunks=0)

        # 1) Digest and deterministic id per item; duplicates within the call are kept once.
        ids: list[uuid.UUID] = []
        unique: dict[str, _Entry] = {}
        for item in items:
            digest = item.payload_sha256
            dedup_key = item.dedup_key(digest)
            entry = unique.get(dedup_key)
            if entry is None:
                entry = _Entry(item, digest, dedup_key, item.record_id(digest))
                unique[dedup_key] = entry
            ids.append(entry.record_id)

        # 2) Pack the payloads into chunks of at most max_chunk_bytes (a bigger payload gets a
        #    chunk of its own) and put each chunk once: never one object per record.
        groups: list[list[_Entry]] = [[]]
        size = 0
        for entry in unique.values():
            if groups[-1] and size + len(entry.item.payload) > self.max_chunk_bytes:
                groups.append([])
                size = 0
            groups[-1].append(entry)
            size += len(entry.item.payload)
        refs = [ref for group in groups for ref in self._put_chunk(group)]

        # 3) Metadata rows, all in one insert, only once every byte is stored.
        now = datetime.now(UTC)
        records = [
            QuarantineRecord(
                id=entry.record_id,
                source=entry.item.source,
                errors=entry.item.errors,
                payload=ref,
                contract=entry.item.contract.name if entry.item.contract else None,
                contract_version=entry.item.contract.version if entry.item.contract else None,
                status=entry.item.status,
                attempts=0,
                quarantined_at=now,
                run_id=entry.item.run_id,
                dedup_key=entry.dedup_key,
            )
            for entry, ref in zip(unique.values(), refs, strict=True)
        ]
        # A remediation attempt is kept as revision 1, in the same transaction as its record.
        revisions = {
            entry.record_id: entry.item.remediation
            for entry in unique.values()
            if entry.item.remediation is not None
        }
        inserted = self.retry.call(self.store.insert_many, records, revisions or None)
        return WriteReport(ids=tuple(ids), inserted=inserted, chunks=len(groups))

    def _put_chunk(self, group: list[_Entry]) -> list[PayloadRef]:
        data = b"".join(entry.item.payload for entry in group)
        key = self.retry.call(self.payloads.put_chunk, data)
        refs: list[PayloadRef] = []
        offset = 0
        for entry in group:
            length = len(entry.item.payload)
            refs.append(PayloadRef(key=key, offset=offset, length=length, sha256=entry.digest))
            offset += length
        return refs

    def payload(self, record: QuarantineRecord) -> bytes:
        """The original bytes of ``record``, verified against their SHA-256."""
        ref = record.payload
        data = self.retry.call(self.payloads.get_range, ref.key, ref.offset, ref.length)
        if hashlib.sha256(data).hexdigest() != ref.sha256:
            raise PayloadStoreError(
                f"payload of record {record.id} is corrupt: SHA-256 mismatch in {ref.key}"
            )
        return data

    def iter_payloads(
        self,
        flt: QuarantineFilter | None = None,
        *,
        window: int = 5000,
        window_bytes: int = 32 << 20,
    ) -> Iterator[tuple[QuarantineRecord, bytes]]:
        """Every matching record with its verified original bytes, oldest first.

        Reads chunks, not records: records are taken in windows (at most ``window`` records
        or ``window_bytes`` of payload), grouped by chunk object, and each chunk is read with
        one ranged GET per run of nearby payloads (a gap is bridged while it is no larger than
        the bytes already in the run, so at most about half of what is read is wasted).
        Memory is bounded by the window.
        """
        pending: list[QuarantineRecord] = []
        size = 0
        for record in self.iter(flt):
            pending.append(record)
            size += record.payload.length
            if len(pending) >= window or size >= window_bytes:
                yield from self._with_payloads(pending)
                pending, size = [], 0
        if pending:
            yield from self._with_payloads(pending)

    def payloads_of(self, records: Sequence[QuarantineRecord]) -> dict[uuid.UUID, bytes]:
        """The verified original bytes of ``records`` by id, read as :meth:`iter_payloads`
        reads them (one ranged GET per run of nearby payloads in each chunk object)."""
        return {record.id: data for record, data in self._with_payloads(list(records))}

    def _with_payloads(
        self, records: list[QuarantineRecord]
    ) -> Iterator[tuple[QuarantineRecord, bytes]]:
        by_key: dict[str, list[PayloadRef]] = {}
        for record in records:
            by_key.setdefault(record.payload.key, []).append(record.payload)
        spans: dict[str, list[tuple[int, bytes]]] = {}
        for key, refs in by_key.items():
            for start, end in read_runs(refs):
                data = self.retry.call(self.payloads.get_range, key, start, end - start)
                spans.setdefault(key, []).append((start, data))
        for record in records:
            ref = record.payload
            for start, data in spans[ref.key]:
                if start <= ref.offset and ref.offset + ref.length <= start + len(data):
                    payload = data[ref.offset - start : ref.offset - start + ref.length]
                    break
            else:  # pragma: no cover - every ref lies in one of its runs
                payload = self.payload(record)
            if hashlib.sha256(payload).hexdigest() != ref.sha256:
                raise PayloadStoreError(
                    f"payload of record {record.id} is corrupt: SHA-256 mismatch in {ref.key}"
                )
            yield record, payload

    def get(self, record_id: uuid.UUID) -> QuarantineRecord | None:
        return self.retry.call(self.store.get, record_id)

    def list(
        self, flt: QuarantineFilter | None = None, *, limit: int = 50, offset: int = 0
    ) -> list[QuarantineRecord]:
        """Matching records, newest first."""
        return self.retry.call(
            self.store.list, flt or QuarantineFilter(), limit=limit, offset=offset
        )

    def count(self, flt: QuarantineFilter | None = None) -> int:
        return self.retry.call(self.store.count, flt or QuarantineFilter())

    def iter(
        self, flt: QuarantineFilter | None = None, *, batch_size: int = 1000
    ) -> Iterator[QuarantineRecord]:
        """Every matching record, oldest first (not retried: it is a live cursor)."""
        return self.store.iter(flt or QuarantineFilter(), batch_size=batch_size)

    def check(self) -> None:
        """Probe both stores once (no retry): raise the first failure."""
        self.store.check()
        self.payloads.check()

    def failing(self) -> dict[Dependency, DataQuarantineError | OSError]:
        """Probe both stores once (no retry): each one that failed, with its error."""
        failed: dict[Dependency, DataQuarantineError | OSError] = {}
        probes: tuple[tuple[Dependency, Callable[[], None]], ...] = (
            ("store", self.store.check),
            ("payloads", self.payloads.check),
        )
        for name, probe in probes:
            try:
                probe()
            except (DataQuarantineError, OSError) as exc:
                failed[name] = exc
        return failed

    def close(self) -> None:
        try:
            self.store.close()
        finally:
            self.payloads.close()

    def __enter__(self) -> Quarantine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_runs(refs: list[PayloadRef]) -> list[tuple[int, int]]:
    """The byte ranges ``(start, end)`` read to fetch the payloads ``refs`` of one chunk, in
    order: nearby payloads share one read (see :data:`MIN_BRIDGE_BYTES`)."""
    runs: list[tuple[int, int, int]] = []  # start, end, payload bytes inside
    for ref in sorted(refs, key=lambda r: r.offset):
        ref_end = ref.offset + ref.length
        if runs:
            start, end, useful = runs[-1]
            if ref.offset - end <= max(MIN_BRIDGE_BYTES, useful):
                runs[-1] = (start, max(end, ref_end), useful + ref.length)
                continue
        runs.append((ref.offset, ref_end, ref.length))
    return [(start, end) for start, end, _ in runs]
