"""Generate the five sources of the telecom example, with planted orphans and bad values.

* ``customers.csv``          the CRM export (dimension)
* ``agents.csv``             the support team's spreadsheet, exported as CSV (dimension)
* ``src_complaints``         a table of the ticketing system, in PostgreSQL
* ``social_complaints.jsonl`` complaints scraped from social media, one JSON object a line
* ``call_logs.csv``          the call-centre switch's export

About ``--orphan-rate`` of the child rows (complaints, social complaints, call logs) point at a
customer or an agent that does not exist (some at both), and about ``--bad-rate`` of every
source carries a bad value: a malformed phone number or timestamp, a negative duration, an
unknown status, an out-of-range score... Some bad values are fixable by the contracts'
remediation (a phone number in national format, a timestamp without ``T``, a status in upper
case); the others are not. ``planted.json`` says how many of each were planted, per source.

Everything is deterministic: the same ``--seed`` and sizes give byte-identical files and rows.
``--day N`` moves the ticketing system N-1 days forward (complaints change status, agent or
priority), which is what the load's change tracking records.

Usage: python examples/telecom/generate.py --out DIR [--db URL --schema NAME] [--seed N]
       [--customers N] [--agents N] [--complaints N] [--social N] [--calls N] [--day N]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DEFAULT_DB = os.environ.get("DQ_EXAMPLE_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
#: A fixed clock, so that the data (and so every re-run of the pipeline) is the same.
EPOCH = datetime(2026, 1, 5, tzinfo=UTC)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST = _words(
    "ana bruno carla diego elena fabio gina hugo iris joao kate liam maya noah olga pedro quinn "
    "rosa sam tara"
)
LAST = _words(
    "silva santos costa lima rocha alves pereira gomes ribeiro nguyen smith garcia kowalski "
    "okafor tanaka muller"
)
CITIES = (
    ("Austin", "TX", "512"),
    ("Denver", "CO", "303"),
    ("Seattle", "WA", "206"),
    ("Boston", "MA", "617"),
    ("Miami", "FL", "305"),
    ("Chicago", "IL", "312"),
    ("Phoenix", "AZ", "602"),
    ("Atlanta", "GA", "404"),
)
PLANS = ("prepaid", "postpaid", "postpaid", "business", "family")
TEAMS = ("billing", "technical", "technical", "retention", "general", "social")
CHANNELS = ("phone", "email", "store", "chat")
CATEGORIES = ("billing", "network", "network", "device", "service", "roaming")
PRIORITIES = ("low", "medium", "medium", "high", "critical")
PLATFORMS = ("twitter", "facebook", "instagram", "tiktok", "reddit")
RESOLUTIONS = ("resolved", "resolved", "unresolved", "escalated", "callback")
GRIPES = (
    "no signal at home since {d}",
    "charged twice on my {p} bill",
    "dropped calls all day",
    "roaming not working abroad",
    "data speed is a joke",
    "store staff were rude",
    "waited {n} minutes on hold",
    "my new phone will not activate",
    "bill went up again",
)


@dataclass
class Planted:
    """How many orphans and bad values were planted, and of which kind, in one source."""

    rows: int = 0
    orphans: Counter[str] = field(default_factory=Counter)
    bad: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "orphans": dict(sorted(self.orphans.items())),
            "bad": dict(sorted(self.bad.items())),
        }


@dataclass
class Sources:
    customers: list[dict[str, Any]]
    agents: list[dict[str, Any]]
    complaints: list[dict[str, Any]]
    social: list[dict[str, Any]]
    calls: list[dict[str, Any]]
    planted: dict[str, Planted]


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _phone(rng: random.Random, area: str) -> str:
    return f"+1{area}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"


class _Planter:
    """Picks the rows that get an orphan reference or a bad value, at the configured rates."""

    def __init__(self, rng: random.Random, orphan_rate: float, bad_rate: float) -> None:
        self.rng, self.orphan_rate, self.bad_rate = rng, orphan_rate, bad_rate

    def orphan(self) -> bool:
        return self.rng.random() < self.orphan_rate

    def bad(self) -> bool:
        return self.rng.random() < self.bad_rate


def _customers(rng: random.Random, n: int, plant: _Planter, out: Planted) -> list[dict[str, Any]]:
    rows = []
    for i in range(1, n + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        city, state, area = rng.choice(CITIES)
        status = rng.choices(("active", "suspended", "churned"), (90, 4, 6))[0]
        signup = EPOCH - timedelta(days=rng.randint(30, 2500))
        row: dict[str, Any] = {
            "customer_id": f"CUST-{i:06d}",
            "first_name": first.title(),
            "last_name": last.title(),
            "email": f"{first}.{last}{i}@example.com",
            "phone": _phone(rng, area),
            "plan": rng.choice(PLANS),
            "status": status,
            "signup_date": signup.date().isoformat(),
            "churned_on": (
                min(signup + timedelta(days=rng.randint(10, 400)), EPOCH).date().isoformat()
                if status == "churned"
                else ""
            ),
            "city": city,
            "state": state,
        }
        if plant.bad():
            kind = rng.choice(("phone_national", "phone_short", "email", "plan", "signup_date"))
            out.bad[kind] += 1
            if kind == "phone_national":  # fixable: e164_phone with region US
                p = row["phone"]
                row["phone"] = f"({p[2:5]}) {p[5:8]}-{p[8:]}"
            elif kind == "phone_short":
                row["phone"] = f"{rng.randint(100, 999)}-{rng.randint(10, 99)}"
            elif kind == "email":
                row["email"] = row["email"].replace("@", " at ")
            elif kind == "plan":
                row["plan"] = rng.choice(("platinum", "unlimited+", "n/a"))
            else:
                row["signup_date"] = f"{signup.year}-{rng.randint(13, 19)}-{signup.day:02d}"
        rows.append(row)
    return rows


def _agents(rng: random.Random, n: int, plant: _Planter, out: Planted) -> list[dict[str, Any]]:
    rows = []
    for i in range(1, n + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        row: dict[str, Any] = {
            "agent_id": f"AGT-{i:04d}",
            "full_name": f"{first.title()} {last.title()}",
            "team": rng.choice(TEAMS),
            "email": f"{first[0]}{last}{i}@support.example.com",
            "hired_on": (EPOCH - timedelta(days=rng.randint(20, 3000))).date().isoformat(),
            "active": "true" if rng.random() < 0.93 else "false",
        }
        if plant.bad():
            kind = rng.choice(("team_case", "team_unknown", "email"))
            out.bad[kind] += 1
            if kind == "team_case":  # fixable: trim + lowercase
                row["team"] = f" {row['team'].title()} "
            elif kind == "team_unknown":
                row["team"] = "Sales Team"
            else:
                row["email"] = f"{first}.{last}@"
        rows.append(row)
    return rows


def _ref(
    rng: random.Random,
    plant: _Planter,
    out: Planted,
    n_cust: int,
    n_agents: int,
    agent_optional: bool,
) -> tuple[str, str | None]:
    """A (customer_id, agent_id) pair, an orphan on one side or both at the orphan rate."""
    customer = f"CUST-{rng.randint(1, n_cust):06d}"
    agent: str | None = f"AGT-{rng.randint(1, n_agents):04d}"
    if agent_optional and rng.random() < 0.1:
        agent = None  # not assigned yet: NULL is not an orphan
    if plant.orphan():
        side = rng.choice(("customer", "customer", "agent", "both"))
        out.orphans[side] += 1
        if side in ("customer", "both"):
            customer = f"CUST-{rng.randint(900_000, 999_999):06d}"
        if side in ("agent", "both"):
            agent = f"AGT-{rng.randint(9_000, 9_999):04d}"
    return customer, agent


def _is_orphan_agent(agent: str | None) -> bool:
    return agent is not None and agent.startswith("AGT-9")


def _complaints(
    rng: random.Random, n: int, n_cust: int, n_agents: int, plant: _Planter, out: Planted
) -> list[dict[str, Any]]:
    rows = []
    for i in range(1, n + 1):
        customer, agent = _ref(rng, plant, out, n_cust, n_agents, agent_optional=True)
        opened = EPOCH - timedelta(minutes=rng.randint(60, 60 * 24 * 120))
        status = rng.choices(
            ("open", "in_progress", "escalated", "resolved", "closed"), (25, 25, 10, 30, 10)
        )[0]
        resolved = (
            opened + timedelta(minutes=rng.randint(5, 60 * 24 * 10))
            if status in ("resolved", "closed")
            else None
        )
        gripe = rng.choice(GRIPES).format(d="monday", p=rng.choice(PLANS), n=rng.randint(20, 90))
        row: dict[str, Any] = {
            "complaint_id": f"CMP-{i:07d}",
            "customer_id": customer,
            "agent_id": None if status == "open" and not _is_orphan_agent(agent) else agent,
            "channel": rng.choice(CHANNELS),
            "category": rng.choice(CATEGORIES),
            "priority": rng.choice(PRIORITIES),
            "status": status,
            "opened_at": opened,
            "resolved_at": resolved,
            "description": gripe,
            # when the ticket entered its current status (stamped by the ticketing system, never
            # after the extract even when resolved_at is)
            "status_changed_at": min(resolved or opened, EPOCH),
        }
        if plant.bad():
            kind = rng.choice(
                (
                    "status_case",
                    "status_unknown",
                    "resolved_before_opened",
                    "priority",
                    "description_empty",
                )
            )
            out.bad[kind] += 1
            if kind == "status_case":  # fixable: lowercase + trim
                row["status"] = f" {row['status'].upper()} "
            elif kind == "status_unknown":
                row["status"] = rng.choice(("reopened?", "pending_review", "duplicate"))
            elif kind == "resolved_before_opened":
                row["status"] = "resolved"
                row["resolved_at"] = opened - timedelta(hours=rng.randint(1, 48))
            elif kind == "priority":
                row["priority"] = "urgent!!"
            else:
                row["description"] = ""
        rows.append(row)
    return rows


def _social(
    rng: random.Random, n: int, n_cust: int, plant: _Planter, out: Planted
) -> list[dict[str, Any]]:
    rows = []
    for i in range(1, n + 1):
        customer = f"CUST-{rng.randint(1, n_cust):06d}"
        orphan = plant.orphan()
        if orphan:  # social posts have no agent side
            out.orphans["customer"] += 1
            customer = f"CUST-{rng.randint(900_000, 999_999):06d}"
        matched = orphan or rng.random() < 0.7
        posted = EPOCH - timedelta(minutes=rng.randint(5, 60 * 24 * 60))
        handle = f"@{rng.choice(FIRST)}_{rng.choice(LAST)}{rng.randint(1, 999)}"
        row: dict[str, Any] = {
            "post_id": f"SM-{i:07d}",
            "platform": rng.choice(PLATFORMS),
            "handle": handle,
            "posted_at": _ts(posted),
            "text": rng.choice(GRIPES).format(d="friday", p="prepaid", n=rng.randint(10, 60)),
            "sentiment": round(rng.uniform(-1.0, 0.2), 3),
            "followers": int(rng.paretovariate(1.2) * 40),
        }
        if matched:  # only posts matched to a customer carry the id
            row["customer_id"] = customer
        if plant.bad():
            kind = rng.choice(
                ("posted_at_space", "posted_at_text", "platform", "sentiment", "followers")
            )
            out.bad[kind] += 1
            if kind == "posted_at_space":  # fixable: iso_timestamp
                row["posted_at"] = posted.strftime("%Y-%m-%d %H:%M:%S")
            elif kind == "posted_at_text":
                row["posted_at"] = rng.choice(("yesterday", "2 hours ago", "last week"))
            elif kind == "platform":
                row["platform"] = rng.choice(("myspace", "friendster"))
            elif kind == "sentiment":
                row["sentiment"] = round(rng.uniform(1.5, 9.0), 2)
            else:
                row["followers"] = -rng.randint(1, 50)
        rows.append(row)
    return rows


def _calls(
    rng: random.Random, n: int, n_cust: int, n_agents: int, plant: _Planter, out: Planted
) -> list[dict[str, Any]]:
    rows = []
    for i in range(1, n + 1):
        customer, agent = _ref(rng, plant, out, n_cust, n_agents, agent_optional=False)
        started = EPOCH - timedelta(seconds=rng.randint(60, 60 * 60 * 24 * 90))
        _, _, area = rng.choice(CITIES)
        row: dict[str, Any] = {
            "call_id": f"CALL-{i:08d}",
            "customer_id": customer,
            "agent_id": agent,
            "direction": rng.choices(("inbound", "outbound"), (85, 15))[0],
            "caller_number": _phone(rng, area),
            "started_at": _ts(started),
            "duration_seconds": int(rng.lognormvariate(5.3, 0.8)),
            "resolution_status": rng.choice(RESOLUTIONS),
        }
        if plant.bad():
            kind = rng.choice(
                (
                    "duration_negative",
                    "caller_number",
                    "started_at",
                    "resolution_case",
                    "resolution_unknown",
                )
            )
            out.bad[kind] += 1
            if kind == "duration_negative":
                row["duration_seconds"] = -rng.randint(1, 600)
            elif kind == "caller_number":
                row["caller_number"] = rng.choice(("anonymous", "+1-0", "00000"))
            elif kind == "started_at":
                row["started_at"] = started.strftime("%d/%m/%Y %H:%M")
            elif kind == "resolution_case":  # fixable: lowercase
                row["resolution_status"] = row["resolution_status"].upper()
            else:
                row["resolution_status"] = "unknwn"
        rows.append(row)
    return rows


def _planted_bad(row: dict[str, Any]) -> bool:
    resolved = row["resolved_at"]
    return (
        row["description"] == ""
        or row["priority"] not in PRIORITIES
        or (resolved is not None and resolved < row["opened_at"])
    )


#: The customer who moves house on day 2 (a new SCD2 version of the customer dimension).
MOVER = "CUST-000001"
#: How many complaints with an unknown customer the ticketing system gains each day after day 1.
NEW_ORPHANS_PER_DAY = 3


def day_time(day: int) -> datetime:
    """When the ticketing system's changes of ``day`` happen (day 1 is the extract at EPOCH)."""
    return EPOCH + timedelta(days=day - 1)


