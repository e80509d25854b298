"""What both SQL backends share: row encoding, filter SQL, the read queries."""

from __future__ import annotations

import builtins
import dataclasses
import logging
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import orjson

from dataquarantine.db.errors import is_transient
from dataquarantine.db.migrations.model import Dialect
from dataquarantine.errors import (
    ConfigError,
    StoreError,
    StoreIntegrityError,
    StoreUnavailableError,
)
from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.results import Violation
from dataquarantine.kernel.revisions import Revision
from dataquarantine.quarantine.envelope import (
    PayloadRef,
    QuarantineFilter,
    QuarantineRecord,
    source_from_dict,
)
from dataquarantine.quarantine.ports import Capability
from dataquarantine.quarantine.sql.fixes import FixQueries
from dataquarantine.quarantine.sql.review import clean_text

__all__ = [
    "INSERT_COLUMNS",
    "Row",
    "SqlQuarantineStore",
]

log = logging.getLogger("dataquarantine.quarantine.sql")

Row = tuple[Any, ...]

#: Column order of encoded rows (:meth:`SqlQuarantineStore._encode`).
INSERT_COLUMNS: tuple[str, ...] = (
    "id",
    "dedup_key",
    "contract",
    "contract_version",
    "source_kind",
    "source_name",
    "source",
    "error_code",
    "errors",
    "status",
    "attempts",
    "quarantined_at",
    "run_id",
    "payload_key",
    "payload_offset",
    "payload_length",
    "payload_sha256",
    "updated_at",
)

# Column order expected by SqlQuarantineStore._decode.
_SELECT = (
    "SELECT q.id, q.dedup_key, q.contract, q.contract_version, q.source, q.errors, q.status,"
    " q.attempts, q.quarantined_at, q.run_id, q.payload_key, q.payload_offset,"
    " q.payload_length, q.payload_sha256 FROM dq_quarantine AS q"
)
_TS_INDEX = 8


def store_error(exc: BaseException, where: str) -> StoreError:
    """A driver error of a SQL store as the store's error, transient or terminal by the one
    table of :mod:`dataquarantine.db.errors`."""
    if is_transient(exc):
        return StoreUnavailableError(f"{where}: {exc}")
    return StoreIntegrityError(f"{where}: {exc}")


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _loads(value: Any) -> Any:
    # PostgreSQL hands back jsonb already decoded; SQLite hands back text.
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return value


class _Unstorable(Exception):
    """A row holds text the database cannot store as is."""


