"""The check pass of a batch: orphans found in PostgreSQL, contract violations by the engine.

One query per batch reads every staging row of the batch once: its ctid, its key, per
``references:`` entry whether the parent is missing (``LEFT JOIN parent``, ``parent IS
NULL``), and its columns. The foreign-key decision is made by PostgreSQL's hash join; Python
only receives the verdict. Each row, as the JSON value ``row_to_json`` would give, goes through
the contract's compiled hot path (JSON Schema ``is_valid``, then the CEL rules), and only a row
that fails is checked again for every violation, exactly as the engine does everywhere else.

When the contract's checks are pushed down (:mod:`.pushdown`), the query returns only the
suspects, with the predicate's verdict; the engine skips the rows it proved valid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeAlias

import orjson
from psycopg import sql

from dataquarantine.contracts.model import field_to_pointer
from dataquarantine.kernel.results import ErrorCode, Violation
from dataquarantine.load.connection import Connection, first_row
from dataquarantine.load.plan import ColumnKind, LoadPlan
from dataquarantine.quarantine.envelope import QuarantineItem, TableSource
from dataquarantine.validation.base import DecodeFailure
from dataquarantine.validation.contract import TOO_DEEP, Contract
from dataquarantine.validation.engine import gc_paused
from dataquarantine.validation.parsing import nests_deeper_than, parse_json

if TYPE_CHECKING:
    import psycopg

    #: The check query's server-side cursor.
    RowCursor: TypeAlias = psycopg.ServerCursor[tuple[Any, ...]]

__all__ = [
    "BadRow",
    "BatchCheck",
    "LatestPerKey",
    "check_batch",
    "ctid_order",
    "needs_text_mode",
    "tid",
]

_TYPED = frozenset({"integer", "number", "boolean"})


def tid(page: int) -> str:
    """The first tuple id of heap page ``page``, as a ``tid`` literal parameter."""
    return f"({page},0)"


def needs_text_mode(plan: LoadPlan, contract: Contract) -> bool:
    """Whether text staging columns hold values the schema types as numbers or booleans, so
    rows must be decoded and typed (as CSV cells are) before validation."""
    if not plan.staging_text:
        return False
    types = contract.column_types()
    return any(types.get(c) in _TYPED for c in plan.staging_text)


@dataclass(frozen=True, slots=True)
class BadRow:
    """A staging row that will be quarantined instead of loaded."""

    ctid: str
    #: The conflict key as text (JSON array for a composite key), or ``ctid:(p,t)`` when null.
    key: str
    payload: bytes
    errors: tuple[Violation, ...]
    missing: tuple[dict[str, Any], ...]

    def item(self, source_table: str, contract: Contract, run_id: str) -> QuarantineItem:
        return QuarantineItem(
            source=TableSource(table=source_table, key=self.key),
            payload=self.payload,
            errors=self.errors,
            contract=contract.ref,
            run_id=run_id,
        )

    def detail(self) -> dict[str, Any]:
        """The ``detail`` column of ``data_quality_quarantine``."""
        return {
            "missing_references": list(self.missing),
            "errors": [v.to_dict() for v in self.errors],
        }


@dataclass(frozen=True, slots=True)
class BatchCheck:
    """The outcome of the check pass of one batch: pages ``[lo, hi)``.

    ``superseded`` holds the ctids of valid rows whose key comes again later in the batch
    (the later row wins, as if the rows had been applied in order).
    """

    batch_no: int
    lo: int
    hi: int
    read: int
    bad: tuple[BadRow, ...]
    superseded: tuple[str, ...] = ()
    #: Whether the check pass saw every key of the batch (so ``superseded`` is complete).
    keys_seen: bool = True


def _orphan_violations(
    plan: LoadPlan, row: dict[str, Any], flags: tuple[bool, ...]
) -> tuple[list[Violation], list[dict[str, Any]]]:
    violations: list[Violation] = []
    missing: list[dict[str, Any]] = []
    for ref, flag in zip(plan.refs, flags, strict=True):
        if not flag:
            continue
        value = row.get(ref.column)
        violations.append(ref.spec.orphan(value))
        missing.append(ref.spec.missing(value))
    return violations, missing


def _null_key(plan: LoadPlan, row: dict[str, Any], seen: set[str]) -> list[Violation]:
    out: list[Violation] = []
    for k in plan.key:
        path = field_to_pointer(k)
        if row.get(k) is None and path not in seen:
            msg = f"conflict key column {k!r} is null"
            out.append(Violation(ErrorCode.SCHEMA_VIOLATION, path, msg, keyword="required"))
    return out


def ctid_order(ctid: str) -> tuple[int, int]:
    """A ``ctid`` text such as ``(3,10)`` as ``(page, item)``: the order of the heap."""
    page, _, item = ctid.strip("()").partition(",")
    return int(page), int(item)


class _RowReader:
    """Staging rows (driver tuples) as the JSON objects ``row_to_json`` would give, except
    that a NULL column is left out (an absent property), as the CSV and Parquet readers of
    ``validate`` do: a contract then means the same thing for a file and for a table.

    A row of the check query is the staging columns, then ctid, key, "any parent missing" and
    one flag per reference (see :meth:`LoadPlan.check`)."""

    def __init__(self, plan: LoadPlan, *, pushed_down: bool = False) -> None:
        columns = plan.row_columns()
        self.names = tuple(c.name for c in columns)
        self.json_names = tuple(c.name for c in columns if c.kind is ColumnKind.JSON)
        n = len(columns)
        self.ctid, self.key, self.orphan = n, n + 1, n + 2
        self.flags = slice(n + 3, n + 3 + len(plan.refs))
        #: The column holding the pushed-down predicate's verdict, if any.
        self.proven = n + 3 + len(plan.refs) if pushed_down else None

    def values(
        self, rows: list[tuple[Any, ...]], coerce: Callable[[dict[str, Any]], dict[str, Any]] | None
    ) -> list[dict[str, Any]]:
        names = self.names
        if self.json_names:
            out = [self.value(r) for r in rows]
        else:  # zip stops at the last column: the trailing ctid, key and flags are left out
            out = [dict(zip(names, r)) if None not in r else self.value(r) for r in rows]  # noqa: B905
        return [coerce(v) for v in out] if coerce is not None else out

    def value(self, row: tuple[Any, ...]) -> dict[str, Any]:
        """One row; a NULL column is an absent property, as in the file readers."""
        value = {k: v for k, v in zip(self.names, row) if v is not None}  # noqa: B905
        for name in self.json_names:
            text = value.get(name)
            if text is not None:
                value[name] = parse_json(text)
        return value


def _fast_checks(contract: Contract, values: list[dict[str, Any]], *, deep: bool) -> list[bool]:
    """The hot path of the engine: structure, then rules, no violation objects."""
    is_valid = contract.is_valid_fn
    rules = contract.rules_check
    if not deep:
        try:  # the common case in one comprehension; any error -> row by row below
            if rules is None:
                return [is_valid(v) for v in values]
            return [is_valid(v) and not rules(v) for v in values]
        except Exception:  # noqa: S110 - retried row by row, where errors are per row
            pass

    def ok(value: dict[str, Any]) -> bool:
        try:
            if deep and nests_deeper_than(value):
                return False
            return bool(is_valid(value)) and (rules is None or not rules(value))
        except Exception:  # _diagnose records the failure as a violation
            return False

    return [ok(v) for v in values]


def _diagnose(
    plan: LoadPlan,
    contract: Contract,
    reader: _RowReader,
    row: tuple[Any, ...],
    value: dict[str, Any],
    ok: bool,
) -> tuple[list[Violation], list[dict[str, Any]]]:
    """Every violation of one suspect row: missing parents first, then the contract's."""
    errors: list[Violation] = []
    missing: list[dict[str, Any]] = []
    if row[reader.orphan]:
        flags = tuple(bool(f) for f in row[reader.flags])
        errors, missing = _orphan_violations(plan, value, flags)
    if not ok:
        if nests_deeper_than(value):
            errors.append(contract.parse_error(DecodeFailure(TOO_DEEP)).errors[0])
        else:
            errors.extend(contract.check(value).errors)
    if row[reader.key] is None:
        errors.extend(_null_key(plan, value, {v.path for v in errors}))
    return errors, missing


