"""``load`` and ``gates run`` export their run's metrics (``--metrics-file``) on real
PostgreSQL: the series of docs/operating.md, with the run's id and outcome."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from psycopg import sql
from tests.integration.postgres.load_db import LoadDb, make_load_db, write_contract
from typer.testing import CliRunner

from dataquarantine.cli.app import app
from dataquarantine.db.url import PostgresTarget, parse_store_url

pytestmark = pytest.mark.postgres

Found = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(path: Path) -> Found:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(path.read_text())
        for s in family.samples
    }


def value(found: Found, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in found.items() if n == name and set(labels.items()) <= ls)


def test_load_exports_rows_and_quarantined_codes(pg_schema_url: str, tmp_path: Path) -> None:
    db: LoadDb = make_load_db(pg_schema_url)
    db.stage(
        [("CL1", 1, 1, 60, "open"), ("CL2", 2, 2, 30, "pending"), ("CL12", 998, 78, 5, "open")]
    )
    prom = tmp_path / "load.prom"
    result = CliRunner().invoke(
        app,
        ["load", "--db", db.url, "--contract", str(write_contract(tmp_path)), "--json",
         "--store", f"sqlite:///{tmp_path / 'q.db'}", "--payloads", f"file://{tmp_path / 'p'}",
         "--metrics-file", str(prom), "--metrics-job", "calls_nightly"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    found = samples(prom)
    run = {"job": "calls_nightly", "run": summary["run_id"]}
    assert value(found, "dataquarantine_records_processed_total", **run) == summary["read"] == 3
    assert value(found, "dataquarantine_records_valid_total", schema="call_logs", **run) == 2
    assert value(found, "dataquarantine_records_invalid_total", error_type="fk_violation") == 1
    assert value(found, "dataquarantine_load_rows_total", outcome="inserted", **run) == 2
    assert value(found, "dataquarantine_run_success", command="load", **run) == 1


def test_gates_run_exports_each_gate(pg_schema_url: str, tmp_path: Path) -> None:
    target = parse_store_url(pg_schema_url)
    assert isinstance(target, PostgresTarget) and target.schema
    with psycopg.connect(target.conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(target.schema)))
        conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(target.schema)))
        conn.execute('CREATE TABLE "Item" (id int, name text)')
        conn.execute("""INSERT INTO "Item" VALUES (1, 'a'), (2, NULL)""")
    gates = tmp_path / "items.yaml"
    gates.write_text(
        "gates:\n"
        "  - {name: ids_present, kind: not_null, table: Item, column: id}\n"
        "  - {name: names_present, kind: not_null, table: Item, column: name}\n"
        "  - {name: few_items, kind: row_count, table: Item, max: 1, severity: informational}\n"
    )
    prom = tmp_path / "gates.prom"
    result = CliRunner().invoke(
        app,
        ["gates", "run", str(gates), "--db", pg_schema_url, "--format", "json",
         "--metrics-file", str(prom)],
    )  # fmt: skip
    assert result.exit_code == 1, result.output  # names_present fails
    report = json.loads(result.stdout)
    found = samples(prom)
    run = {"job": "dataquarantine_gates", "run": report["run_id"], "suite": "items"}
    passed = "dataquarantine_gate_passed"
    assert value(found, passed, gate="ids_present", severity="required", **run) == 1
    assert value(found, passed, gate="names_present", severity="required", **run) == 0
    assert value(found, passed, gate="few_items", severity="informational", **run) == 1
    assert value(found, "dataquarantine_gate_violations", gate="names_present") == 1
    assert value(found, "dataquarantine_run_success", command="gates run") == 0