def advance(complaints: list[dict[str, Any]], day: int, n_agents: int, seed: int) -> int:
    """Move the ticketing system ``day - 1`` days on: some complaints change status (stamped
    ``status_changed_at``), agent or priority; some in-progress ones are reassigned to another
    agent; a few new complaints of unknown customers appear (orphans). Returns how many rows
    changed. Planted bad rows are left alone."""
    changed = 0
    for d in range(2, day + 1):
        rng = random.Random(seed * 1_000 + d)
        now = day_time(d)
        changed += _reassign(complaints, d, n_agents, seed)
        for row in complaints:
            if rng.random() >= 0.15:
                continue
            nxt = {
                "open": "in_progress",
                "in_progress": "resolved",
                "escalated": "resolved",
                "resolved": "closed",
            }.get(row["status"])
            if nxt is None or _planted_bad(row):
                continue
            row["status"] = nxt
            row["status_changed_at"] = now
            if nxt == "in_progress" and row["agent_id"] is None:
                row["agent_id"] = f"AGT-{rng.randint(1, n_agents):04d}"
            if nxt == "resolved":
                row["resolved_at"] = max(now, row["opened_at"] + timedelta(minutes=5))
            if rng.random() < 0.1:
                row["priority"] = "high"
            changed += 1
        complaints.extend(_new_orphans(len(complaints), d, seed))
    return changed


