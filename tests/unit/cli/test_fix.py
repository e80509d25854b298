"""``dataquarantine fix``: preview, run, jobs, undo and rule with a YAML fix file (SQLite)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from dataquarantine.cli.app import app
from dataquarantine.cli.common import EXIT_OK, EXIT_USAGE
from dataquarantine.kernel.results import ContractRef
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.testing import make_item

USERS = {
    "name": "users",
    "version": "1.0.0",
    "schema": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"enum": ["active", "blocked"]}},
    },
}


@pytest.fixture
def env(tmp_path: Path) -> list[str]:
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / "users-1.0.0.yaml").write_text(yaml.safe_dump(USERS))
    store = f"sqlite:///{tmp_path / 'dq.db'}"
    payloads = f"file://{tmp_path / 'payloads'}"
    q = Quarantine.open(store, payloads)
    ref = ContractRef("users", "1.0.0")
    q.write(
        [
            make_item(b'{"status": "%s"}' % s, line=i, contract=ref)
            for i, s in enumerate([b"ACTIVE", b"Blocked", b"GONE"])
        ]
    )
    q.close()
    return ["--store", store, "--payloads", payloads, "--contracts", str(contracts)]


def _fix_file(tmp_path: Path, steps: list[dict[str, Any]], **more: Any) -> str:
    path = tmp_path / "fix.yaml"
    path.write_text(yaml.safe_dump({"filter": {"contract": "users"}, "steps": steps, **more}))
    return str(path)


LOWER = [{"set": "/status", "expr": "record.status.lowerAscii()"}]


def test_preview_run_jobs_undo(tmp_path: Path, env: list[str]) -> None:
    runner = CliRunner()
    fix = _fix_file(tmp_path, LOWER)
    preview = runner.invoke(app, ["fix", "preview", fix, "--json", *env])
    assert preview.exit_code == EXIT_OK, preview.output
    data = json.loads(preview.output)
    assert (data["total"], data["applies"]) == (3, 3)
    text = runner.invoke(app, ["fix", "preview", fix, *env])
    assert "change 3" in text.output and "'ACTIVE' -> 'active'" in text.output

    run = runner.invoke(app, ["fix", "run", fix, "--json", "--actor", "alice", *env])
    assert run.exit_code == EXIT_OK, run.output
    job = json.loads(run.output)
    assert job["counts"] == {"fixed_valid": 2, "fixed_invalid": 1}

    listed = runner.invoke(app, ["fix", "jobs", *env])
    assert job["id"] in listed.output

    undo = runner.invoke(app, ["fix", "undo", job["id"], "--json", *env])
    assert undo.exit_code == EXIT_OK, undo.output
    assert json.loads(undo.output)["counts"] == {"reverted": 3}


def test_a_bad_fix_file_exits_2_naming_the_step(tmp_path: Path, env: list[str]) -> None:
    fix = _fix_file(tmp_path, [*LOWER, {"op": "teleport", "path": "/a"}])
    result = CliRunner().invoke(app, ["fix", "run", fix, *env])
    assert result.exit_code == EXIT_USAGE
    assert "step 2" in result.output
    path = tmp_path / "bad.yaml"
    path.write_text("steps: [1]\nextra: 2\n")
    assert CliRunner().invoke(app, ["fix", "preview", str(path), *env]).exit_code == EXIT_USAGE


def test_rule_prints_the_next_version(tmp_path: Path, env: list[str]) -> None:
    fix = _fix_file(tmp_path, [{"action": "lowercase", "path": "/status"}])
    result = CliRunner().invoke(app, ["fix", "rule", fix, "--contract", "users", *env])
    assert result.exit_code == EXIT_OK, result.output
    document = yaml.safe_load(result.output)
    assert document["version"] == "1.1.0"
    assert document["remediation"] == [{"field": "/status", "action": "lowercase"}]
