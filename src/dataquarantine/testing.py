"""Test doubles of the quarantine ports, and factories for quarantine values.

:class:`InMemoryQuarantineStore` (with its :class:`InMemoryReviewLog` half) and
:class:`InMemoryPayloadStore` implement :class:`~dataquarantine.quarantine.ports.QuarantineStore`,
:class:`~dataquarantine.quarantine.ports.ReviewLog` and
:class:`~dataquarantine.quarantine.ports.PayloadStore` in memory with the same observable
semantics as the real backends (filters, dedup, ordering, content-addressed keys, key
validation). They count calls and can be told to fail the next N calls of an operation, so unit
tests can exercise retries and outages without a database or an object store. They are meant
for tests (of this project and of code built on it), not for production use.
:class:`InMemoryContractSource` is the contract registry's source in memory, with change
notifications and an outage switch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from dataquarantine.contracts.source import StoredContract, same_version
from dataquarantine.errors import (
    ConfigError,
    DataQuarantineError,
    PayloadNotFoundError,
    PayloadStoreError,
    PayloadStoreUnavailableError,
    RecordNotFoundError,
    RegistryUnavailableError,
    StoreError,
    StoreUnavailableError,
)
from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.results import ContractRef, ErrorCode, Severity, Violation
from dataquarantine.kernel.revisions import Revision
from dataquarantine.quarantine.envelope import (
    FileSource,
    PayloadRef,
    QuarantineFilter,
    QuarantineItem,
    QuarantineRecord,
    Source,
)
from dataquarantine.quarantine.fix_log import FixItem, FixJobRecord, InMemoryFixLog
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
from dataquarantine.quarantine.payloads.keys import chunk_key, validate_key, validate_range
from dataquarantine.quarantine.ports import Capability

__all__ = [
    "DEFAULT_CONTRACT",
    "InMemoryContractSource",
    "InMemoryPayloadStore",
    "InMemoryQuarantineStore",
    "InMemoryReviewLog",
    "make_item",
    "make_record",
    "make_violation",
]

StoreOperation = Literal[
    "migrate",
    "insert_many",
    "get",
    "list",
    "count",
    "iter",
    "check",
    "add_revision",
    "revisions",
    "events",
    "transition",
    "stats",
]
PayloadOperation = Literal["put_chunk", "get_range", "check"]
ErrorFactory = Callable[[str], DataQuarantineError]


class _Faults:
    """Per-operation "fail the next N calls" switches."""

    def __init__(self) -> None:
        self._pending: dict[str, tuple[int, ErrorFactory]] = {}

    def arm(self, operation: str, times: int, error: ErrorFactory) -> None:
        self._pending[operation] = (times, error)

    def trip(self, operation: str) -> None:
        times, error = self._pending.get(operation, (0, StoreError))
        if times > 0:
            self._pending[operation] = (times - 1, error)
            raise error(f"injected failure of {operation}")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _clean_text(value: str) -> str:
    # As the SQL stores do: lone surrogates and NUL become U+FFFD (see ``sql.review.clean_text``).
    value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value.replace("\x00", "\ufffd")


def _clean(obj: Any) -> Any:
    changes = {
        f.name: _clean_text(v)
        for f in dataclasses.fields(obj)
        if f.init and type(v := getattr(obj, f.name)) is str  # not the StrEnum fields
    }
    return dataclasses.replace(obj, **changes) if changes else obj


def _stored_record(record: QuarantineRecord) -> QuarantineRecord:
    """``record`` as the SQL stores give it back: text cleaned, ``quarantined_at`` in UTC."""
    cleaned: QuarantineRecord = _clean(record)
    return dataclasses.replace(
        cleaned,
        source=_clean(record.source),
        errors=tuple(_clean(v) for v in record.errors),
        payload=_clean(record.payload),
        quarantined_at=_aware(record.quarantined_at).astimezone(UTC),
    )


def _check_page(name: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")


def _matches(record: QuarantineRecord, flt: QuarantineFilter) -> bool:
    if flt.contract is not None and record.contract != flt.contract:
        return False
    if flt.code is not None and all(v.code is not flt.code for v in record.errors):
        return False
    if flt.status is not None and record.status is not flt.status:
        return False
    if flt.source_kind is not None and record.source.kind != flt.source_kind:
        return False
    if flt.source_name is not None and record.source.name != flt.source_name:
        return False
    at = _aware(record.quarantined_at)
    if flt.since is not None and at < _aware(flt.since):
        return False
    if flt.until is not None and at >= _aware(flt.until):
        return False
    if flt.run_id is not None and record.run_id != flt.run_id:
        return False
    if flt.path is not None and all(v.path != flt.path for v in record.errors):
        return False
    if flt.text is not None:
        needle = flt.text.lower()
        return any(needle in v.message.lower() for v in record.errors)
    return True


class InMemoryReviewLog:
    """The :class:`~dataquarantine.quarantine.ports.ReviewLog` half of
    :class:`InMemoryQuarantineStore`, as ``ReviewQueries`` is of the SQL stores: revisions,
    events, transitions and stats over the store's dicts."""

    _rows: dict[uuid.UUID, QuarantineRecord]
    _revisions: defaultdict[uuid.UUID, list[StoredRevision]]
    _events: defaultdict[uuid.UUID, list[Event]]
    _lock: threading.Lock

    def _enter(self, operation: str) -> None:
        raise NotImplementedError

    def _select(self, flt: QuarantineFilter, *, newest_first: bool) -> list[QuarantineRecord]:
        raise NotImplementedError

    def add_revision(self, record_id: uuid.UUID, revision: Revision) -> StoredRevision:
        self._enter("add_revision")
        with self._lock:
            record = self._rows.get(record_id)
            if record is None:
                raise RecordNotFoundError(f"no quarantined record {record_id}")
            stored = _stored(record_id, len(self._revisions[record_id]) + 1, revision)
            self._revisions[record_id].append(stored)
            if revision.kind == "edit":
                self._events[record_id].append(
                    Event(
                        record_id=record_id,
                        actor=revision.author,
                        action=EventAction.EDIT,
                        from_status=record.status,
                        to_status=record.status,
                        detail={"revision": stored.number, "changes": len(revision.changes)},
                        at=revision.created_at,
                    )
                )
            return stored

    def revisions(self, record_id: uuid.UUID) -> list[StoredRevision]:
        self._enter("revisions")
        with self._lock:
            return list(self._revisions.get(record_id, ()))

    def events(self, record_id: uuid.UUID) -> list[Event]:
        self._enter("events")
        with self._lock:
            return list(self._events.get(record_id, ()))

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
        self._enter("transition")
        with self._lock:
            record = self._rows.get(record_id)
            if record is None:
                raise RecordNotFoundError(f"no quarantined record {record_id}")
            if record.status not in frozenset(expected):
                return None
            record = dataclasses.replace(
                record,
                status=to,
                attempts=record.attempts if attempts is None else attempts,
                errors=record.errors if errors is None else tuple(errors),
            )
            self._rows[record_id] = record
            self._events[record_id].append(event)
            return record

    def transition_many(self, changes: Sequence[StatusChange]) -> list[bool]:
        self._enter("transition")
        with self._lock:
            applied = []
            for change in changes:
                record = self._rows.get(change.record_id)
                ok = record is not None and record.status in change.expected
                if record is not None and ok:
                    attempts = record.attempts if change.attempts is None else change.attempts
                    self._rows[record.id] = dataclasses.replace(
                        record, status=change.to, attempts=attempts
                    )
                    self._events[record.id].append(change.event)
                applied.append(ok)
            return applied

    def stats(
        self, flt: QuarantineFilter, *, bucket: Bucket = "hour", top: int = 10
    ) -> QuarantineStats:
        self._enter("stats")
        rows = self._select(flt, newest_first=False)

        def counts(keys: Iterable[str], limit: int | None = None) -> tuple[Count, ...]:
            ordered = sorted(Counter(keys).items(), key=lambda kv: (-kv[1], kv[0]))
            return tuple(Count(k, n) for k, n in ordered[:limit])

        series: Counter[tuple[datetime, str]] = Counter()
        for r in rows:
            at = _aware(r.quarantined_at).astimezone(UTC)
            start = at.replace(minute=0, second=0, microsecond=0)
            if bucket == "day":
                start = start.replace(hour=0)
            series[(start, r.error_code.value)] += 1
        return QuarantineStats(
            total=len(rows),
            by_contract=counts((r.contract or "(none)" for r in rows), top),
            by_code=counts(r.error_code.value for r in rows),
            by_status=counts(r.status.value for r in rows),
            by_field=counts((v.path for r in rows for v in r.errors), top),
            series=tuple(SeriesPoint(at, code, n) for (at, code), n in sorted(series.items())),
            bucket=bucket,
        )


