"""Build a small CRM database (Customer, Lead, Job, Conversation, Message) for the gates example.

It looks like a CRM half-way through a backfill: ``Lead.customer_id`` has just been filled in,
and nothing is constrained yet (no NOT NULL, no foreign keys, no unique indexes). A few
violations are planted on purpose; ``examples/gates/crm_backfill.yaml`` finds them:

* 3 leads whose customer_id is still NULL               -> lead_customer_not_null
* 2 leads whose customer does not exist                 -> lead_customer_exists
* 2 leads with two open conversations each              -> one_open_conversation_per_lead
* 1 email held by two customers, differing only in case -> unique_customer_email
* 2 messages with the unknown role 'bot'                -> message_role_known

Idempotent: it drops and recreates its own five tables in its own schema (default
``crm_example``), creating the schema if needed, and touches nothing else.

Usage: python examples/gates/build_crm_db.py [--db URL] [--schema NAME] [--seed N]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

DEFAULT_DB = os.environ.get("DQ_EXAMPLE_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
TABLES = ("Message", "Conversation", "Job", "Lead", "Customer")

DDL = {
    "Customer": """
        CREATE TABLE {}."Customer" (
            id         bigint PRIMARY KEY,
            email      text,
            name       text NOT NULL,
            created_at timestamptz NOT NULL
        )""",
    "Lead": """
        CREATE TABLE {}."Lead" (
            id          bigint PRIMARY KEY,
            customer_id bigint,
            source      text NOT NULL,
            status      text NOT NULL,
            created_at  timestamptz NOT NULL
        )""",
    "Job": """
        CREATE TABLE {}."Job" (
            id           bigint PRIMARY KEY,
            lead_id      bigint,
            status       text NOT NULL,
            amount       numeric(10, 2),
            scheduled_at timestamptz NOT NULL,
            completed_at timestamptz
        )""",
    "Conversation": """
        CREATE TABLE {}."Conversation" (
            id        bigint PRIMARY KEY,
            lead_id   bigint,
            opened_at timestamptz NOT NULL,
            closed_at timestamptz
        )""",
    "Message": """
        CREATE TABLE {}."Message" (
            id              bigint PRIMARY KEY,
            conversation_id bigint,
            role            text NOT NULL,
            body            text NOT NULL,
            created_at      timestamptz NOT NULL
        )""",
}

FIRST = ("ana", "bruno", "carla", "diego", "elena", "fabio", "gina", "hugo", "iris", "joao")
LAST = ("silva", "santos", "costa", "lima", "rocha", "alves", "pereira", "gomes", "ribeiro")
SOURCES = ("web", "referral", "phone", "partner")


def build_rows(seed: int, now: datetime) -> dict[str, list[tuple[Any, ...]]]:
    rng = random.Random(seed)
    customers: list[tuple[Any, ...]] = []
    for cid in range(1, 501):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        customers.append(
            (cid, f"{first}.{last}.{cid}@example.com", f"{first.title()} {last.title()}",
             now - timedelta(days=rng.randint(30, 900)))
        )  # fmt: skip
    # Planted: the same address twice, differing only in case.
    customers.append((501, "Ana.Silva.7@Example.com", "Ana Silva", now - timedelta(days=3)))
    customers[6] = (7, "ana.silva.7@example.com", "Ana Silva", customers[6][3])

    leads: list[tuple[Any, ...]] = []
    for lid in range(1, 1201):
        customer: int | None = rng.randint(1, 501)
        if lid in (41, 522, 1090):
            customer = None  # planted: not backfilled
        elif lid in (77, 808):
            customer = 9000 + lid  # planted: no such customer
        leads.append(
            (lid, customer, rng.choice(SOURCES), rng.choice(("new", "qualified", "won", "lost")),
             now - timedelta(days=rng.randint(1, 700)))
        )  # fmt: skip

    jobs: list[tuple[Any, ...]] = []
    for jid in range(1, 601):
        status = rng.choice(("scheduled", "completed", "completed", "cancelled"))
        scheduled = now - timedelta(days=rng.randint(0, 400))
        amount = round(rng.uniform(80, 4000), 2) if status == "completed" else None
        completed = (
            scheduled + timedelta(hours=rng.randint(1, 72)) if status == "completed" else None
        )
        jobs.append((jid, rng.randint(1, 1200), status, amount, scheduled, completed))

    conversations: list[tuple[Any, ...]] = []
    for conv in range(1, 901):
        opened = now - timedelta(days=rng.randint(0, 300), minutes=rng.randint(0, 1440))
        # Lead i has conversation i (i <= 900), so only the planted leads get two open ones.
        closed = None if conv % 7 == 0 else opened + timedelta(hours=rng.randint(1, 200))
        conversations.append((conv, conv, opened, closed))
    # Planted: a second open conversation for two leads that already have one open.
    conversations.append((901, 14, now - timedelta(days=2), None))
    conversations.append((902, 21, now - timedelta(hours=5), None))

    messages: list[tuple[Any, ...]] = []
    for mid in range(1, 4001):
        conv = rng.randint(1, 902)
        role = rng.choice(("customer", "agent", "agent", "system"))
        if mid in (1234, 3210):
            role = "bot"  # planted: a role the CHECK constraint will not allow
        created = now - timedelta(minutes=rng.randint(5, 60 * 24 * 200))
        messages.append((mid, conv, role, f"message {mid}", created))
    messages.append((4001, 902, "agent", "latest reply", now - timedelta(minutes=3)))
    return {
        "Customer": customers,
        "Lead": leads,
        "Job": jobs,
        "Conversation": conversations,
        "Message": messages,
    }


def build(url: str, schema: str, seed: int = 7) -> dict[str, int]:
    """(Re)create the five tables in ``schema``; return the row count of each."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
        raise ValueError(f"{schema!r} is not a plain schema name")
    rows = build_rows(seed, datetime.now(UTC))
    ns = sql.Identifier(schema)
    with psycopg.connect(url, connect_timeout=10) as conn, conn.transaction():
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ns))
        for table in TABLES:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}.{}").format(ns, sql.Identifier(table)))
        for table in reversed(TABLES):
            conn.execute(sql.SQL(DDL[table]).format(ns))
            with (
                conn.cursor() as cur,
                cur.copy(
                    sql.SQL("COPY {}.{} FROM STDIN").format(ns, sql.Identifier(table))
                ) as copy,
            ):
                for row in rows[table]:
                    copy.write_row(row)
        for table in TABLES:
            conn.execute(sql.SQL("ANALYZE {}.{}").format(ns, sql.Identifier(table)))
    return {table: len(rows[table]) for table in reversed(TABLES)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=DEFAULT_DB, help="PostgreSQL URL [DQ_EXAMPLE_PG_URL]")
    parser.add_argument("--schema", default="crm_example")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    try:
        counts = build(args.db, args.schema, args.seed)
    except (psycopg.Error, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = ", ".join(f"{table} {n:,}" for table, n in counts.items())
    print(f"built schema {args.schema}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
