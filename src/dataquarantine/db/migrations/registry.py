"""Migrations of the shared contract registry (``postgresql://`` contracts URLs).

One row per registered contract version, never updated: the definition (JSONB on PostgreSQL),
its format, its fingerprint (SHA-256 of the canonical JSON), who registered it and when, and
the compatibility verdict against the previous version with its reasons. ``seq`` orders the
registrations; ``count(*)`` and ``max(seq)`` make the registry's revision.
"""

from __future__ import annotations

from dataquarantine.db.migrations.model import Migration

__all__ = ["CONTRACT_VERSIONS"]

_V5_SQLITE = (
    """
    CREATE TABLE dq_contract_versions (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        name          TEXT NOT NULL,
        version       TEXT NOT NULL,
        format        TEXT NOT NULL,
        definition    TEXT NOT NULL,
        fingerprint   TEXT NOT NULL,
        registered_by TEXT,
        registered_at INTEGER NOT NULL,
        verdict       TEXT NOT NULL,
        reasons       TEXT NOT NULL DEFAULT '[]',
        UNIQUE (name, version)
    )
    """,
)

_V5_POSTGRES = (
    """
    CREATE TABLE dq_contract_versions (
        seq           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name          text NOT NULL,
        version       text NOT NULL,
        format        text NOT NULL,
        definition    jsonb NOT NULL,
        fingerprint   text NOT NULL,
        registered_by text,
        registered_at timestamptz NOT NULL,
        verdict       text NOT NULL,
        reasons       jsonb NOT NULL DEFAULT '[]'::jsonb,
        UNIQUE (name, version)
    )
    """,
)

CONTRACT_VERSIONS = Migration(5, "shared contract registry", _V5_SQLITE, _V5_POSTGRES)
