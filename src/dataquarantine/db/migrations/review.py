"""Migrations of the quarantine store's review side (:mod:`dataquarantine.quarantine.sql.review`).

Review (issue 6): revisions of a record's payload (numbered from 1 per record; the original
bytes stay in the payload store), the history of actions and status changes, and the default
valid sink of reprocessing (one row per quarantine id: publishing twice keeps one row).
Timestamps as in ``dq_quarantine``. Three more list indexes serve the review API's usual
filters (contract, headline code, contract + status: the review queue), newest first.
"""

from __future__ import annotations

from dataquarantine.db.migrations.model import Migration

__all__ = ["REVIEW"]

_V4_SQLITE = (
    """
    CREATE TABLE dq_quarantine_revisions (
        record_id  TEXT NOT NULL REFERENCES dq_quarantine (id) ON DELETE CASCADE,
        number     INTEGER NOT NULL,
        kind       TEXT NOT NULL,
        author     TEXT NOT NULL,
        payload    BLOB NOT NULL,
        changes    TEXT NOT NULL,
        errors     TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (record_id, number)
    )
    """,
    """
    CREATE TABLE dq_quarantine_events (
        id          INTEGER PRIMARY KEY,
        record_id   TEXT NOT NULL REFERENCES dq_quarantine (id) ON DELETE CASCADE,
        at          INTEGER NOT NULL,
        actor       TEXT NOT NULL,
        action      TEXT NOT NULL,
        from_status TEXT,
        to_status   TEXT,
        reason      TEXT,
        detail      TEXT NOT NULL
    )
    """,
    "CREATE INDEX dq_quarantine_events_record_idx ON dq_quarantine_events (record_id, id)",
    """
    CREATE TABLE dq_reprocessed (
        id               TEXT PRIMARY KEY,
        contract         TEXT,
        contract_version TEXT,
        payload          BLOB NOT NULL,
        published_at     INTEGER NOT NULL
    )
    """,
    "CREATE INDEX dq_quarantine_contract_at_idx ON dq_quarantine (contract, quarantined_at)",
    "CREATE INDEX dq_quarantine_error_code_at_idx ON dq_quarantine (error_code, quarantined_at)",
    "CREATE INDEX dq_quarantine_contract_status_idx"
    " ON dq_quarantine (contract, status, quarantined_at)",
)

_V4_POSTGRES = (
    """
    CREATE TABLE dq_quarantine_revisions (
        record_id  uuid NOT NULL REFERENCES dq_quarantine (id) ON DELETE CASCADE,
        number     integer NOT NULL,
        kind       text NOT NULL,
        author     text NOT NULL,
        payload    bytea NOT NULL,
        changes    jsonb NOT NULL,
        errors     jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (record_id, number)
    )
    """,
    """
    CREATE TABLE dq_quarantine_events (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        record_id   uuid NOT NULL REFERENCES dq_quarantine (id) ON DELETE CASCADE,
        at          timestamptz NOT NULL,
        actor       text NOT NULL,
        action      text NOT NULL,
        from_status text,
        to_status   text,
        reason      text,
        detail      jsonb NOT NULL
    )
    """,
    "CREATE INDEX dq_quarantine_events_record_idx ON dq_quarantine_events (record_id, id)",
    """
    CREATE TABLE dq_reprocessed (
        id               uuid PRIMARY KEY,
        contract         text,
        contract_version text,
        payload          bytea NOT NULL,
        published_at     timestamptz NOT NULL
    )
    """,
    "CREATE INDEX dq_quarantine_contract_at_idx ON dq_quarantine (contract, quarantined_at)",
    "CREATE INDEX dq_quarantine_error_code_at_idx ON dq_quarantine (error_code, quarantined_at)",
    "CREATE INDEX dq_quarantine_contract_status_idx"
    " ON dq_quarantine (contract, status, quarantined_at)",
)

REVIEW = Migration(4, "review revisions, events and reprocessed records", _V4_SQLITE, _V4_POSTGRES)