class InMemoryQuarantineStore(InMemoryReviewLog, InMemoryFixLog):
    """A :class:`~dataquarantine.quarantine.ports.QuarantineStore` in a dict.

    ``insert_many`` is all-or-nothing and skips records whose id or non-empty ``dedup_key`` is
    already stored; ``list`` is newest first and ``iter`` oldest first (ties broken by id, as
    in SQL); ``count`` is exact. Filters combine with AND: ``code`` matches any violation,
    ``since`` is inclusive, ``until`` exclusive, ``text`` is a case-insensitive substring of
    any error message. ``calls`` counts every call per operation (failed ones included);
    :meth:`fail_next` makes the next calls of an operation raise. It keeps the review log too
    (:class:`InMemoryReviewLog`), but builds no JSON pages.
    """

    capabilities: frozenset[Capability] = frozenset({Capability.REVIEW_LOG, Capability.FIX_LOG})

    def __init__(self) -> None:
        self._rows: dict[uuid.UUID, QuarantineRecord] = {}
        self._revisions: defaultdict[uuid.UUID, list[StoredRevision]] = defaultdict(list)
        self._events: defaultdict[uuid.UUID, list[Event]] = defaultdict(list)
        self._fix_jobs: dict[str, FixJobRecord] = {}
        self._fix_items: defaultdict[str, dict[uuid.UUID, FixItem]] = defaultdict(dict)
        self._dedup: set[str] = set()
        self._lock = threading.Lock()
        self._faults = _Faults()
        self.calls: Counter[str] = Counter()
        self.closed = False

    def fail_next(
        self,
        times: int = 1,
        *,
        operation: StoreOperation = "insert_many",
        error: ErrorFactory = StoreUnavailableError,
    ) -> None:
        """Make the next ``times`` calls of ``operation`` raise ``error(message)``."""
        self._faults.arm(operation, times, error)

    def _enter(self, operation: str) -> None:
        self.calls[operation] += 1
        if self.closed:
            raise StoreError(f"{operation} on a closed store")
        self._faults.trip(operation)

    def migrate(self) -> None:
        self._enter("migrate")

    def insert_many(
        self,
        records: Sequence[QuarantineRecord],
        revisions: Mapping[uuid.UUID, Revision] | None = None,
    ) -> int:
        self._enter("insert_many")
        with self._lock:
            inserted = 0
            for record in map(_stored_record, records):
                if record.id in self._rows or (
                    record.dedup_key and record.dedup_key in self._dedup
                ):
                    continue
                self._rows[record.id] = record
                if record.dedup_key:
                    self._dedup.add(record.dedup_key)
                revision = (revisions or {}).get(record.id)
                if revision is not None:
                    self._revisions[record.id] = [_stored(record.id, 1, revision)]
                inserted += 1
            return inserted

    def get(self, record_id: uuid.UUID) -> QuarantineRecord | None:
        self._enter("get")
        return self._rows.get(record_id)

    def _select(self, flt: QuarantineFilter, *, newest_first: bool) -> list[QuarantineRecord]:
        with self._lock:
            rows = [record for record in self._rows.values() if _matches(record, flt)]
        rows.sort(key=lambda r: (_aware(r.quarantined_at), r.id), reverse=newest_first)
        return rows

    def list(
        self, flt: QuarantineFilter, *, limit: int = 50, offset: int = 0
    ) -> list[QuarantineRecord]:
        self._enter("list")
        _check_page("limit", limit, 0)
        _check_page("offset", offset, 0)
        return self._select(flt, newest_first=True)[offset : offset + limit]

    def count(self, flt: QuarantineFilter) -> int:
        self._enter("count")
        return len(self._select(flt, newest_first=False))

    def iter(self, flt: QuarantineFilter, *, batch_size: int = 1000) -> Iterator[QuarantineRecord]:
        self._enter("iter")
        _check_page("batch_size", batch_size, 1)
        return iter(self._select(flt, newest_first=False))

    def check(self) -> None:
        self._enter("check")

    def close(self) -> None:
        self.closed = True