def _reassign(complaints: list[dict[str, Any]], day: int, n_agents: int, seed: int) -> int:
    """Hand a few in-progress complaints to another agent (before the day's status moves)."""
    rng = random.Random(seed * 1_000 + 500 + day)
    moved = 0
    for row in complaints:
        if row["status"] != "in_progress" or _planted_bad(row) or rng.random() >= 0.05:
            continue
        agent = row["agent_id"]
        if agent is None or _is_orphan_agent(agent):
            continue
        row["agent_id"] = f"AGT-{rng.randint(1, n_agents):04d}"
        moved += row["agent_id"] != agent
    return moved


def _new_orphans(start: int, day: int, seed: int) -> list[dict[str, Any]]:
    """Complaints opened on ``day`` by customers the CRM does not know (yet)."""
    rng = random.Random(seed * 1_000 + 900 + day)
    opened = day_time(day) - timedelta(hours=2)
    return [
        {
            "complaint_id": f"CMP-{start + i:07d}",
            "customer_id": f"CUST-{rng.randint(900_000, 999_999):06d}",
            "agent_id": None,
            "channel": rng.choice(CHANNELS),
            "category": rng.choice(CATEGORIES),
            "priority": rng.choice(PRIORITIES),
            "status": "open",
            "opened_at": opened,
            "resolved_at": None,
            "description": "no signal since the outage",
            "status_changed_at": opened,
        }
        for i in range(1, NEW_ORPHANS_PER_DAY + 1)
    ]


