"""Migrations of the quality-gate history (:mod:`dataquarantine.gates.history`).

One row per gate per recorded run. ``run_at`` as in ``dq_quarantine``: integer microseconds
(UTC) on SQLite, timestamptz on PostgreSQL.
"""

from __future__ import annotations

from dataquarantine.db.migrations.model import Migration

__all__ = ["GATE_RUNS"]

_V2_SQLITE = (
    """
    CREATE TABLE dq_gate_runs (
        id         INTEGER PRIMARY KEY,
        run_id     TEXT NOT NULL,
        suite      TEXT NOT NULL,
        database   TEXT NOT NULL,
        gate       TEXT NOT NULL,
        kind       TEXT NOT NULL,
        severity   TEXT NOT NULL,
        status     TEXT NOT NULL,
        count      INTEGER,
        duration_s REAL NOT NULL,
        run_at     INTEGER NOT NULL,
        error      TEXT
    )
    """,
    "CREATE INDEX dq_gate_runs_gate_idx ON dq_gate_runs (gate, run_at)",
    "CREATE INDEX dq_gate_runs_run_id_idx ON dq_gate_runs (run_id)",
)

_V2_POSTGRES = (
    """
    CREATE TABLE dq_gate_runs (
        id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_id     text NOT NULL,
        suite      text NOT NULL,
        database   text NOT NULL,
        gate       text NOT NULL,
        kind       text NOT NULL,
        severity   text NOT NULL,
        status     text NOT NULL,
        count      bigint,
        duration_s double precision NOT NULL,
        run_at     timestamptz NOT NULL,
        error      text
    )
    """,
    "CREATE INDEX dq_gate_runs_gate_idx ON dq_gate_runs (gate, run_at)",
    "CREATE INDEX dq_gate_runs_run_id_idx ON dq_gate_runs (run_id)",
)

GATE_RUNS = Migration(2, "quality gate run history", _V2_SQLITE, _V2_POSTGRES)
