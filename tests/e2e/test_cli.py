"""The CLI as a user runs it: a real subprocess, real SQLite store and payload folder."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "dataquarantine.cli.app"]

CONTRACT = """\
name: user_event
version: 1.0.0
schema:
  type: object
  required: [_schema, user_id, event_type]
  properties:
    _schema: {type: string}
    user_id: {type: string, pattern: "^USER[0-9]{6}$"}
    event_type: {enum: [click, purchase]}
    amount: {type: number}
rules:
  - id: purchase_needs_product
    expr: "record.event_type != 'purchase' || has(record.product_id)"
    message: purchase events must carry product_id
"""

LINES = [
    b'{"_schema":"user_event","user_id":"USER000001","event_type":"click"}\n',
    b'{"_schema":"user_event","user_id":"USER000002","event_type":"click",}\n',
    b'{"_schema":"user_event","user_id":"USER123456\\n","event_type":"click"}\r\n',
    b"\n",
    b'{"_schema":"user_event","user_id":"USER000004","event_type":"purchase"}\n',
    b'{"_schema":"nope","user_id":"USER000005","event_type":"click"}\n',
    b'{"_schema":"user_event",  "user_id":"USER000006", "event_type":"click"}\r\n',
    b'{"_schema":"user_event","user_id":"USER000007","event_type":"click","amount":"12"}',
]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts/user_event.yaml").write_text(CONTRACT)
    (tmp_path / "events.jsonl").write_bytes(b"".join(LINES))
    return tmp_path


def run(workspace: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DQ_")}
    env["DQ_CONTRACTS_DIR"] = str(workspace / "contracts")
    env.update(settings)
    env["COLUMNS"] = "200"
    return subprocess.run([*CLI, *args], cwd=workspace, env=env, capture_output=True, timeout=120)


def test_validate_quarantines_and_keeps_valid_lines_byte_for_byte(workspace: Path) -> None:
    proc = run(workspace, "validate", "events.jsonl", "--valid-out", "valid.jsonl", "--json")
    assert proc.returncode == 0, proc.stderr.decode()
    summary = json.loads(proc.stdout)
    assert summary["total"] == 7
    assert summary["valid"] == 2 and summary["quarantined"] == 5
    assert summary["reconciles"] is True
    assert summary["by_code"] == {
        "parse_error": 1,
        "rule_violation": 1,
        "schema_not_found": 1,
        "schema_violation": 2,
    }
    assert (workspace / "valid.jsonl").read_bytes() == LINES[0] + LINES[6]
    # the default embedded store was created in the working directory
    assert (workspace / ".dataquarantine/quarantine.db").is_file()


def test_quarantine_list_show_export(workspace: Path) -> None:
    assert run(workspace, "validate", "events.jsonl").returncode == 0
    listed = json.loads(run(workspace, "quarantine", "list", "--json").stdout)
    assert listed["total"] == 5 and len(listed["items"]) == 5
    listing = run(workspace, "quarantine", "list", "--code", "parse_error", "--json")
    by_code = json.loads(listing.stdout)
    assert by_code["total"] == 1
    (item,) = by_code["items"]
    assert item["source"]["kind"] == "file" and item["source"]["line"] == 2
    assert item["source"]["uri"].endswith("/events.jsonl")
    by_path = run(workspace, "quarantine", "list", "--path", "/user_id", "--json")
    assert [i["errors"][0]["path"] for i in json.loads(by_path.stdout)["items"]] == ["/user_id"]
    by_text = run(workspace, "quarantine", "list", "--search", "PRODUCT_ID", "--json")
    assert json.loads(by_text.stdout)["total"] == 1

    shown = run(workspace, "quarantine", "show", item["id"], "--json")
    assert shown.returncode == 0
    detail = json.loads(shown.stdout)
    assert base64.b64decode(detail["payload_b64"]) == LINES[1].rstrip(b"\n")
    assert "payload_json" not in detail  # it is not valid JSON

    human = run(workspace, "quarantine", "show", item["id"])
    assert human.returncode == 0 and b"parse_error" in human.stdout

    exported = run(workspace, "quarantine", "export", "--format", "jsonl", "-o", "q.jsonl")
    assert exported.returncode == 0, exported.stderr.decode()
    rows = [json.loads(line) for line in (workspace / "q.jsonl").read_text().splitlines()]
    assert len(rows) == 5
    originals = {base64.b64decode(r["payload_b64"]) for r in rows}
    assert originals == {LINES[i].rstrip(b"\r\n") for i in (1, 2, 4, 5, 7)}
    crlf = next(r for r in rows if r["source"]["line"] == 3)
    assert crlf["payload_json"]["user_id"] == "USER123456\n"
    assert crlf["errors"][0]["path"] == "/user_id"


def test_validating_twice_stores_each_record_once(workspace: Path) -> None:
    assert run(workspace, "validate", "events.jsonl").returncode == 0
    assert run(workspace, "validate", "events.jsonl").returncode == 0
    listed = json.loads(run(workspace, "quarantine", "list", "--json").stdout)
    assert listed["total"] == 5


def test_human_summary_table(workspace: Path) -> None:
    proc = run(workspace, "validate", "events.jsonl")
    out = proc.stdout.decode()
    assert proc.returncode == 0
    for needle in ("total", "valid", "quarantined", "schema_violation", "user_event@1.0.0"):
        assert needle in out


def test_exit_code_2_for_usage_and_contract_errors(workspace: Path) -> None:
    assert run(workspace, "validate", "missing.jsonl").returncode == 2
    assert run(workspace, "validate", "events.jsonl", "--contract", "nope").returncode == 2
    assert run(workspace, "validate").returncode == 2
    broken = "name: b\nversion: 1.0.0\nschema: {type: strin}\n"
    (workspace / "contracts/broken.yaml").write_text(broken)
    proc = run(workspace, "validate", "events.jsonl")
    assert proc.returncode == 2
    assert b"broken.yaml" in proc.stderr


def test_exit_code_1_for_runtime_failure(workspace: Path) -> None:
    (workspace / "blocker").write_text("a file where a folder should be")
    # A short retry window: the failure is what is tested, not the default window's length.
    proc = run(
        workspace,
        "validate",
        "events.jsonl",
        "--store",
        "sqlite:///blocker/sub/q.db",
        DQ_RETRY_SECONDS="1",
    )
    assert proc.returncode == 1, proc.stderr.decode()


def test_help_documents_exit_codes(workspace: Path) -> None:
    proc = run(workspace, "--help")
    assert proc.returncode == 0 and b"Exit codes" in proc.stdout


def test_demo_leaves_a_browsable_store(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DQ_")}
    env["COLUMNS"] = "200"

    def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [*CLI, *args], cwd=tmp_path, env=env, capture_output=True, timeout=120
        )

    proc = cli("demo", "--records", "2000")
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode()
    assert "Planted by the generator vs caught" in out
    planted = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if len(cells) == 3 and cells[0] in {"valid", "parse_error", "schema_violation"}:
            planted[cells[0]] = (cells[1], cells[2])
    assert planted and all(a == b for a, b in planted.values()), planted
    listed = json.loads(cli("quarantine", "list", "--json").stdout)
    assert listed["total"] > 0
    assert (tmp_path / ".dataquarantine/demo/valid.jsonl").is_file()


def _doubling_contract(levels: int = 30) -> str:
    defs = {"d0": {"type": "string"}}
    for i in range(1, levels + 1):
        prev = {"$ref": f"#/$defs/d{i - 1}"}
        defs[f"d{i}"] = {"allOf": [prev, prev]}
    schema = {"$defs": defs, "$ref": f"#/$defs/d{levels}"}
    return f"name: bomb\nversion: 1.0.0\nschema: {json.dumps(schema)}\n"


def test_contracts_check_refuses_a_schema_whose_cost_explodes(workspace: Path) -> None:
    assert run(workspace, "contracts", "check").returncode == 0
    (workspace / "contracts/bomb.yaml").write_text(_doubling_contract())
    proc = run(workspace, "contracts", "check")
    assert proc.returncode == 2
    assert b"bomb.yaml" in proc.stderr
    assert b"too costly to evaluate" in proc.stderr
    # validate refuses to start rather than dying on the first record
    assert run(workspace, "validate", "events.jsonl").returncode == 2


def test_contracts_check_refuses_a_yaml_alias_bomb(workspace: Path) -> None:
    lines = ['    l0: &l0 ["lol"]']
    for i in range(1, 10):
        lines.append(f"    l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    bomb = "name: laughs\nversion: 1.0.0\nschema:\n  $defs:\n" + "\n".join(lines) + "\n"
    (workspace / "contracts/laughs.yaml").write_text(bomb)
    proc = run(workspace, "contracts", "check")
    assert proc.returncode == 2
    assert b"laughs.yaml" in proc.stderr
    assert b"expands to more than" in proc.stderr


def test_a_record_with_many_violations_is_stored_with_100_and_a_summary(workspace: Path) -> None:
    contract = "name: wide\nversion: 1.0.0\nschema: {items: {type: string}}\n"
    (workspace / "contracts/wide.yaml").write_text(contract)
    (workspace / "wide.jsonl").write_text(json.dumps(list(range(250))) + "\n")
    proc = run(workspace, "validate", "wide.jsonl", "--contract", "wide", "--json")
    assert proc.returncode == 0, proc.stderr.decode()
    (item,) = json.loads(run(workspace, "quarantine", "list", "--json").stdout)["items"]
    detail = json.loads(run(workspace, "quarantine", "show", item["id"], "--json").stdout)
    errors = detail["errors"]
    assert len(errors) == 101
    assert errors[-1]["keyword"] == "truncated"
    assert errors[-1]["message"].startswith("150 more violation(s) not listed")
    human = run(workspace, "quarantine", "show", item["id"])
    assert b"150 more violation(s)" in human.stdout
