"""Running quality gates on PostgreSQL (psycopg 3), read-only by construction.

Three layers, each enough to stop what the others miss (``docs/gates.md``, "Security model"):

1. the statement check (:mod:`dataquarantine.gates.statement`): every query is checked before
   it is sent; a refused gate is an ERROR with code ``unsafe_sql`` and never reaches the server;
2. the role (:mod:`dataquarantine.gates.role`): each gate transaction does ``SET LOCAL ROLE``
   to a role that may only read (``pg_read_all_data``), so superuser-only functions and
   server-file access fail by privilege;
3. the transaction: ``READ ONLY``, with ``statement_timeout``, ``lock_timeout`` and
   ``idle_in_transaction_session_timeout`` set first, sent with the extended query protocol
   (exactly one statement), and rolled back.

A gate whose SQL fails (syntax, missing table, timeout, a refused construct or privilege) is a
result with status ERROR; a lost or refused connection raises :class:`DatabaseUnavailableError`.
"""

from __future__ import annotations

import base64
import math
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.sql import SQL, Composed

from dataquarantine.db.connect import use_schema
from dataquarantine.db.url import PostgresTarget, parse_store_url
from dataquarantine.errors import ConfigError, DatabaseUnavailableError, UnsafeSqlError
from dataquarantine.gates.duration import format_duration, parse_statement_timeout
from dataquarantine.gates.model import (
    Gate,
    GateSeverity,
    GateSuite,
    NotNullGate,
    RelationshipGate,
    SqlGate,
)
from dataquarantine.gates.render import (
    SAMPLE_INDEX_COLUMN,
    RowGate,
    as_text,
    checked_query,
    count_query,
    fetch_query,
    probe_query,
    row_table,
    sample_query,
    violations_query,
)
from dataquarantine.gates.role import DEFAULT_GATE_ROLE, GateRole, choose_role
from dataquarantine.gates.statement import check_condition, check_query

__all__ = [
    "DEFAULT_REPORT_ROWS",
    "DEFAULT_SAMPLE_SIZE",
    "DEFAULT_STATEMENT_TIMEOUT",
    "GateErrorCode",
    "GateResult",
    "GateRun",
    "GateRunner",
    "GateStatus",
    "Samples",
    "check_gate",
    "run_gates",
]

DEFAULT_SAMPLE_SIZE = 5
#: Rows shown of a report (a ``sql`` gate without ``expect_rows``).
DEFAULT_REPORT_ROWS = 20
DEFAULT_STATEMENT_TIMEOUT = timedelta(seconds=60)
#: Relation kinds with a ``ctid`` (tables, materialized views); min/max(tid) exist from 14.
_TID_RELKINDS = frozenset({"r", "m"})
_TID_AGGREGATES_SINCE = 140000
#: The share of a table probed for samples before counting (see GateRunner._rows).
PROBE_FRACTION = 0.01

#: How long a gate may wait for a lock before its statement fails.
DEFAULT_LOCK_TIMEOUT = timedelta(seconds=5)

Connection = psycopg.Connection[tuple[Any, ...]]
JsonValue = Any
#: Why a gate errored: refused before sending, timed out, refused by privilege, other SQL error.
GateErrorCode = Literal["unsafe_sql", "timeout", "permission_denied", "sql_error"]


class GateStatus(StrEnum):
    PASS = "PASS"  # noqa: S105 - a status, not a password
    FAIL = "FAIL"
    #: An informational gate (or a report): shown, never fails the run.
    INFO = "INFO"
    #: The gate's SQL could not run (syntax, missing table, timeout, attempted write).
    ERROR = "ERROR"


@dataclass(frozen=True, slots=True)
class Samples:
    """Some of a gate's rows, JSON-safe: column names and rows of values."""

    columns: tuple[str, ...] = ()
    rows: tuple[tuple[JsonValue, ...], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "rows": [list(r) for r in self.rows]}


