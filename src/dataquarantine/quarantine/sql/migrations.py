"""Versioned schema migrations of the metadata store, one ordered list for both dialects.

To change the schema, append a :class:`Migration` with the next version number; never edit or
reorder one that has shipped (stores record each applied version and name in
``dq_schema_migrations`` and refuse to run against a database whose history disagrees).
Each migration is a tuple of single statements per dialect, applied in one transaction together
with its bookkeeping row.

Storage choices: on SQLite ``quarantined_at`` / ``updated_at`` are integer microseconds since
the Unix epoch (UTC): exact, compact and they sort and compare as numbers. ``dq_quarantine_codes``
holds one row per distinct violation code (plus the headline code) of each record, so "any
violation has code X" is an index lookup. The store's insert derives those rows from the stored
``errors`` in the same statement or transaction, set-based (a per-row trigger made SQLite
inserts twice as slow); code that ever rewrites ``errors`` must rewrite them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["MIGRATIONS", "Dialect", "Migration"]

Dialect = Literal["sqlite", "postgres"]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]

    def statements(self, dialect: Dialect) -> tuple[str, ...]:
        return self.sqlite if dialect == "sqlite" else self.postgres


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

# Quality-gate history (dataquarantine.gates.history): one row per gate per recorded run.
# run_at as in dq_quarantine: integer microseconds (UTC) on SQLite, timestamptz on PostgreSQL.
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

# Per-minute stream aggregates (dataquarantine.stream.aggregates), the seed's table: one row per
# (minute, topic, schema), upserted by adding counts. minute as above: integer microseconds
# (UTC) on SQLite, timestamptz on PostgreSQL. duration_ms_total is additive;
# avg_duration_ms = duration_ms_total / processed, maintained by every upsert.
_V3_SQLITE = (
    """
    CREATE TABLE validation_metrics (
        minute            INTEGER NOT NULL,
        topic             TEXT NOT NULL,
        schema            TEXT NOT NULL,
        processed         INTEGER NOT NULL,
        valid             INTEGER NOT NULL,
        invalid           INTEGER NOT NULL,
        duration_ms_total REAL NOT NULL,
        avg_duration_ms   REAL,
        PRIMARY KEY (minute, topic, schema)
    ) WITHOUT ROWID
    """,
)

_V3_POSTGRES = (
    """
    CREATE TABLE validation_metrics (
        minute            timestamptz NOT NULL,
        topic             text NOT NULL,
        schema            text NOT NULL,
        processed         bigint NOT NULL,
        valid             bigint NOT NULL,
        invalid           bigint NOT NULL,
        duration_ms_total double precision NOT NULL,
        avg_duration_ms   double precision,
        PRIMARY KEY (minute, topic, schema)
    )
    """,
)

# Review (issue 6): revisions of a record's payload (numbered from 1 per record; the original
# bytes stay in the payload store), the history of actions and status changes, and the default
# valid sink of reprocessing (one row per quarantine id: publishing twice keeps one row).
# Timestamps as above. Three more list indexes serve the review API's usual filters (contract,
# headline code, contract + status: the review queue), newest first.
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

#: Every migration, in order. Append only.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "quarantine records and violation codes", _V1_SQLITE, _V1_POSTGRES),
    Migration(2, "quality gate run history", _V2_SQLITE, _V2_POSTGRES),
    Migration(3, "per-minute validation metrics", _V3_SQLITE, _V3_POSTGRES),
    Migration(4, "review revisions, events and reprocessed records", _V4_SQLITE, _V4_POSTGRES),
)
