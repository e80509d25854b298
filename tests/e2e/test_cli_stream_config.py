"""``dataquarantine stream`` refuses a bad configuration with a clear message and exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR

CLI = [sys.executable, "-m", "dataquarantine.cli.app", "stream"]

# An address nothing listens on: a config error must be reported before any connection.
UNUSED = "127.0.0.1:1"


def run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DQ_")}
    clean["COLUMNS"] = "200"
    done = subprocess.run(
        [*CLI, *args],
        cwd=tmp_path,
        env={**clean, **(env or {})},
        capture_output=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stderr.decode(errors="replace")


def config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "stream.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


BASE = f"kafka_bootstrap_servers: '{UNUSED}'\ncontracts_dir: '{DEMO_CONTRACTS_DIR}'\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kafka_bootstrap_server: x\n", "unknown setting 'kafka_bootstrap_server'"),
        ("kafka_max_poll_records: many\n", "kafka_max_poll_records"),
        ("kafka_max_poll_records: 0\n", "kafka_max_poll_records"),
        ("prometheus_port: 70000\n", "prometheus_port"),
        ("kafka_raw_topic: ' , '\n", "at least one raw topic"),
        ("kafka_extra: {enable.auto.commit: true}\n", "enable.auto.commit"),
        ("kafka_producer_extra: {acks: '1'}\n", "acks"),
        ("kafka_extra: {no.such.property: 1}\n", "no.such.property"),
        ("topic_contracts: {raw-events: 'nope@1.0.0'}\n", "nope"),
        ("topic_contracts: {raw-events: 'x@'}\n", "NAME@VERSION"),
        ("kafka_raw_topic: [a\n", "invalid YAML"),
        ("- a\n- b\n", "mapping"),
        ("contracts_dir: /nonexistent/contracts\n", "does not exist"),
        ("store_url: 'nosuch://x'\n", "nosuch"),
    ],
)
def test_bad_config_exits_2_with_a_clear_message(tmp_path: Path, text: str, message: str) -> None:
    code, err = run(tmp_path, "--config", config(tmp_path, BASE + text))
    assert code == 2, err
    assert "error" in err and message in err, err
    assert "Traceback" not in err


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    code, err = run(tmp_path, "--config", str(tmp_path / "missing.yaml"))
    assert code == 2
    assert "missing.yaml" in err and "does not exist" in err


def test_bad_environment_variable_exits_2(tmp_path: Path) -> None:
    code, err = run(tmp_path, env={"DQ_KAFKA_MAX_POLL_RECORDS": "lots"})
    assert code == 2
    assert "kafka_max_poll_records" in err


def test_secrets_never_appear_in_errors(tmp_path: Path) -> None:
    text = BASE + "kafka_extra: {sasl.password: hunter2, bogus.prop: 1}\n"
    code, err = run(tmp_path, "--config", config(tmp_path, text))
    assert code == 2
    assert "hunter2" not in err
