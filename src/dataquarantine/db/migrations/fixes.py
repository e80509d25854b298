"""Migration of the bulk-fix jobs (:mod:`dataquarantine.quarantine.sql.fixes`).

Bulk fixes (issue 18): a job row per fix or undo (its definition, state and counts survive a
restart) and one item per record a job looked at: the outcome and, when it wrote a revision,
that revision's number and the one it was based on (what the undo goes back to). Items are
keyed by job then record id, the order an undo pages through them.
"""

from __future__ import annotations

from dataquarantine.db.migrations.model import Migration

__all__ = ["FIX_JOBS"]

_V6_SQLITE = (
    """
    CREATE TABLE dq_fix_jobs (
        id          TEXT PRIMARY KEY,
        kind        TEXT NOT NULL,
        state       TEXT NOT NULL,
        actor       TEXT NOT NULL,
        spec        TEXT NOT NULL,
        undo_of     TEXT REFERENCES dq_fix_jobs (id),
        total       INTEGER NOT NULL DEFAULT 0,
        processed   INTEGER NOT NULL DEFAULT 0,
        counts      TEXT NOT NULL,
        error       TEXT,
        created_at  INTEGER NOT NULL,
        finished_at INTEGER
    )
    """,
    "CREATE INDEX dq_fix_jobs_created_idx ON dq_fix_jobs (created_at)",
    """
    CREATE TABLE dq_fix_items (
        job_id    TEXT NOT NULL REFERENCES dq_fix_jobs (id) ON DELETE CASCADE,
        record_id TEXT NOT NULL REFERENCES dq_quarantine (id) ON DELETE CASCADE,
        outcome   TEXT NOT NULL,
        number    INTEGER,
        base      INTEGER,
        PRIMARY KEY (job_id, record_id)
    )
    """,
)

_V6_POSTGRES = (
    """
    CREATE TABLE dq_fix_jobs (
        id          text PRIMARY KEY,
        kind        text NOT NULL,
        state       text NOT NULL,
        actor       text NOT NULL,
        spec        jsonb NOT NULL,
        undo_of     text REFERENCES dq_fix_jobs (id),
        total       bigint NOT NULL DEFAULT 0,
        processed   bigint NOT NULL DEFAULT 0,
        counts      jsonb NOT NULL,
        error       text,
        created_at  timestamptz NOT NULL,
        finished_at timestamptz
    )
    """,
    "CREATE INDEX dq_fix_jobs_created_idx ON dq_fix_jobs (created_at)",
    """
    CREATE TABLE dq_fix_items (
        job_id    text NOT NULL REFERENCES dq_fix_jobs (id) ON DELETE CASCADE,
        record_id uuid NOT NULL REFERENCES dq_quarantine (id) ON DELETE CASCADE,
        outcome   text NOT NULL,
        number    integer,
        base      integer,
        PRIMARY KEY (job_id, record_id)
    )
    """,
)

FIX_JOBS = Migration(6, "bulk fix jobs and their items", _V6_SQLITE, _V6_POSTGRES)
