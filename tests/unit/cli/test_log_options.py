"""Every command logs through one setup: --log-format / --log-level before the command, or
DQ_LOG_FORMAT / DQ_LOG_LEVEL; each line names the command and its run id."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dataquarantine.cli.app import app
from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR, write_jsonl
from dataquarantine.infra.logs import CONTEXT_FIELDS, bind


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    bind(**dict.fromkeys(CONTEXT_FIELDS))


def lines(text: str) -> list[dict[str, str]]:
    return [json.loads(x) for x in text.splitlines() if x.startswith("{")]


def test_validate_logs_json_lines_with_its_run_id(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    write_jsonl(events, 200)
    result = CliRunner().invoke(
        app,
        ["--log-format", "json", "--log-level", "info", "validate", str(events),
         "--contracts", str(DEMO_CONTRACTS_DIR), "--store", f"sqlite:///{tmp_path / 'q.db'}",
         "--payloads", f"file://{tmp_path / 'p'}", "--json"],
        env={"DQ_LOG_FORMAT": None, "DQ_LOG_LEVEL": None},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run_id = json.loads(result.stdout)["run_id"]
    logged = lines(result.stderr)
    assert logged, result.stderr  # the store's migrations, at info
    assert {(x["command"], x["run_id"]) for x in logged} == {("validate", run_id)}


def test_the_environment_and_sub_commands(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["quarantine", "list", "--store", f"sqlite:///{tmp_path / 'q.db'}",
         "--payloads", f"file://{tmp_path / 'p'}", "--json"],
        env={"DQ_LOG_FORMAT": "json", "DQ_LOG_LEVEL": "info"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    logged = lines(result.stderr)
    assert logged and {x["command"] for x in logged} == {"quarantine list"}


def test_batch_commands_are_quiet_by_default(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["quarantine", "list", "--store", f"sqlite:///{tmp_path / 'q.db'}",
         "--payloads", f"file://{tmp_path / 'p'}", "--json"],
        env={"DQ_LOG_FORMAT": "json", "DQ_LOG_LEVEL": None},
    )  # fmt: skip
    assert result.exit_code == 0 and result.stderr == ""


def test_a_bad_value_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["--log-format", "xml", "contracts", "list"])
    assert result.exit_code == 2
    assert "xml" in result.stderr
