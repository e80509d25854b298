"""Migrations of the per-minute stream aggregates (:mod:`dataquarantine.stream.aggregates`).

The seed's table: one row per (minute, topic, schema), upserted by adding counts. ``minute`` as
in ``dq_quarantine``: integer microseconds (UTC) on SQLite, timestamptz on PostgreSQL.
``duration_ms_total`` is additive; ``avg_duration_ms = duration_ms_total / processed``,
maintained by every upsert.
"""

from __future__ import annotations

from dataquarantine.db.migrations.model import Migration

__all__ = ["VALIDATION_METRICS"]

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

VALIDATION_METRICS = Migration(3, "per-minute validation metrics", _V3_SQLITE, _V3_POSTGRES)