@dataclass(frozen=True, slots=True)
class GateResult:
    """The outcome of one gate."""

    name: str
    kind: str
    severity: GateSeverity
    status: GateStatus
    #: Violating rows (rows of a report); ``None`` when the gate errored.
    count: int | None
    samples: Samples
    #: The violations query as sent (for ``sql`` gates, the user's SQL).
    sql: str
    duration_s: float
    description: str | None = None
    error: str | None = None
    error_code: GateErrorCode | None = None

    @property
    def blocking(self) -> bool:
        """True when this result fails the run: a required gate that failed or errored."""
        return self.severity is GateSeverity.REQUIRED and self.status in (
            GateStatus.FAIL,
            GateStatus.ERROR,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "severity": self.severity.value,
            "status": self.status.value,
            "count": self.count,
            "description": self.description,
            "duration_s": round(self.duration_s, 6),
            "error": self.error,
            "error_code": self.error_code,
            "samples": self.samples.to_dict(),
            "sql": self.sql,
        }


@dataclass(frozen=True, slots=True)
class GateRun:
    """The outcome of a run: every gate's result, in run order."""

    run_id: str
    suite: str
    database: str
    started_at: datetime
    duration_s: float
    results: tuple[GateResult, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        """True when every required gate passed."""
        return not any(r.blocking for r in self.results)

    @property
    def blocking(self) -> tuple[GateResult, ...]:
        return tuple(r for r in self.results if r.blocking)

    def counts(self) -> dict[str, int]:
        """Results per status (every status present, zeros included)."""
        out = {s.value: 0 for s in GateStatus}
        for r in self.results:
            out[r.status.value] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "suite": self.suite,
            "database": self.database,
            "started_at": self.started_at.isoformat(),
            "duration_s": round(self.duration_s, 6),
            "passed": self.passed,
            "summary": {**self.counts(), "total": len(self.results)},
            "failed_required": [r.name for r in self.blocking],
            "gates": [r.to_dict() for r in self.results],
        }


