"""OpenLineage run events of ``validate`` and ``gates run``, sent to a local HTTP receiver.

The events are checked against the run's results, and against the spec as openlineage-python
encodes it (the classes it generates from the spec's JSON Schemas, which it does not ship).
An unreachable endpoint is a warning, never a failed run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
from tests.fixtures.lineage import Receiver, check_event

CLI = [sys.executable, "-m", "dataquarantine.cli.app"]

CONTRACT = """\
name: orders
version: 1.0.0
schema:
  type: object
  required: [id, amount]
  properties:
    id: {type: string}
    amount: {type: number, minimum: 0}
rules:
  - id: big_needs_note
    field: note
    expr: "record.amount < 100 || has(record.note)"
  - id: id_prefix
    field: id
    expr: "record.id.startsWith('o')"
"""


def _run(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("OPENLINEAGE")}
    full.update(env)
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=120
    )


def test_validate_emits_start_and_complete_with_assertions(
    tmp_path: Path, receiver: Receiver
) -> None:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "orders.yaml").write_text(CONTRACT)
    (tmp_path / "in.jsonl").write_text(
        '{"id": "o1", "amount": 5}\n'
        '{"id": "o2", "amount": -1}\n'
        '{"id": "o3", "amount": 500}\n'
        '{"id": "x4", "amount": 1}\n'
    )
    done = _run(
        "validate", "in.jsonl", "--contract", "orders", "--contracts", "contracts",
        "--store", "sqlite:///q.db", "--payloads", "file://p", "--valid-out", "valid.jsonl",
        cwd=tmp_path, env={"OPENLINEAGE_URL": receiver.url},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    start, complete = receiver.events
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    assert start["run"]["runId"] == complete["run"]["runId"]
    job = complete["job"]
    assert (job["namespace"], job["name"]) == ("dataquarantine", "validate:in.jsonl")
    (dataset,) = complete["inputs"]
    assert dataset["namespace"] == "file"
    assert dataset["name"] == str((tmp_path / "in.jsonl").resolve())
    facets = dataset["inputFacets"]
    assert facets["dataQualityMetrics"]["rowCount"] == 4
    got = {
        (a["name"], a.get("column"), a["success"], a.get("actual"))
        for a in facets["dataQualityAssertions"]["assertions"]
    }
    assert got == {
        ("orders@1.0.0:schema", None, False, "1"),
        ("orders@1.0.0:schema", "amount", False, "1"),
        ("big_needs_note", "note", False, "1"),
        ("id_prefix", "id", False, "1"),
    }
    outputs = {
        o["name"]: o["outputFacets"]["outputStatistics"]["rowCount"] for o in complete["outputs"]
    }
    assert outputs == {str((tmp_path / "valid.jsonl").resolve()): 1, "dq_quarantine": 3}
    for event in receiver.events:
        check_event(event)


def test_an_unreachable_endpoint_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "orders.yaml").write_text(CONTRACT)
    (tmp_path / "in.jsonl").write_text('{"id": "o1", "amount": 5}\n')
    done = _run(
        "validate", "in.jsonl", "--contract", "orders", "--contracts", "contracts",
        "--store", "sqlite:///q.db", "--payloads", "file://p",
        cwd=tmp_path, env={"OPENLINEAGE_URL": "http://127.0.0.1:9", "DQ_LOG_FORMAT": "text"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "OpenLineage event not sent" in done.stderr


def test_off_when_not_configured(tmp_path: Path, receiver: Receiver) -> None:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "orders.yaml").write_text(CONTRACT)
    (tmp_path / "in.jsonl").write_text('{"id": "o1", "amount": 5}\n')
    done = _run(
        "validate", "in.jsonl", "--contract", "orders", "--contracts", "contracts",
        "--store", "sqlite:///q.db", "--payloads", "file://p", cwd=tmp_path, env={},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert receiver.events == [] and "OpenLineage" not in done.stderr


def test_gates_run_emits_one_assertion_per_gate(
    tmp_path: Path, receiver: Receiver, pg_schema_url: str
) -> None:
    base, _, schema = pg_schema_url.partition("?schema=")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".orders (id int, customer int)')
        conn.execute(f'INSERT INTO "{schema}".orders VALUES (1, 10), (2, NULL), (2, 11)')
    (tmp_path / "gates.yaml").write_text(
        "gates:\n"
        "  - {name: customer_set, kind: not_null, table: orders, column: customer}\n"
        "  - {name: id_unique, kind: unique, table: orders, columns: [id]}\n"
        "  - {name: enough, kind: row_count, table: orders, min: 1}\n"
    )
    done = _run(
        "gates", "run", "gates.yaml", "--db", pg_schema_url, "--allow-unrestricted-role",
        cwd=tmp_path, env={"OPENLINEAGE_URL": receiver.url},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # required gates failed: the run still completed
    start, complete = receiver.events
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    (dataset,) = complete["inputs"]
    assert dataset["name"] == "orders"
    got = {
        (a["name"], a["assertion"], a.get("column"), a["success"])
        for a in dataset["inputFacets"]["dataQualityAssertions"]["assertions"]
    }
    assert got == {
        ("customer_set", "not_null", "customer", False),
        ("id_unique", "unique", "id", False),
        ("enough", "row_count", None, True),
    }
    for event in receiver.events:
        check_event(event)