def _encodable(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _clean(obj: Any) -> Any:
    """A copy of a frozen dataclass with every text field cleaned (one level deep)."""
    changes = {
        f.name: clean_text(v)
        for f in dataclasses.fields(obj)
        if f.init and type(v := getattr(obj, f.name)) is str  # not the StrEnum fields
    }
    return dataclasses.replace(obj, **changes)


def _check_page(name: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")


class SqlQuarantineStore(FixQueries, ABC):
    """Base of the SQL :class:`~dataquarantine.quarantine.ports.QuarantineStore` backends.

    Subclasses supply the connection handling, the dialect's placeholders and encodings, and
    the write paths; the read queries and the filter semantics live here, once (the review
    side, :class:`~dataquarantine.quarantine.sql.review.ReviewQueries`, and the bulk-fix side,
    :class:`~dataquarantine.quarantine.sql.fixes.FixQueries`, too).
    """

    #: Both backends keep the review log and build JSON pages in the database.
    capabilities: frozenset[Capability] = frozenset(
        {Capability.REVIEW_LOG, Capability.JSON_PAGES, Capability.FIX_LOG}
    )
    dialect: ClassVar[Dialect]
    #: The driver's positional placeholder.
    _P: ClassVar[str]
    #: SQL condition "some error message contains the (one) parameter, ignoring case".
    _TEXT_CONDITION: ClassVar[str]
    #: Any violation of ``q.errors`` has the bound path.
    _PATH_CONDITION: ClassVar[str]

    def __init__(self, display_url: str) -> None:
        #: The store URL with any password masked.
        self.url = display_url
        self._lock = threading.RLock()
        self._closed = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def __enter__(self) -> SqlQuarantineStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- backend hooks -------------------------------------------------------------------------

    @abstractmethod
    def _fetch(self, sql: str, params: Sequence[Any]) -> builtins.list[Row]:
        """Run one read query and return all its rows (errors translated)."""

    @abstractmethod
    def _encode_id(self, record_id: uuid.UUID) -> Any: ...

    @abstractmethod
    def _encode_ts(self, value: datetime) -> Any: ...

    @abstractmethod
    def _decode_ts(self, value: Any) -> datetime: ...

    @abstractmethod
    def _text_param(self, text: str) -> str:
        """The bind value for :attr:`_TEXT_CONDITION`."""

    @abstractmethod
    def migrate(self) -> None: ...

    @abstractmethod
    def insert_many(
        self,
        records: Sequence[QuarantineRecord],
        revisions: Mapping[uuid.UUID, Revision] | None = None,
    ) -> int: ...

    @abstractmethod
    def applied_migrations(self) -> builtins.list[tuple[int, str]]:
        """``(version, name)`` of every applied migration, in version order."""

    @abstractmethod
    def check(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    # -- reads ---------------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] = ()) -> builtins.list[Row]:
        """All rows of one read-only statement, run as the store's own reads are (errors
        translated): for diagnostics, not part of the store port."""
        return self._fetch(sql, params)

    def get(self, record_id: uuid.UUID) -> QuarantineRecord | None:
        """The record with that id, or ``None``."""
        rows = self._fetch(f"{_SELECT} WHERE q.id = {self._P}", [self._encode_id(record_id)])
        return self._decode(rows[0]) if rows else None

    def list(
        self, flt: QuarantineFilter, *, limit: int = 50, offset: int = 0
    ) -> builtins.list[QuarantineRecord]:
        """Matching records, newest first (ties broken by id, so pages are stable)."""
        sql, params = self._page_sql(flt, limit, offset)
        return [self._decode(row) for row in self._fetch(sql, params)]

    def list_json(
        self, flt: QuarantineFilter, *, limit: int = 50, offset: int = 0
    ) -> tuple[bytes, int]:
        """The page of :meth:`list` as one JSON array of envelopes
        (:meth:`QuarantineRecord.to_dict` form) and its length: what an API answers, without a
        record object per row where the backend can build the JSON itself."""
        records = self.list(flt, limit=limit, offset=offset)
        return orjson.dumps([r.to_dict() for r in records]), len(records)

    def _page_sql(
        self, flt: QuarantineFilter, limit: int, offset: int, *, ids_first: bool = False
    ) -> tuple[str, builtins.list[Any]]:
        """The page query of :meth:`list` and its parameters. ``ids_first``: select the page's
        ids in a subquery (which the indexes may answer alone), then read only those rows;
        the rows then come in no particular order."""
        _check_page("limit", limit, 0)
        _check_page("offset", offset, 0)
        where, params = self._where(flt)
        page = f"{where} ORDER BY q.quarantined_at DESC, q.id DESC LIMIT {self._P} OFFSET {self._P}"
        if ids_first:
            sql = f"{_SELECT} WHERE q.id IN (SELECT q.id FROM dq_quarantine AS q{page})"
        else:
            sql = f"{_SELECT}{page}"
        return sql, [*params, limit, offset]

    def count(self, flt: QuarantineFilter) -> int:
        """The true number of matching records."""
        if flt.code is not None and flt == QuarantineFilter(code=flt.code):
            # The code index alone answers it (one row per record and distinct code).
            rows = self._fetch(
                f"SELECT count(*) FROM dq_quarantine_codes WHERE code = {self._P}",
                [flt.code.value],
            )
            return int(rows[0][0])
        where, params = self._where(flt)
        rows = self._fetch(f"SELECT count(*) FROM dq_quarantine AS q{where}", params)
        return int(rows[0][0])

    def iter(self, flt: QuarantineFilter, *, batch_size: int = 1000) -> Iterator[QuarantineRecord]:
        """Every matching record, oldest first, in keyset-paginated pages of ``batch_size``.

        Each page is its own query, so nothing is held open between pages; records inserted
        meanwhile with a later ``quarantined_at`` are included.
        """
        _check_page("batch_size", batch_size, 1)
        where, params = self._where(flt)
        order = f" ORDER BY q.quarantined_at, q.id LIMIT {self._P}"
        joiner = " AND " if where else " WHERE "
        after = f"{joiner}(q.quarantined_at, q.id) > ({self._P}, {self._P})"
        rows = self._fetch(f"{_SELECT}{where}{order}", [*params, batch_size])
        while rows:
            for row in rows:
                yield self._decode(row)
            if len(rows) < batch_size:
                return
            last = rows[-1]
            rows = self._fetch(
                f"{_SELECT}{where}{after}{order}", [*params, last[_TS_INDEX], last[0], batch_size]
            )

    # -- encoding ------------------------------------------------------------------------------

    def _where(self, flt: QuarantineFilter) -> tuple[str, builtins.list[Any]]:
        p = self._P
        conds: builtins.list[str] = []
        params: builtins.list[Any] = []

        def equal(column: str, value: Any) -> None:
            conds.append(f"q.{column} = {p}")
            params.append(value)

        if flt.contract is not None:
            equal("contract", flt.contract)
        if flt.code is not None:
            conds.append(
                "EXISTS (SELECT 1 FROM dq_quarantine_codes AS c"
                f" WHERE c.code = {p} AND c.record_id = q.id)"
            )
            params.append(flt.code.value)
        if flt.status is not None:
            equal("status", flt.status.value)
        if flt.source_kind is not None:
            equal("source_kind", flt.source_kind)
        if flt.source_name is not None:
            equal("source_name", flt.source_name)
        if flt.since is not None:
            conds.append(f"q.quarantined_at >= {p}")
            params.append(self._encode_ts(flt.since))
        if flt.until is not None:
            conds.append(f"q.quarantined_at < {p}")
            params.append(self._encode_ts(flt.until))
        if flt.run_id is not None:
            equal("run_id", flt.run_id)
        if flt.text is not None:
            conds.append(self._TEXT_CONDITION)
            params.append(self._text_param(flt.text))
        if flt.path is not None:
            conds.append(self._PATH_CONDITION)
            params.append(flt.path)
        if not conds:
            return "", params
        return " WHERE " + " AND ".join(conds), params

    def _encode(self, record: QuarantineRecord, updated_at: Any) -> Row:
        """One row in :data:`INSERT_COLUMNS` order.

        Text the databases cannot hold or search (lone surrogates; NUL, which PostgreSQL
        refuses and SQLite's JSON functions cut at) is replaced by U+FFFD rather than failing
        the batch: a bad record must never be lost. Such rows are rare, so the check is cheap
        and the rewrite happens only for them.
        """
        try:
            return self._encode_row(record, updated_at)
        except (_Unstorable, orjson.JSONEncodeError):
            cleaned = dataclasses.replace(
                _clean(record),
                source=_clean(record.source),
                errors=tuple(_clean(v) for v in record.errors),
                payload=_clean(record.payload),
            )
            return self._encode_row(cleaned, updated_at, verify=False)

    def _encode_row(self, record: QuarantineRecord, updated_at: Any, *, verify: bool = True) -> Row:
        source = record.source
        payload = record.payload
        row = (
            self._encode_id(record.id),
            # An empty key is stored as NULL: NULLs never collide, so keyless records are kept.
            record.dedup_key or None,
            record.contract,
            record.contract_version,
            source.kind,
            source.name,
            _dumps(source.to_dict()),
            record.error_code.value,
            _dumps([v.to_dict() for v in record.errors]),
            record.status.value,
            record.attempts,
            self._encode_ts(record.quarantined_at),
            record.run_id,
            payload.key,
            payload.offset,
            payload.length,
            payload.sha256,
            updated_at,
        )
        if not verify:  # cleaned already
            return row
        for value in row:
            if isinstance(value, str):
                if not value.isascii() and not _encodable(value):
                    raise _Unstorable
                # JSON text carries NUL as the escape \u0000 (a false alarm costs a rewrite).
                if "\x00" in value or "\\u0000" in value:
                    raise _Unstorable
        return row

    def _decode(self, row: Row) -> QuarantineRecord:
        try:
            raw_id = row[0]
            return QuarantineRecord(
                id=raw_id if isinstance(raw_id, uuid.UUID) else uuid.UUID(raw_id),
                source=source_from_dict(_loads(row[4])),
                errors=tuple(Violation.from_dict(v) for v in _loads(row[5])),
                payload=PayloadRef(
                    key=row[10], offset=int(row[11]), length=int(row[12]), sha256=row[13]
                ),
                contract=row[2],
                contract_version=row[3],
                status=Status(row[6]),
                attempts=int(row[7]),
                quarantined_at=self._decode_ts(row[_TS_INDEX]),
                run_id=row[9],
                dedup_key=row[1] or "",
            )
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
            raise StoreIntegrityError(f"corrupt quarantine row {row[0]!r}: {exc}") from exc

    # -- shared plumbing -----------------------------------------------------------------------

    def _ensure_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self!r} is closed")
