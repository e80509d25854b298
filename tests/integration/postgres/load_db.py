"""A small call-logs database for the ``dataquarantine load`` tests, in a private schema."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import yaml
from psycopg import sql

__all__ = ["CALL_COLUMNS", "LoadDb", "contract_dict", "make_load_db", "write_contract"]

CALL_COLUMNS = ("call_log_key", "customer_id", "agent_id", "duration_s", "resolution_status")


def contract_dict(**load: Any) -> dict[str, Any]:
    """The call-logs contract; ``load`` entries override the ``load:`` section."""
    section: dict[str, Any] = {
        "staging": "staging_call_logs",
        "target": "conformed_call_logs",
        "conflict_key": ["call_log_key"],
        "update_columns": ["agent_id", "duration_s", "resolution_status"],
        "track_changes": ["agent_id", "resolution_status"],
    }
    section.update(load)
    return {
        "name": "call_logs",
        "version": "1.0.0",
        "schema": {
            "type": "object",
            "required": ["call_log_key", "customer_id", "duration_s", "resolution_status"],
            "properties": {
                "call_log_key": {"type": "string", "pattern": "^CL[0-9]+$"},
                "customer_id": {"type": "integer"},
                "agent_id": {"type": ["integer", "null"]},
                "duration_s": {"type": "integer"},
                "resolution_status": {"enum": ["open", "pending", "resolved"]},
            },
        },
        "rules": [
            {"id": "duration_not_negative", "expr": "record.duration_s >= 0", "field": "duration_s"}
        ],
        "references": [
            {"field": "customer_id", "table": "customers", "column": "customer_id"},
            {"field": "agent_id", "table": "agents", "column": "agent_id"},
        ],
        "load": section,
    }


def write_contract(folder: Path, data: dict[str, Any] | None = None) -> Path:
    path = folder / "call_logs.yaml"
    path.write_text(yaml.safe_dump(data or contract_dict()))
    return path


@dataclass(frozen=True)
class LoadDb:
    """``url`` has ``?schema=``; ``base`` is the server URL; queries run in the schema."""

    url: str
    base: str
    schema: str

    def execute(self, query: str, params: Sequence[Any] = ()) -> None:
        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(self.schema)))
            conn.execute(query, params)

    def rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(self.schema)))
            return conn.execute(query, params).fetchall()

    def scalar(self, query: str, params: Sequence[Any] = ()) -> Any:
        return self.rows(query, params)[0][0]

    def stage(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Append rows (CALL_COLUMNS order) to staging_call_logs."""
        with psycopg.connect(self.base, autocommit=True) as conn:
            conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(self.schema)))
            with conn.cursor().copy(
                f"COPY staging_call_logs ({', '.join(CALL_COLUMNS)}) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)

    def restage(self, rows: Iterable[tuple[Any, ...]]) -> None:
        self.execute("TRUNCATE staging_call_logs")
        self.stage(rows)


def make_load_db(url: str, *, customers: int = 50, agents: int = 5) -> LoadDb:
    """Create the schema of ``url`` with customers 1..N, agents 1..M, an empty staging table
    and an empty target with created_at / last_updated_at."""
    parts = urlsplit(url)
    schema = parse_qs(parts.query)["schema"][0]
    base = parts._replace(query="").geturl()
    db = LoadDb(url=url, base=base, schema=schema)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    db.execute("CREATE TABLE customers (customer_id bigint PRIMARY KEY)")
    db.execute("INSERT INTO customers SELECT generate_series(1, %s)", (customers,))
    db.execute("CREATE TABLE agents (agent_id integer PRIMARY KEY)")
    db.execute("INSERT INTO agents SELECT generate_series(1, %s)", (agents,))
    db.execute(
        "CREATE TABLE staging_call_logs (call_log_key text, customer_id bigint,"
        " agent_id integer, duration_s integer, resolution_status text)"
    )
    db.execute(
        "CREATE TABLE conformed_call_logs (call_log_key text PRIMARY KEY,"
        " customer_id bigint NOT NULL, agent_id integer, duration_s integer NOT NULL,"
        " resolution_status text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),"
        " last_updated_at timestamptz)"
    )
    return db
