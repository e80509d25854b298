"""History of gate runs in ``dq_gate_runs``, in the metadata store's database.

The table is created by the metadata database's migrations (version 2,
:mod:`dataquarantine.db.migrations.gates`), so a history URL is any store
URL: ``sqlite:///...`` (default: the quarantine store) or ``postgresql://...[?schema=]``.
Every value is a bind parameter.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dataquarantine.db.codec import decode_ts, encode_ts, placeholder
from dataquarantine.db.connect import connect, translate
from dataquarantine.db.errors import driver_errors
from dataquarantine.db.migrations import ensure_schema
from dataquarantine.db.url import SqliteTarget, parse_store_url
from dataquarantine.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from dataquarantine.gates.runner import GateRun

__all__ = ["GateHistory", "HistoryEntry"]

_COLUMNS = "run_id, suite, database, gate, kind, severity, status, count, duration_s, run_at, error"
_INSERT = f"INSERT INTO dq_gate_runs ({_COLUMNS}) VALUES ({{marks}})"
# The last `limit` runs of each gate (window functions: SQLite >= 3.25, which the store needs).
_RECENT = f"""
    SELECT {_COLUMNS} FROM (
        SELECT {_COLUMNS}, row_number() OVER (PARTITION BY gate ORDER BY run_at DESC, id DESC) AS n
        FROM dq_gate_runs {{where}}
    ) AS r
    WHERE n <= {{mark}}
    ORDER BY gate, run_at DESC
"""


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One gate's result in one recorded run."""

    run_id: str
    suite: str
    database: str
    gate: str
    kind: str
    severity: str
    status: str
    count: int | None
    duration_s: float
    run_at: datetime
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "suite": self.suite,
            "database": self.database,
            "gate": self.gate,
            "kind": self.kind,
            "severity": self.severity,
            "status": self.status,
            "count": self.count,
            "duration_s": self.duration_s,
            "run_at": self.run_at.isoformat(),
            "error": self.error,
        }


class GateHistory:
    """Records gate runs and reads them back. Opening applies the store's migrations."""

    def __init__(self, url: str) -> None:
        self._target = parse_store_url(url)
        if isinstance(self._target, SqliteTarget) and self._target.path is None:
            raise ConfigError("gate history needs a database file, not sqlite:///:memory:")
        self.url = self._target.display
        self._sqlite = isinstance(self._target, SqliteTarget)
        self._mark = placeholder(self._target)
        # Creates dq_gate_runs (and the store's other tables) when missing.
        ensure_schema(self._target, application_name="dataquarantine-gates")

    @contextmanager
    def _connect(self, where: str) -> Iterator[Any]:
        """A connection in a transaction (committed on success), errors translated."""
        label = f"{self.url}: gate history {where}"
        try:
            conn = connect(self._target, autocommit=False, application_name="dataquarantine-gates")
            try:
                yield conn
                conn.commit()
            except BaseException:
                with contextlib.suppress(*driver_errors()):
                    conn.rollback()
                raise
            finally:
                conn.close()
        except driver_errors() as exc:
            raise translate(exc, label) from exc

    def record(self, run: GateRun) -> int:
        """Store one row per gate of ``run`` (one transaction); return how many."""
        at = encode_ts(self._target, run.started_at)
        rows = [
            (
                run.run_id,
                run.suite,
                run.database,
                r.name,
                r.kind,
                r.severity.value,
                r.status.value,
                r.count,
                r.duration_s,
                at,
                r.error,
            )
            for r in run.results
        ]
        if not rows:
            return 0
        sql = _INSERT.format(marks=", ".join([self._mark] * 11))
        with self._connect("write") as conn:
            if self._sqlite:
                conn.executemany(sql, rows)
            else:
                with conn.cursor() as cur:
                    cur.executemany(sql, rows)
        return len(rows)

    def recent(self, *, gates: Sequence[str] = (), limit: int = 10) -> list[HistoryEntry]:
        """The last ``limit`` recorded runs of each gate (or of the named ones), newest first
        within each gate, gates in name order."""
        if limit < 1:
            raise StoreError(f"limit must be >= 1, got {limit}")
        params: list[Any] = list(gates)
        where = ""
        if gates:
            where = f"WHERE gate IN ({', '.join([self._mark] * len(gates))})"
        sql = _RECENT.format(where=where, mark=self._mark)
        with self._connect("read") as conn:
            rows = conn.execute(sql, [*params, limit]).fetchall()
        return [
            HistoryEntry(
                run_id=str(r[0]),
                suite=str(r[1]),
                database=str(r[2]),
                gate=str(r[3]),
                kind=str(r[4]),
                severity=str(r[5]),
                status=str(r[6]),
                count=None if r[7] is None else int(r[7]),
                duration_s=float(r[8]),
                run_at=decode_ts(r[9]),
                error=r[10],
            )
            for r in rows
        ]