def move_house(customers: list[dict[str, Any]], day: int) -> None:
    """From day 2 on, :data:`MOVER` lives elsewhere (the CRM export changes on day 2 only)."""
    if day < 2:
        return
    for row in customers:
        if row["customer_id"] == MOVER:
            city, state, _ = next(c for c in CITIES if c[0] != row["city"])
            row["city"], row["state"] = city, state


def generate(
    *,
    seed: int,
    customers: int,
    agents: int,
    complaints: int,
    social: int,
    calls: int,
    orphan_rate: float = 0.03,
    bad_rate: float = 0.02,
    day: int = 1,
) -> Sources:
    """Build every source in memory (deterministic in its arguments)."""
    if customers >= 900_000 or agents >= 9_000:
        raise ValueError("orphan ids start at CUST-900000 and AGT-9000: use fewer rows")
    planted = {k: Planted() for k in ("customers", "agents", "complaints", "social", "calls")}
    made = Sources(
        customers=_customers(
            random.Random(seed),
            customers,
            _Planter(random.Random(seed + 1), 0, bad_rate),
            planted["customers"],
        ),
        agents=_agents(
            random.Random(seed + 2),
            agents,
            _Planter(random.Random(seed + 3), 0, bad_rate),
            planted["agents"],
        ),
        complaints=_complaints(
            random.Random(seed + 4),
            complaints,
            customers,
            agents,
            _Planter(random.Random(seed + 5), orphan_rate, bad_rate),
            planted["complaints"],
        ),
        social=_social(
            random.Random(seed + 6),
            social,
            customers,
            _Planter(random.Random(seed + 7), orphan_rate, bad_rate),
            planted["social"],
        ),
        calls=_calls(
            random.Random(seed + 8),
            calls,
            customers,
            agents,
            _Planter(random.Random(seed + 9), orphan_rate, bad_rate),
            planted["calls"],
        ),
        planted=planted,
    )
    if day > 1:
        advance(made.complaints, day, agents, seed)
        move_house(made.customers, day)
        planted["complaints"].orphans["customer"] += NEW_ORPHANS_PER_DAY * (day - 1)
    for name, rows in (
        ("customers", made.customers),
        ("agents", made.agents),
        ("complaints", made.complaints),
        ("social", made.social),
        ("calls", made.calls),
    ):
        planted[name].rows = len(rows)
    return made


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