def _stored(record_id: uuid.UUID, number: int, revision: Revision) -> StoredRevision:
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


class InMemoryPayloadStore:
    """A :class:`~dataquarantine.quarantine.ports.PayloadStore` in a dict of chunk objects.

    Keys are content-addressed and validated exactly like the real backends. ``calls`` counts
    every call per operation (failed ones included), ``put_count`` the ``put_chunk`` calls;
    :meth:`fail_next` makes the next calls raise (by default the transient
    :class:`~dataquarantine.errors.PayloadStoreUnavailableError`), and :meth:`corrupt`
    damages a stored object.
    """

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._faults = _Faults()
        self.calls: Counter[str] = Counter()
        self.closed = False

    @property
    def put_count(self) -> int:
        return self.calls["put_chunk"]

    def fail_next(
        self,
        times: int = 1,
        *,
        operation: PayloadOperation = "put_chunk",
        error: ErrorFactory = PayloadStoreUnavailableError,
    ) -> None:
        """Make the next ``times`` calls of ``operation`` raise ``error(message)``."""
        self._faults.arm(operation, times, error)

    def corrupt(self, key: str) -> None:
        """Flip the bits of the first byte of object ``key`` (to test checksum verification)."""
        data = self.objects[key]
        self.objects[key] = bytes([data[0] ^ 0xFF]) + data[1:] if data else b"\x00"

    def _enter(self, operation: str) -> None:
        self.calls[operation] += 1
        if self.closed:
            raise PayloadStoreError(f"{operation} on a closed payload store")
        self._faults.trip(operation)

    def put_chunk(self, data: bytes) -> str:
        self._enter("put_chunk")
        key = chunk_key(data)
        with self._lock:
            self.objects.setdefault(key, bytes(data))
        return key

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        self._enter("get_range")
        validate_range(key, offset, length)
        data = self.objects.get(validate_key(key))
        if data is None:
            raise PayloadNotFoundError(f"no payload chunk {key}")
        if offset + length > len(data):
            raise PayloadNotFoundError(f"payload chunk {key} has no range {offset}+{length}")
        return data[offset : offset + length]

    def check(self) -> None:
        self._enter("check")

    def close(self) -> None:
        self.closed = True


