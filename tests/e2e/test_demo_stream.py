"""``dataquarantine demo --stream``: the Kafka path on the embedded broker, reconciled."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.fixtures.kafka import service_unavailable

from dataquarantine.errors import ConfigError
from dataquarantine.stream.embedded import broker_binary

pytestmark = pytest.mark.kafka

RECONCILIATION = re.compile(
    r"Reconciliation: raw-events ([\d,]+) = validated-events ([\d,]+) \+ quarantine-dlq "
    r"([\d,]+) \(missing ([\d,]+), duplicates ([\d,]+)\); quarantine store ([\d,]+) = DLQ "
    r"([\d,]+) distinct: (\w+)"
)


@pytest.fixture(autouse=True)
def _broker_available() -> None:
    try:
        broker_binary()
    except ConfigError as exc:
        service_unavailable(str(exc))


def number(text: str) -> int:
    return int(text.replace(",", ""))


def test_the_cli_demo_reconciles(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DQ_")}
    env["COLUMNS"] = "200"
    proc = subprocess.run(
        [sys.executable, "-m", "dataquarantine.cli.app", "demo", "--stream", "--records", "600"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=180,
    )
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    found = RECONCILIATION.search(out)
    assert found, out
    raw, valid, dlq, missing, duplicates, stored, distinct, verdict = found.groups()
    assert number(raw) == 600
    assert number(valid) + number(dlq) == 600
    assert 0 < number(dlq) < 100
    assert (number(missing), number(duplicates)) == (0, 0)
    assert number(stored) == number(distinct) == number(dlq)
    assert verdict == "ok"
    assert '"validation_error"' in out and "dq.quarantine.id=" in out
    assert (tmp_path / ".dataquarantine/demo-stream/quarantine.db").is_file()


def test_every_planted_failure_lands_in_the_dlq_and_the_store(tmp_path: Path) -> None:
    from dataquarantine.cli.demo_stream import run_stream_demo

    result = run_stream_demo(records=1000, workdir=tmp_path, seed=7)

    assert result.reconciles
    assert result.produced == 1000
    assert (result.missing, result.duplicates) == (0, 0)
    planted_bad = {k: v for k, v in result.planted.items() if k != "valid"}
    assert dict(result.dlq_codes) == planted_bad
    assert dict(result.stored) == planted_bad
    assert result.valid_topic == result.planted["valid"]
    assert result.sample is not None
    assert result.sample["source_topic"] == "raw-events"