class LatestPerKey:
    """Which loadable rows are superseded by a later row (by ctid) with the same key: feed it
    the rows' keys and ctids chunk by chunk with :meth:`add`, read :attr:`superseded`.

    Keys are only hashed into a set while no key repeats (the common case); the key -> ctid
    map is built from the kept chunks the first time one does."""

    def __init__(self) -> None:
        self.seen: set[Any] = set()
        self.chunks: list[tuple[list[Any], list[str]]] = []
        self.by_key: dict[Any, str] | None = None
        self.superseded: list[str] = []

    def add(self, keys: list[Any], ctids: list[str]) -> None:
        """One chunk of rows, ``keys[i]`` being the key of the row at ``ctids[i]``."""
        if self.by_key is None:
            before = len(self.seen)
            self.seen.update(keys)
            if len(self.seen) - before == len(keys):
                self.chunks.append((keys, ctids))
                return
            self.by_key = {}
            for old_keys, old_ctids in self.chunks:
                self._apply(old_keys, old_ctids)
            self.chunks = []
        self._apply(keys, ctids)

    def _apply(self, keys: list[Any], ctids: list[str]) -> None:
        by_key = self.by_key
        assert by_key is not None
        for key, ctid in zip(keys, ctids, strict=True):
            kept = by_key.get(key)
            if kept is None:
                by_key[key] = ctid
                continue
            older, newer = sorted((kept, ctid), key=ctid_order)
            self.superseded.append(older)
            by_key[key] = newer