def _jsonable(value: Any) -> JsonValue:
    """A driver value as JSON (the samples of ``sql`` gates arrive as Python values)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date | dt_time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return "base64:" + base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def _json_samples(data: Any) -> Samples:
    if not isinstance(data, list) or not data:
        return Samples()
    columns = tuple(k for k in data[0] if k != SAMPLE_INDEX_COLUMN)
    rows = tuple(tuple(row.get(c) for c in columns) for row in data if isinstance(row, dict))
    return Samples(columns, rows)


def _block_of(tid: str) -> int:
    """The block number of a ``ctid`` such as ``(123,4)``."""
    return int(tid.strip("()").split(",")[0])


def _message(exc: psycopg.Error, timeout: timedelta, role: str | None) -> tuple[str, GateErrorCode]:
    diag = exc.diag
    primary = diag.message_primary or str(exc).strip().splitlines()[0]
    if isinstance(exc, pg_errors.QueryCanceled) and "statement timeout" in primary:
        return f"statement timeout ({format_duration(timeout)}) exceeded: {primary}", "timeout"
    if isinstance(exc, pg_errors.LockNotAvailable):
        return f"lock timeout ({format_duration(DEFAULT_LOCK_TIMEOUT)}): {primary}", "timeout"
    if isinstance(exc, pg_errors.ReadOnlySqlTransaction):
        return f"gates may only read: {primary}", "sql_error"
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        who = f"role {role}, which" if role else "a role that"
        return f"gates run as {who} may only read: {primary}", "permission_denied"
    if exc.sqlstate == "42601" and "multiple commands" in primary:
        return f"a gate runs exactly one statement: {primary}", "sql_error"
    detail = f" ({diag.message_detail})" if diag.message_detail else ""
    hint = f" hint: {diag.message_hint}" if diag.message_hint else ""
    state = f"[{exc.sqlstate}] " if exc.sqlstate else ""
    return f"{state}{primary}{detail}{hint}", "sql_error"


def check_gate(gate: Gate) -> None:
    """The statement check of a whole gate (its ``where:`` and its query); UnsafeSqlError."""
    where = getattr(gate, "where", None)
    if where:
        check_condition(where)
    check_query(as_text(violations_query(gate)))


def refuse_unsafe_gates(suite: GateSuite) -> None:
    """Raise UnsafeSqlError naming every gate of ``suite`` that the statement check refuses."""
    problems = []
    for gate in suite.gates:
        try:
            check_gate(gate)
        except UnsafeSqlError as exc:
            problems.append(f"gate {gate.name!r}: {exc}")
    if problems:
        raise UnsafeSqlError("; ".join(problems), construct="gate file")


def _ms(value: timedelta) -> str:
    return str(max(1, round(value.total_seconds() * 1000)))


class GateRunner:
    """Runs gates against one PostgreSQL database (``postgresql://...[?schema=NAME]``).

    ``schema=`` sets the session's ``search_path`` to that schema, so unqualified table names
    resolve there. Gates run as ``role`` (see :mod:`dataquarantine.gates.role`); when no
    restricted role can be used the connection is refused, unless ``allow_unrestricted_role``.
    Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        url: str,
        *,
        statement_timeout: timedelta = DEFAULT_STATEMENT_TIMEOUT,
        sample_size: int = DEFAULT_SAMPLE_SIZE,
        connect_timeout: int = 10,
        role: str = DEFAULT_GATE_ROLE,
        allow_unrestricted_role: bool = False,
    ) -> None:
        target = parse_store_url(url)
        if not isinstance(target, PostgresTarget):
            raise ConfigError(f"quality gates run on PostgreSQL, not {target.display!r}")
        try:
            parse_statement_timeout(statement_timeout)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        try:
            params: dict[str, Any] = conninfo_to_dict(target.conninfo)
        except psycopg.Error as exc:
            raise ConfigError(f"malformed PostgreSQL URL {target.display!r}: {exc}") from exc
        params.setdefault("connect_timeout", connect_timeout)
        params.setdefault("application_name", "dataquarantine-gates")
        self.database = target.display
        self.schema = target.schema
        self.statement_timeout = statement_timeout
        self.sample_size = sample_size
        self._params = params
        self._conn: Connection | None = None
        self.role = role
        self.allow_unrestricted_role = allow_unrestricted_role
        #: How gates run, known once connected.
        self.gate_role: GateRole | None = None

    def __enter__(self) -> GateRunner:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def connect(self) -> None:
        """Open the connection (idempotent); DatabaseUnavailableError when it cannot."""
        if self._conn is not None:
            return
        try:
            conn: Connection = psycopg.connect(autocommit=False, **self._params)
        except psycopg.Error as exc:
            raise DatabaseUnavailableError(f"{self.database}: cannot connect: {exc}") from exc
        try:
            # Chosen (and if need be created) before the connection becomes read-only.
            self.gate_role = choose_role(
                conn, self.role, allow_unrestricted=self.allow_unrestricted_role
            )
            # Every transaction starts with BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY:
            # a gate's count and its samples see one snapshot.
            conn.read_only = True
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            if (
                self.schema
                and not conn.execute(
                    "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)
                ).fetchone()
            ):
                raise ConfigError(f"{self.database}: schema {self.schema!r} does not exist")
            use_schema(conn, self.schema)
            conn.commit()
        except psycopg.Error as exc:
            conn.close()
            raise DatabaseUnavailableError(f"{self.database}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def run_gate(self, gate: Gate) -> GateResult:
        """Run one gate in its own read-only transaction."""
        self.connect()
        conn = self._conn
        assert conn is not None
        timeout = gate.statement_timeout or self.statement_timeout
        if gate.sample_size is not None:
            sample_size = gate.sample_size
        elif gate.is_report:
            sample_size = max(self.sample_size, DEFAULT_REPORT_ROWS)
        else:
            sample_size = self.sample_size
        sql_text = as_text(violations_query(gate))
        started = time.perf_counter()
        error: str | None = None
        code: GateErrorCode | None = None
        count: int | None = None
        samples = Samples()
        role = self.gate_role.role if self.gate_role else None
        try:
            check_gate(gate)
        except UnsafeSqlError as exc:
            return self._result(gate, None, Samples(), sql_text, started, str(exc), "unsafe_sql")
        try:
            # Each setting is LOCAL to this transaction, ended by the rollback below;
            # set_config('role', r, true) is SET LOCAL ROLE r (membership checked), in the
            # same round trip.
            conn.execute(
                "SELECT set_config('statement_timeout', %s, true),"
                " set_config('lock_timeout', %s, true),"
                " set_config('idle_in_transaction_session_timeout', %s, true),"
                " set_config('standard_conforming_strings', 'on', true),"
                " set_config('role', coalesce(%s, current_setting('role')), true)",
                (_ms(timeout), _ms(min(DEFAULT_LOCK_TIMEOUT, timeout)), _ms(timeout), role),
            )
            if isinstance(gate, SqlGate):
                count, samples = self._stream(conn, sql_text, sample_size)
            elif isinstance(gate, NotNullGate | RelationshipGate):
                count, samples = self._rows(conn, gate, sample_size)
            else:
                count, samples = self._checked(conn, gate, sample_size)
        except psycopg.Error as exc:
            if conn.closed or conn.broken:
                self.close()
                raise DatabaseUnavailableError(
                    f"{self.database}: connection lost during gate {gate.name!r}: {exc}"
                ) from exc
            error, code = _message(exc, timeout, role)
        except UnsafeSqlError as exc:
            error, code = str(exc), "unsafe_sql"
        finally:
            if not (conn.closed or conn.broken):
                try:
                    conn.rollback()
                except psycopg.Error as exc:
                    self.close()
                    raise DatabaseUnavailableError(f"{self.database}: {exc}") from exc
        return self._result(gate, count, samples, sql_text, started, error, code)

    @staticmethod
    def _result(
        gate: Gate,
        count: int | None,
        samples: Samples,
        sql_text: str,
        started: float,
        error: str | None,
        code: GateErrorCode | None,
    ) -> GateResult:
        duration = time.perf_counter() - started
        if error is not None:
            status = GateStatus.ERROR
        elif gate.severity is GateSeverity.INFORMATIONAL or gate.is_report:
            status = GateStatus.INFO
        else:
            status = GateStatus.PASS if count == 0 else GateStatus.FAIL
        return GateResult(
            name=gate.name,
            kind=gate.kind,
            severity=gate.severity,
            status=status,
            count=count,
            samples=samples,
            sql=sql_text,
            duration_s=duration,
            description=gate.description,
            error=error,
            error_code=code if error is not None else None,
        )

    @staticmethod
    def _blocks(conn: Connection, gate: RowGate) -> int | None:
        """Size in blocks of the checked table, or None when it has no usable ``ctid``."""
        if conn.info.server_version < _TID_AGGREGATES_SINCE:
            return None
        row = conn.execute(
            "SELECT relkind::text, pg_relation_size(oid) / current_setting('block_size')::int"
            " FROM pg_class WHERE oid = to_regclass(%s)",
            (row_table(gate),),
        ).fetchone()
        if row is None or row[0] not in _TID_RELKINDS:
            return None
        return int(row[1])

    @staticmethod
    def _one(conn: Connection, query: Composed | SQL) -> tuple[Any, ...] | None:
        check_query(as_text(query))
        with conn.cursor() as cur:
            # stream(): the extended protocol, so the text is exactly one statement.
            return next(iter(cur.stream(query)), None)

    def _rows(self, conn: Connection, gate: RowGate, sample_size: int) -> tuple[int, Samples]:
        """Count the violating rows of one table as fast as a hand-written ``count(*)``.

        Sampling must not cost a second scan. So first the start of the table is probed
        (its first :data:`PROBE_FRACTION` of blocks, a TID range scan): finding enough
        samples there means plain ``count(*)`` follows. Otherwise the count also returns
        the first violating ``ctid`` after the probed part and the last one; samples are
        then looked for in a window of the same size from the first, and the last is read
        directly. The samples may then be fewer than asked, never more costly.
        """
        blocks = self._blocks(conn, gate) if sample_size > 0 else None
        if blocks is None:
            row = self._one(conn, count_query(gate))
            count = int(row[0]) if row else 0
            if count == 0 or sample_size <= 0:
                return count, Samples()
            found = self._one(conn, sample_query(gate, sample_size))
            return count, _json_samples(found[0] if found else None)
        window = max(1, math.ceil(blocks * PROBE_FRACTION))
        probed = self._one(conn, probe_query(gate, sample_size, before_block=window))
        rows: list[Any] = list(probed[0] or []) if probed else []
        if len(rows) >= sample_size:
            row = self._one(conn, count_query(gate))
            return (int(row[0]) if row else 0), _json_samples(rows)
        row = self._one(conn, count_query(gate, after_block=window))
        if row is None or not row[0]:
            return 0, Samples()
        count, first, last = int(row[0]), row[1], row[2]
        # Violations before `window` are all in rows already; `last` may be one of them.
        if first is not None:
            end = _block_of(str(first)) + window
            more = self._one(
                conn,
                probe_query(gate, sample_size - len(rows), before_block=end, from_tid=str(first)),
            )
            rows.extend((more[0] if more else None) or [])
            if len(rows) < sample_size and last is not None and _block_of(str(last)) >= end:
                fetched = self._one(conn, fetch_query(gate, [str(last)]))
                rows.extend((fetched[0] if fetched else None) or [])
        return count, _json_samples(rows[:sample_size])

    def _checked(self, conn: Connection, gate: Gate, sample_size: int) -> tuple[int, Samples]:
        row = self._one(conn, checked_query(gate, sample_size))
        if row is None:  # pragma: no cover - an aggregate always returns a row
            return 0, Samples()
        return int(row[0]), _json_samples(row[1])

    @staticmethod
    def _stream(conn: Connection, text: str, sample_size: int) -> tuple[int, Samples]:
        """Count the rows of a custom query as they stream in, keeping the first few."""
        count = 0
        kept: list[tuple[JsonValue, ...]] = []
        columns: tuple[str, ...] = ()
        check_query(text)
        with conn.cursor() as cur:
            for row in cur.stream(text):
                if count < sample_size:
                    kept.append(tuple(_jsonable(v) for v in row))
                count += 1
            if cur.description:
                columns = tuple(c.name for c in cur.description)
        return count, Samples(columns, tuple(kept))

    def run(
        self,
        gates: Iterable[Gate],
        *,
        suite: str = "gates",
        on_result: Callable[[GateResult], None] | None = None,
    ) -> GateRun:
        """Run gates in order; ``on_result`` sees each result as soon as it is known."""
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        results: list[GateResult] = []
        for gate in gates:
            result = self.run_gate(gate)
            results.append(result)
            if on_result is not None:
                on_result(result)
        return GateRun(
            run_id=str(uuid.uuid4()),
            suite=suite,
            database=self.database,
            started_at=started_at,
            duration_s=time.perf_counter() - started,
            results=tuple(results),
        )


def run_gates(
    suite: GateSuite,
    url: str,
    *,
    only: Sequence[str] = (),
    statement_timeout: timedelta = DEFAULT_STATEMENT_TIMEOUT,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    on_result: Callable[[GateResult], None] | None = None,
    role: str = DEFAULT_GATE_ROLE,
    allow_unrestricted_role: bool = False,
    on_unrestricted: Callable[[tuple[str, ...]], None] | None = None,
) -> GateRun:
    """Run the gates of ``suite`` (or only those named) against ``url``; ``on_unrestricted``
    hears why, when gates run without a restricted role (``allow_unrestricted_role``)."""
    selected = suite.select(only)
    with GateRunner(
        url,
        statement_timeout=statement_timeout,
        sample_size=sample_size,
        role=role,
        allow_unrestricted_role=allow_unrestricted_role,
    ) as runner:
        if on_unrestricted and runner.gate_role and not runner.gate_role.restricted:
            on_unrestricted(runner.gate_role.problems)
        return runner.run(selected.gates, suite=suite.name, on_result=on_result)
