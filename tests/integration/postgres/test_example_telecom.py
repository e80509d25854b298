"""The telecom example end to end, small, on real PostgreSQL (examples/telecom/run.py).

Runs the whole pipeline (sources -> bronze -> double-pass -> silver load) in a private schema,
then checks: every table reconciles (read = loaded + quarantined); the orphans are in the
quarantine as ``fk_violation`` and none reached the conformed tables; a remediated record went
on fixed while its original stayed untouched in the quarantine; the lineage manifest matches
the bronze files; a re-run changes nothing; day 2 writes history rows; the gates pass.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from psycopg import sql

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "telecom"
SIZES = [
    "--customers",
    "300",
    "--agents",
    "20",
    "--complaints",
    "500",
    "--social",
    "300",
    "--calls",
    "2000",
]
TABLES = ("customers", "agents", "complaints", "social_complaints", "call_logs")
CHILDREN = {
    "complaints": ("customer_id", "agent_id"),
    "social_complaints": ("customer_id",),
    "call_logs": ("customer_id", "agent_id"),
}


def _run(pg_url: str, schema: str, work: Path, *extra: str) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(EXAMPLE / "run.py"),
        "--db",
        pg_url,
        "--schema",
        schema,
        "--work",
        str(work),
        *SIZES,
        *extra,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc: dict[str, Any] = json.loads((work / "summary.json").read_text())
    return {t["table"]: t for t in doc["tables"]}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "dataquarantine.cli.app", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _scalar(conn: psycopg.Connection[Any], query: sql.Composable) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def _counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    tables = [f"conformed_{t}" for t in TABLES]
    tables += ["data_quality_quarantine", "dq_quarantine", "conformed_complaints_history"]
    return {
        t: _scalar(conn, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t)))
        for t in tables
    }


@pytest.fixture
def schema(pg_schema_url: str) -> str:
    return parse_qs(urlsplit(pg_schema_url).query)["schema"][0]


def test_telecom_pipeline_end_to_end(
    pg_url: str, pg_schema_url: str, schema: str, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    first = _run(pg_url, schema, work)
    planted = json.loads((work / "raw" / "planted.json").read_text())

    # every table reconciles: read = loaded + quarantined (both passes)
    for table in TABLES:
        t = first[table]
        assert t["reconciles"], t
        assert t["read"] == t["loaded"]["total"] + t["quarantined"]["total"]
        assert t["loaded"]["total"] > 0
    assert first["customers"]["read"] == planted["customers"]["rows"]
    assert first["call_logs"]["read"] == planted["calls"]["rows"]

    # bronze lineage: one entry per source, checksums of the files as written
    manifest = json.loads((work / "bronze" / "manifest.json").read_text())
    assert [e["source"] for e in manifest["sources"]] == list(TABLES)
    for entry in manifest["sources"]:
        data = (work / "bronze" / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert entry["run_id"] == manifest["run_id"] and entry["extracted_at"]

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        # the orphans of each child table landed in the quarantine with fk_violation ...
        for table, fields in CHILDREN.items():
            fk = first[table]["quarantined"]["by_code"].get("fk_violation", 0)
            assert fk > 0, (table, first[table])
            # ... exactly the cleaned rows whose parent is missing (recounted here in SQL)
            held = _scalar(
                conn,
                sql.SQL(
                    "SELECT count(*) FROM data_quality_quarantine"
                    " WHERE issue_type = 'fk_violation' AND table_name = {}"
                ).format(sql.Literal(f"conformed_{table}")),
            )
            assert held == fk, (table, held, fk)
            for field in fields:
                parent = "conformed_customers" if field == "customer_id" else "conformed_agents"
                # ... and no orphan reached the conformed table (the real FKs agree)
                orphans = _scalar(
                    conn,
                    sql.SQL(
                        "SELECT count(*) FROM {} c WHERE c.{} IS NOT NULL AND NOT EXISTS"
                        " (SELECT 1 FROM {} p WHERE p.{} = c.{})"
                    ).format(
                        sql.Identifier(f"conformed_{table}"),
                        sql.Identifier(field),
                        sql.Identifier(parent),
                        sql.Identifier(field),
                        sql.Identifier(field),
                    ),
                )
                assert orphans == 0
        planted_ids = _scalar(
            conn,
            sql.SQL(
                "SELECT count(*) FROM conformed_call_logs"
                " WHERE customer_id LIKE 'CUST-9%' OR agent_id LIKE 'AGT-9%'"
            ),
        )
        assert planted_ids == 0
        # the envelope store sees them too: source kind table, code fk_violation
        envelopes = _scalar(
            conn,
            sql.SQL(
                "SELECT count(*) FROM dq_quarantine"
                " WHERE error_code = 'fk_violation' AND source_kind = 'table'"
            ),
        )
        assert envelopes == sum(
            first[t]["quarantined"]["by_code"].get("fk_violation", 0) for t in CHILDREN
        )
        # the double-pass: a fixed customer went on with its E.164 phone, while its original,
        # national-format phone is kept untouched in the quarantine (status remediated)
        assert _scalar(
            conn, sql.SQL("SELECT count(*) FROM dq_quarantine WHERE status = 'remediated'")
        ) == sum(first[t]["remediated"] for t in TABLES)
        fixed_id = _scalar(
            conn,
            sql.SQL(
                "SELECT id FROM dq_quarantine WHERE status = 'remediated'"
                " AND contract = 'telecom.customers' ORDER BY id LIMIT 1"
            ),
        )
        shown = _cli(
            "quarantine", "show", str(fixed_id), "--json", "--store", pg_schema_url,
            "--payloads", (work / "payloads").as_uri(),
        )  # fmt: skip
        original = json.loads(shown.stdout)["payload_json"]
        assert original["phone"].startswith("(")
        phone = _scalar(
            conn,
            sql.SQL("SELECT phone FROM conformed_customers WHERE customer_id = {}").format(
                sql.Literal(original["customer_id"])
            ),
        )
        digits = "".join(c for c in original["phone"] if c.isdigit())
        assert phone == f"+1{digits}"
        before = _counts(conn)

    # a re-run is idempotent: nothing new anywhere, everything unchanged
    second = _run(pg_url, schema, work)
    for table in TABLES:
        assert second[table]["loaded"]["inserted"] == 0, second[table]
        assert second[table]["loaded"]["updated"] == 0, second[table]
        assert second[table]["history_rows"] == 0
        assert second[table]["quarantined"] == first[table]["quarantined"]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        assert _counts(conn) == before

    # day 2: the ticketing system moved on; the load updates and records the history
    third = _run(pg_url, schema, work, "--day", "2")
    complaints = third["complaints"]
    assert complaints["loaded"]["updated"] > 0
    assert complaints["history_rows"] >= complaints["loaded"]["updated"]
    assert third["call_logs"]["loaded"]["updated"] == 0

    _cli("gates", "run", str(EXAMPLE / "gates.yaml"), "--db", pg_schema_url)
