"""``dataquarantine gates`` as a user runs it: a subprocess against real PostgreSQL."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner, Result

from dataquarantine.cli.app import app
from dataquarantine.db.url import PostgresTarget, parse_store_url

REPO = Path(__file__).resolve().parents[3]
CLI = [sys.executable, "-m", "dataquarantine.cli.app", "gates"]

GATES = """
gates:
  - name: ids_present
    kind: not_null
    table: Item
    column: id
  - name: names_present
    kind: not_null
    table: Item
    column: name
    description: Every item is named.
  - name: few_items
    kind: row_count
    table: Item
    max: 2
    severity: informational
  - name: by_name
    kind: sql
    sql: SELECT name, count(*) AS n FROM "Item" GROUP BY name ORDER BY name
"""


def in_process(*args: str, env: dict[str, str] | None = None) -> Result:
    """The same command in this process (faster; exit codes are tested with subprocesses)."""
    return CliRunner().invoke(app, ["gates", *args], env={"COLUMNS": "150", **(env or {})})


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "DQ_GATES_DB"}
    environment.update({"COLUMNS": "150", **(env or {})})
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, cwd=cwd, env=environment, timeout=60
    )


@pytest.fixture
def db(pg_schema_url: str) -> str:
    """A schema with table Item: 3 rows, one without a name."""
    target = parse_store_url(pg_schema_url)
    assert isinstance(target, PostgresTarget) and target.schema
    with psycopg.connect(target.conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(target.schema)))
        conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(target.schema)))
        conn.execute('CREATE TABLE "Item" (id int, name text)')
        conn.execute("""INSERT INTO "Item" VALUES (1, 'a'), (2, NULL), (3, 'a')""")
    return pg_schema_url


@pytest.fixture
def gates_file(tmp_path: Path) -> Path:
    path = tmp_path / "items.yaml"
    path.write_text(GATES)
    return path


def test_exit_codes(db: str, gates_file: Path, tmp_path: Path) -> None:
    # 0: every required gate passes (the informational row_count "fails": it never counts).
    ok = cli("run", str(gates_file), "--db", db, "--only", "ids_present,few_items",
             "--only", "by_name", cwd=tmp_path)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "PASS  ids_present" in ok.stdout and "INFO  few_items" in ok.stdout
    assert "Result: PASS" in ok.stdout

    # 1: a required gate fails.
    failing = cli("run", str(gates_file), "--db", db, "-v", cwd=tmp_path)
    assert failing.returncode == 1, failing.stderr
    assert "FAIL  names_present  1 violating row" in failing.stdout
    assert 'SQL: SELECT t.* FROM "Item" AS t WHERE t."name" IS NULL' in failing.stdout
    assert "Required gates not passing: names_present (FAIL, 1)" in failing.stdout

    # 1: a required gate errors (missing table), with DQ_GATES_DB instead of --db.
    broken = tmp_path / "broken.yaml"
    broken.write_text("gates:\n  - {name: gone, kind: row_count, table: Gone, min: 1}\n")
    errored = cli("run", str(broken), cwd=tmp_path, env={"DQ_GATES_DB": db})
    assert errored.returncode == 1
    assert (
        "ERROR gone  error" in errored.stdout and 'relation "Gone" does not exist' in errored.stdout
    )

    # 2: a bad file, naming it and the problem.
    bad = tmp_path / "bad.yaml"
    bad.write_text("gates:\n  - {name: x, kind: not_null, table: 'x; DROP TABLE y', column: c}\n")
    config = cli("run", str(bad), "--db", db, cwd=tmp_path)
    assert config.returncode == 2
    assert "bad.yaml: gates[0] (x): table:" in config.stderr and "plain SQL" in config.stderr

    # 2: nothing listens there.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    nowhere = f"postgresql://postgres@127.0.0.1:{port}/x?connect_timeout=2"
    refused = cli("run", str(gates_file), "--db", nowhere, cwd=tmp_path)
    assert refused.returncode == 2 and "cannot connect" in refused.stderr

    # 2: an unknown gate name, a bad timeout.
    unknown = cli("run", str(gates_file), "--db", db, "--only", "nope", cwd=tmp_path)
    assert unknown.returncode == 2 and "no gate named 'nope'" in unknown.stderr
    timeout = cli("run", str(gates_file), "--db", db, "--statement-timeout", "soon", cwd=tmp_path)
    assert timeout.returncode == 2 and "--statement-timeout" in timeout.stderr


def test_junit_and_json_reports(db: str, gates_file: Path, tmp_path: Path) -> None:
    report = tmp_path / "out" / "gates.xml"
    report.parent.mkdir()
    junit = cli("run", str(gates_file), "--db", db, "--format", "junit", "-o", str(report),
                cwd=tmp_path)  # fmt: skip
    assert junit.returncode == 1
    assert "FAIL  names_present" in junit.stdout  # the text report still goes to stdout
    root = ET.parse(report).getroot()
    assert (root.attrib["tests"], root.attrib["failures"], root.attrib["errors"]) == ("4", "1", "0")
    cases = {c.attrib["name"]: c for c in root.iter("testcase")}
    assert set(cases) == {"ids_present", "names_present", "few_items", "by_name"}
    failure = cases["names_present"].find("failure")
    assert failure is not None and failure.attrib["message"] == "1 violating row (required gate)"
    assert cases["few_items"].find("failure") is None
    by_name = cases["by_name"].find("system-out")
    assert by_name is not None and by_name.text is not None and "2 result rows" in by_name.text

    as_json = cli("run", str(gates_file), "--db", db, "--format", "json", cwd=tmp_path)
    assert as_json.returncode == 1
    doc = json.loads(as_json.stdout)  # stdout is the JSON document alone
    assert doc["passed"] is False and doc["failed_required"] == ["names_present"]
    statuses = {g["name"]: (g["status"], g["count"]) for g in doc["gates"]}
    assert statuses == {"ids_present": ("PASS", 0), "names_present": ("FAIL", 1),
                        "few_items": ("INFO", 1), "by_name": ("INFO", 2)}  # fmt: skip
    by_name_rows = next(g for g in doc["gates"] if g["name"] == "by_name")["samples"]
    assert by_name_rows == {"columns": ["name", "n"], "rows": [["a", 2], [None, 1]]}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_record_then_history(
    db: str,
    gates_file: Path,
    tmp_path: Path,
    backend: str,
    pg_schema_url_factory: Callable[[], str],
) -> None:
    history_db = (
        f"sqlite:///{tmp_path / 'history.db'}" if backend == "sqlite" else pg_schema_url_factory()
    )
    for only in ("ids_present", "names_present,ids_present"):
        done = in_process("run", str(gates_file), "--db", db, "--record", "--history-db",
                          history_db, "--only", only)  # fmt: skip
        assert done.exit_code in (0, 1), done.output
        assert "recorded" in done.output
    shown = in_process("history", "--history-db", history_db, "--format", "json")
    assert shown.exit_code == 0, shown.output
    gates = json.loads(shown.stdout)["gates"]
    assert [(e["status"], e["count"]) for e in gates["ids_present"]] == [("PASS", 0), ("PASS", 0)]
    assert [(e["status"], e["count"]) for e in gates["names_present"]] == [("FAIL", 1)]
    assert gates["names_present"][0]["suite"] == "items"

    table = in_process("history", "--history-db", history_db)
    assert (
        table.exit_code == 0 and "ids_present" in table.stdout and "names_present" in table.stdout
    )
    one = in_process("history", "--history-db", history_db, "--gate", "ids_present", "--limit", "1")
    assert one.exit_code == 0 and "Gate ids_present: last 1 run(s)" in one.stdout


def test_history_default_is_the_quarantine_store(db: str, gates_file: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    env = {"DQ_STORE_URL": f"sqlite:///{store}"}
    assert in_process("history", env=env).stdout.startswith("no recorded gate runs")
    in_process("run", str(gates_file), "--db", db, "--record", "--only", "ids_present", env=env)
    assert store.exists()
    assert "ids_present" in in_process("history", env=env).stdout


def test_the_crm_example(pg_schema_url: str, tmp_path: Path) -> None:
    """The example database and gate file: which gates fail, and with how many violations."""
    sys.path.insert(0, str(REPO / "examples" / "gates"))
    try:
        import build_crm_db
    finally:
        sys.path.pop(0)
    target = parse_store_url(pg_schema_url)
    assert isinstance(target, PostgresTarget) and target.schema
    counts = build_crm_db.build(target.conninfo, target.schema)
    assert counts == {"Customer": 501, "Lead": 1200, "Job": 600, "Conversation": 902,
                      "Message": 4001}  # fmt: skip
    build_crm_db.build(target.conninfo, target.schema)  # idempotent
    done = cli("run", str(REPO / "examples" / "gates" / "crm_backfill.yaml"), "--db",
               pg_schema_url, "--format", "json", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 1, done.stderr
    results = {g["name"]: (g["status"], g["count"]) for g in json.loads(done.stdout)["gates"]}
    assert results == {
        "lead_customer_not_null": ("FAIL", 3),
        "lead_customer_exists": ("FAIL", 2),
        "job_lead_exists": ("PASS", 0),
        "message_conversation_exists": ("PASS", 0),
        "one_open_conversation_per_lead": ("FAIL", 2),
        "unique_customer_email": ("FAIL", 1),
        "completed_jobs_have_amount": ("PASS", 0),
        "leads_exist": ("PASS", 0),
        "fresh_messages": ("PASS", 0),
        "message_role_known": ("FAIL", 2),
        "messages_by_role": ("INFO", 4),
    }


@pytest.mark.parametrize(
    "unsafe",
    [
        "COPY (SELECT 1) TO PROGRAM 'id > {marker}'",
        "SELECT 1; COPY (SELECT 1) TO '{marker}'",
        "SELECT * FROM /* x */ pg_catalog.\"pg_read_file\"('/etc/hostname')",
    ],
)
def test_a_file_holding_an_unsafe_gate_is_refused_whole_before_connecting(
    db: str, tmp_path: Path, unsafe: str
) -> None:
    """Whatever its severity, one unsafe gate makes `gates run` exit 2 before any gate runs:
    the safe gates of the same file do not run either, and nothing reaches the server."""
    marker = tmp_path / "ran"
    sql_text = unsafe.format(marker=marker).replace('"', '\\"')
    (tmp_path / "g.yaml").write_text(
        "gates:\n"
        "  - {name: fine, kind: sql, sql: SELECT 1 WHERE false}\n"
        f'  - {{name: evil, kind: sql, severity: informational, sql: "{sql_text}"}}\n'
    )
    with socket.socket() as sock:  # nothing listens here: a connection attempt would exit 1
        sock.bind(("127.0.0.1", 0))
        down = f"postgresql://postgres@127.0.0.1:{sock.getsockname()[1]}/test"
    for url in (down, db):
        done = cli("run", "g.yaml", "--db", url, cwd=tmp_path)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "gate 'evil'" in done.stderr and "fine" not in done.stdout
        assert not marker.exists()