def check_batch(
    conn: Connection,
    plan: LoadPlan,
    contract: Contract,
    batch_no: int,
    lo: int,
    hi: int,
    *,
    text_mode: bool,
    surely_valid: sql.Composable | None = None,
    chunk: int = 5_000,
) -> BatchCheck:
    """Read pages ``[lo, hi)`` of the staging table once; return the rows not to upsert.

    Valid rows take the shortest path (one dict, ``is_valid``, the compiled rules); only the
    few suspects (a failed check, a missing parent, a null key) get a full diagnosis. Rows are
    turned into Python objects ``chunk`` at a time, so memory stays flat. With a pushed-down
    ``surely_valid`` predicate, PostgreSQL sends the suspects only (and a count)."""
    bounds = (tid(lo), tid(hi))
    with conn.transaction(), conn.cursor(name=f"dq_check_{batch_no}") as cur:
        read = None
        if surely_valid is not None:
            read = int(first_row(conn.execute(plan.count(), bounds).fetchone(), "count")[0])
        # A server-side cursor: only ``chunk`` rows are held by the client at a time (a plain
        # query would buffer the whole batch in libpq first), planned for reading every row.
        conn.execute("SET LOCAL cursor_tuple_fraction = 1.0")
        cur.execute(plan.check(surely_valid), bounds)
        check = _check_rows(
            cur,
            _RowReader(plan, pushed_down=surely_valid is not None),
            plan,
            contract,
            (batch_no, lo, hi),
            text_mode=text_mode,
            chunk=chunk,
        )
    if read is None:
        return check
    # Only suspects were read: the key repeats among the valid rows are found at write time.
    return replace(check, read=read, superseded=(), keys_seen=False)


def _oks(
    contract: Contract, reader: _RowReader, rows: list[Any], values: list[Any], deep: bool
) -> list[bool]:
    """The engine's fast verdict per row; rows the pushed-down predicate proved valid skip it."""
    if reader.proven is None:
        return _fast_checks(contract, values, deep=deep)
    proven = reader.proven
    oks = [bool(r[proven]) for r in rows]
    todo = [i for i, ok in enumerate(oks) if not ok]
    for i, ok in zip(
        todo, _fast_checks(contract, [values[i] for i in todo], deep=deep), strict=True
    ):
        oks[i] = ok
    return oks


def _check_rows(
    cur: RowCursor,
    reader: _RowReader,
    plan: LoadPlan,
    contract: Contract,
    batch: tuple[int, int, int],
    *,
    text_mode: bool,
    chunk: int,
) -> BatchCheck:
    batch_no, lo, hi = batch
    coerce = contract.text_coercer() if text_mode else None
    deep = bool(reader.json_names)
    bad: list[BadRow] = []
    latest = LatestPerKey()
    read = 0
    ctid_at, key_at, orphan_at = reader.ctid, reader.key, reader.orphan
    with gc_paused():
        while rows := cur.fetchmany(chunk):
            read += len(rows)
            values = reader.values(rows, coerce)
            oks = _oks(contract, reader, rows, values, deep)
            suspects = [
                i
                for i, (row, ok) in enumerate(zip(rows, oks, strict=True))
                if not ok or row[orphan_at] or row[key_at] is None
            ]
            keys = [r[key_at] for r in rows]
            ctids = [r[ctid_at] for r in rows]
            dropped: list[int] = []
            for i in suspects:
                row = rows[i]
                errors, missing = _diagnose(plan, contract, reader, row, values[i], oks[i])
                if not errors:  # valid after all (e.g. only warn-severity rules failed)
                    continue
                dropped.append(i)
                # orjson's bytes keep their 4 KiB write buffer: a copy holds only the payload.
                payload = memoryview(
                    orjson.dumps(reader.value(row), option=orjson.OPT_NON_STR_KEYS)
                ).tobytes()
                key = row[key_at] if row[key_at] is not None else f"ctid:{row[ctid_at]}"
                bad.append(BadRow(row[ctid_at], key, payload, tuple(errors), tuple(missing)))
            for i in sorted(dropped, reverse=True):  # few: cheaper than rebuilding the lists
                del keys[i], ctids[i]
            latest.add(keys, ctids)
    return BatchCheck(
        batch_no=batch_no,
        lo=lo,
        hi=hi,
        read=read,
        bad=tuple(bad),
        superseded=tuple(latest.superseded),
    )