COMPLAINTS_DDL = """
    CREATE TABLE {} (
        complaint_id text PRIMARY KEY,
        customer_id  text,
        agent_id     text,
        channel      text,
        category     text,
        priority     text,
        status       text,
        opened_at    timestamptz,
        resolved_at  timestamptz,
        description  text,
        status_changed_at timestamptz
    )"""


def write_complaints_table(url: str, schema: str, rows: list[dict[str, Any]]) -> None:
    """(Re)create ``schema.src_complaints``, the ticketing system's table, with ``rows``."""
    import psycopg
    from psycopg import sql

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
        raise ValueError(f"{schema!r} is not a plain schema name")
    table = sql.Identifier(schema, "src_complaints")
    with psycopg.connect(url, connect_timeout=10) as conn, conn.transaction():
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        conn.execute(sql.SQL(COMPLAINTS_DDL).format(table))
        columns = list(rows[0])
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
            table, sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with conn.cursor() as cur, cur.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])


def write_sources(made: Sources, out: Path, *, db: str | None, schema: str) -> dict[str, Any]:
    """Write the files (and the PostgreSQL table when ``db`` is given); return planted.json."""
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(out / "customers.csv", made.customers)
    _write_csv(out / "agents.csv", made.agents)
    _write_csv(out / "call_logs.csv", made.calls)
    with (out / "social_complaints.jsonl").open("wb") as f:
        for row in made.social:
            f.write(json.dumps(row, separators=(",", ":")).encode() + b"\n")
    if db is not None:
        write_complaints_table(db, schema, made.complaints)
    planted = {name: p.to_dict() for name, p in made.planted.items()}
    (out / "planted.json").write_text(json.dumps(planted, indent=2, sort_keys=True) + "\n")
    return planted


def add_size_options(parser: argparse.ArgumentParser) -> None:
    """The generator's seed, sizes and day (shared with run.py)."""
    parser.add_argument("--seed", type=int, default=20260105)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--agents", type=int, default=60)
    parser.add_argument("--complaints", type=int, default=3_000)
    parser.add_argument("--social", type=int, default=1_500)
    parser.add_argument("--calls", type=int, default=12_000)
    parser.add_argument("--day", type=int, default=1, help="days the ticketing system has run")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the files")
    parser.add_argument("--db", default=DEFAULT_DB, help="PostgreSQL URL [DQ_EXAMPLE_PG_URL]")
    parser.add_argument("--schema", default="telecom_example", help="schema of src_complaints")
    parser.add_argument("--no-db", action="store_true", help="skip the PostgreSQL table")
    add_size_options(parser)
    parser.add_argument("--orphan-rate", type=float, default=0.03)
    parser.add_argument("--bad-rate", type=float, default=0.02)
    args = parser.parse_args(argv)
    import psycopg

    try:
        made = generate(
            seed=args.seed,
            customers=args.customers,
            agents=args.agents,
            complaints=args.complaints,
            social=args.social,
            calls=args.calls,
            orphan_rate=args.orphan_rate,
            bad_rate=args.bad_rate,
            day=args.day,
        )
        planted = write_sources(
            made, args.out, db=None if args.no_db else args.db, schema=args.schema
        )
    except (OSError, ValueError, psycopg.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, p in planted.items():
        print(
            f"{name:<11} {p['rows']:>7,} rows  orphans {sum(p['orphans'].values()):>4}  "
            f"bad values {sum(p['bad'].values()):>4}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
