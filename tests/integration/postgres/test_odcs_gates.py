"""The gates an ODCS import writes run on PostgreSQL and give the verdicts ODCS says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import yaml

from dataquarantine.contracts.odcs import import_odcs

CLI = [sys.executable, "-m", "dataquarantine.cli.app"]


def _doc() -> dict[str, Any]:
    return {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": "orders",
        "version": "1.0.0",
        "status": "active",
        "schema": [
            {
                "name": "orders",
                "properties": [
                    {"name": "id", "logicalType": "integer", "primaryKey": True},
                    {
                        "name": "status",
                        "logicalType": "string",
                        "quality": [
                            {"metric": "nullValues", "mustBeLessThan": 2},  # 1 null: passes
                            {"metric": "invalidValues", "mustBeLessOrEqualTo": 20,
                             "unit": "percent", "arguments": {"validValues": ["new", "paid"]}},
                            {"metric": "missingValues", "mustBe": 1,
                             "arguments": {"missingValues": [None, ""]}},
                        ],
                    },
                    {"name": "amount", "logicalType": "number",
                     "quality": [{"metric": "duplicateValues", "mustBeLessThan": 1}]},
                ],
                "quality": [
                    {"metric": "rowCount", "mustBeBetween": [1, 10]},
                    {"type": "sql", "query": "SELECT max(amount) FROM ${object}",
                     "mustBeLessThan": 100},
                    {"metric": "duplicateValues", "mustBe": 0,
                     "arguments": {"properties": ["id", "status"]}},
                ],
            }
        ],
    }  # fmt: skip


def test_imported_gates_run_with_the_odcs_verdicts(tmp_path: Path, pg_schema_url: str) -> None:
    base, _, schema = pg_schema_url.partition("?schema=")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".orders (id int, status text, amount numeric)')
        conn.execute(
            f'INSERT INTO "{schema}".orders VALUES '
            "(1, 'new', 10), (2, 'lost', 10), (3, NULL, 250), (3, 'paid', 5)"
        )
    result = import_odcs(_doc())
    (tmp_path / "gates.yaml").write_text(yaml.safe_dump({"gates": list(result.gates)}))
    env = {**os.environ, "DQ_LOG_FORMAT": "text"}
    done = subprocess.run(
        [*CLI, "gates", "run", "gates.yaml", "--db", pg_schema_url, "--format", "json",
         "--allow-unrestricted-role"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr

    statuses = {g["name"]: g["status"] for g in json.loads(done.stdout)["gates"]}
    assert statuses == {
        "orders.id.primaryKey": "FAIL",  # id 3 twice
        "orders.status.nullValues": "PASS",  # 1 null < 2
        "orders.status.invalidValues": "FAIL",  # 'lost': 25 % > 20 %
        "orders.status.missingValues": "PASS",  # exactly one missing
        "orders.amount.unique": "FAIL",  # 10 twice (mustBeLessThan: 1 allows none)
        "orders.rowCount": "PASS",  # 4 in (1, 10)
        "orders.sql": "FAIL",  # max 250
        "orders.id_status.unique": "PASS",  # (3, NULL) and (3, paid) differ
    }