class InMemoryContractSource:
    """A :class:`~dataquarantine.contracts.source.ContractSource` in a dict, with change
    notifications (like PostgreSQL's). ``down = True`` makes every call raise the transient
    :class:`~dataquarantine.errors.RegistryUnavailableError`, as an outage does."""

    def __init__(self) -> None:
        self.versions: dict[str, StoredContract] = {}
        self.down = False
        self.calls: Counter[str] = Counter()
        self._watchers: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    @property
    def location(self) -> str:
        return "memory://contracts"

    def _enter(self, operation: str) -> None:
        self.calls[operation] += 1
        if self.down:
            raise RegistryUnavailableError(f"{self.location}: {operation}: registry down")

    def revision(self) -> str:
        self._enter("revision")
        return str(len(self.versions))

    def entries(self) -> list[StoredContract]:
        self._enter("entries")
        return list(self.versions.values())

    def add(self, entry: StoredContract) -> bool:
        self._enter("add")
        with self._lock:
            if same_version(self.versions.get(entry.ref), entry):
                return False
            self.versions[entry.ref] = entry
        for notify in list(self._watchers):
            notify()
        return True

    def watch(self, on_change: Callable[[], None]) -> Callable[[], None] | None:
        self._watchers.append(on_change)
        return lambda: self._watchers.remove(on_change)

    def close(self) -> None:
        pass


#: The contract that :func:`make_item` and :func:`make_record` use unless told otherwise.
DEFAULT_CONTRACT = ContractRef("orders", "1.0.0")


def make_violation(
    code: ErrorCode = ErrorCode.SCHEMA_VIOLATION,
    path: str = "/amount",
    message: str = "-1 is less than the minimum of 0",
    *,
    rule: str | None = None,
    keyword: str | None = "minimum",
    severity: Severity = Severity.ERROR,
) -> Violation:
    """A violation with plausible defaults; override what the test is about."""
    return Violation(
        code=code, path=path, message=message, rule=rule, keyword=keyword, severity=severity
    )


def make_item(
    payload: bytes | str = b'{"order_id": "o-1", "amount": -1}',
    *,
    line: int = 1,
    uri: str = "orders.jsonl",
    source: Source | None = None,
    errors: Sequence[Violation] | None = None,
    contract: ContractRef | None = DEFAULT_CONTRACT,
    run_id: str = "run-1",
) -> QuarantineItem:
    """A bad record from line ``line`` of file ``uri`` (or from ``source``)."""
    return QuarantineItem(
        source=source if source is not None else FileSource(uri=uri, line=line),
        payload=payload.encode() if isinstance(payload, str) else payload,
        errors=tuple(errors) if errors is not None else (make_violation(),),
        contract=contract,
        run_id=run_id,
    )


def make_record(
    payload: bytes | str = b'{"order_id": "o-1", "amount": -1}',
    *,
    line: int = 1,
    uri: str = "orders.jsonl",
    source: Source | None = None,
    errors: Sequence[Violation] | None = None,
    contract: ContractRef | None = DEFAULT_CONTRACT,
    run_id: str = "run-1",
    status: Status = Status.QUARANTINED,
    attempts: int = 0,
    quarantined_at: datetime | None = None,
) -> QuarantineRecord:
    """A stored envelope as the quarantine service would build it for the same item.

    Its payload ref points at offset 0 of a chunk holding only this payload.
    """
    item = make_item(
        payload, line=line, uri=uri, source=source, errors=errors, contract=contract, run_id=run_id
    )
    digest = hashlib.sha256(item.payload).hexdigest()
    return QuarantineRecord(
        id=item.record_id(digest),
        source=item.source,
        errors=item.errors,
        payload=PayloadRef(
            key=chunk_key(item.payload), offset=0, length=len(item.payload), sha256=digest
        ),
        contract=contract.name if contract else None,
        contract_version=contract.version if contract else None,
        status=status,
        attempts=attempts,
        quarantined_at=quarantined_at if quarantined_at is not None else datetime.now(UTC),
        run_id=run_id,
        dedup_key=item.dedup_key(digest),
    )
