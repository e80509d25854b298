"""Which static sources (customers, agents) were loaded, with the checksum of their bronze file.

The DAG loads a static source on its first run, and afterwards only when the SHA-256 of its
bronze Parquet (the lineage manifest's checksum) differs from the one recorded here after its
last successful load. The state is a small table in the example's own schema, beside the data
it describes, rather than an Airflow Variable: dropping or restoring the schema resets it too
(a Variable would still say "loaded" and the DAG would skip loading an empty table), it holds
for every Airflow deployment and metadata database that runs the DAG, and it is written only
once the load has committed.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

TABLE = "pipeline_static_loads"
DDL = """
    CREATE TABLE IF NOT EXISTS {} (
        source    text PRIMARY KEY,
        sha256    text NOT NULL,
        run_id    text NOT NULL,
        loaded_at timestamptz NOT NULL DEFAULT now()
    )"""


def _table(schema: str) -> sql.Identifier:
    return sql.Identifier(schema, TABLE)


def last_loaded(url: str, schema: str, source: str) -> str | None:
    """The checksum of ``source`` when it was last loaded; None before its first load."""
    with psycopg.connect(url, connect_timeout=10) as conn:
        conn.execute(sql.SQL(DDL).format(_table(schema)))
        row = conn.execute(
            sql.SQL("SELECT sha256 FROM {} WHERE source = %s").format(_table(schema)), (source,)
        ).fetchone()
    return None if row is None else str(row[0])


def remember(url: str, schema: str, source: str, sha256: str, run_id: str) -> None:
    """Record that ``source`` with checksum ``sha256`` is loaded."""
    with psycopg.connect(url, connect_timeout=10) as conn:
        conn.execute(sql.SQL(DDL).format(_table(schema)))
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (source, sha256, run_id) VALUES (%s, %s, %s) ON CONFLICT (source)"
                " DO UPDATE SET sha256 = excluded.sha256, run_id = excluded.run_id,"
                " loaded_at = now()"
            ).format(_table(schema)),
            (source, sha256, run_id),
        )
