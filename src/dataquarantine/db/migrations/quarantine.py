"""Migrations of the quarantine store's records (:mod:`dataquarantine.quarantine.sql`).

Storage choices: on SQLite ``quarantined_at`` / ``updated_at`` are integer microseconds since
the Unix epoch (UTC): exact, compact and they sort and compare as numbers. ``dq_quarantine_codes``
holds one row per distinct violation code (plus the headline code) of each record, so "any
violation has code X" is an index lookup. The store's insert derives those rows from the stored
``errors`` in the same statement or transaction, set-based (a per-row trigger made SQLite
inserts twice as slow); code that ever rewrites ``errors`` must rewrite them too.
"""

from __future__ import annotations

from dataquarantine.db.migrations.model import Migration

__all__ = ["KEYSET_INDEXES", "RECORDS"]

_QUARANTINE_INDEXES = (
    "CREATE INDEX dq_quarantine_source_name_idx ON dq_quarantine (source_name, quarantined_at)",
    "CREATE INDEX dq_quarantine_contract_idx ON dq_quarantine (contract, contract_version)",
    "CREATE INDEX dq_quarantine_error_code_idx ON dq_quarantine (error_code)",
    "CREATE INDEX dq_quarantine_quarantined_at_idx ON dq_quarantine (quarantined_at, id)",
    "CREATE INDEX dq_quarantine_status_idx ON dq_quarantine (status, quarantined_at)",
    "CREATE INDEX dq_quarantine_run_id_idx ON dq_quarantine (run_id)",
    "CREATE INDEX dq_quarantine_codes_record_idx ON dq_quarantine_codes (record_id)",
)

_V1_SQLITE = (
    """
    CREATE TABLE dq_quarantine (
        id               TEXT PRIMARY KEY,
        dedup_key        TEXT UNIQUE,
        contract         TEXT,
        contract_version TEXT,
        source_kind      TEXT NOT NULL,
        source_name      TEXT NOT NULL,
        source           TEXT NOT NULL,
        error_code       TEXT NOT NULL,
        errors           TEXT NOT NULL,
        status           TEXT NOT NULL DEFAULT 'quarantined',
        attempts         INTEGER NOT NULL DEFAULT 0,
        quarantined_at   INTEGER NOT NULL,
        run_id           TEXT NOT NULL DEFAULT '',
        payload_key      TEXT NOT NULL,
        payload_offset   INTEGER NOT NULL,
        payload_length   INTEGER NOT NULL,
        payload_sha256   TEXT NOT NULL,
        updated_at       INTEGER NOT NULL
    )
    """,
    """
    CREATE TABLE dq_quarantine_codes (
        record_id TEXT NOT NULL REFERENCES dq_quarantine (id) ON DELETE CASCADE,
        code      TEXT NOT NULL,
        PRIMARY KEY (code, record_id)
    ) WITHOUT ROWID
    """,
    *_QUARANTINE_INDEXES,
)

_V1_POSTGRES = (
    """
    CREATE TABLE dq_quarantine (
        id               uuid PRIMARY KEY,
        dedup_key        text UNIQUE,
        contract         text,
        contract_version text,
        source_kind      text NOT NULL,
        source_name      text NOT NULL,
        source           jsonb NOT NULL,
        error_code       text NOT NULL,
        errors           jsonb NOT NULL,
        status           text NOT NULL DEFAULT 'quarantined',
        attempts         integer NOT NULL DEFAULT 0,
        quarantined_at   timestamptz NOT NULL,
        run_id           text NOT NULL DEFAULT '',
        payload_key      text NOT NULL,
        payload_offset   bigint NOT NULL,
        payload_length   bigint NOT NULL,
        payload_sha256   text NOT NULL,
        updated_at       timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE dq_quarantine_codes (
        record_id uuid NOT NULL REFERENCES dq_quarantine (id) ON DELETE CASCADE,
        code      text NOT NULL,
        PRIMARY KEY (code, record_id)
    )
    """,
    *_QUARANTINE_INDEXES,
)

RECORDS = Migration(1, "quarantine records and violation codes", _V1_SQLITE, _V1_POSTGRES)

# Pages of the record list and of bulk jobs are keyset pages on (quarantined_at, id) after an
# equality filter. An index ending in quarantined_at alone makes the row comparison a filter:
# a page then reads every row from the first shared timestamp on (a batch written together
# shares one), and a job over a large set turns quadratic. Ending the index in id makes it an
# index condition. The indexes are replaced, not added: a status change updates every index of
# the row (status is indexed, so no update is HOT), so (error_code) alone, a prefix of
# (error_code, quarantined_at, id), goes.
_KEYSET_INDEXES = (
    "DROP INDEX dq_quarantine_error_code_idx",
    "DROP INDEX dq_quarantine_source_name_idx",
    "DROP INDEX dq_quarantine_status_idx",
    "DROP INDEX dq_quarantine_contract_at_idx",
    "DROP INDEX dq_quarantine_error_code_at_idx",
    "DROP INDEX dq_quarantine_contract_status_idx",
    "CREATE INDEX dq_quarantine_source_name_idx ON dq_quarantine (source_name, quarantined_at, id)",
    "CREATE INDEX dq_quarantine_status_idx ON dq_quarantine (status, quarantined_at, id)",
    "CREATE INDEX dq_quarantine_contract_at_idx ON dq_quarantine (contract, quarantined_at, id)",
    "CREATE INDEX dq_quarantine_error_code_at_idx"
    " ON dq_quarantine (error_code, quarantined_at, id)",
    "CREATE INDEX dq_quarantine_contract_status_idx"
    " ON dq_quarantine (contract, status, quarantined_at, id)",
)

KEYSET_INDEXES = Migration(
    7, "record indexes for keyset pages on (quarantined_at, id)", _KEYSET_INDEXES, _KEYSET_INDEXES
)
