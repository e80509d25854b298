"""``dataquarantine validate`` with a contract's ``remediation:`` section: the double pass as a
user sees it (real subprocess, SQLite store, payload folder)."""

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
name: customer
version: 1.0.0
phone_region: FR
schema:
  type: object
  required: [_schema, email, phone, signed_up_at]
  properties:
    _schema: {type: string}
    email: {type: string, pattern: "^[a-z0-9.]+@[a-z0-9.]+$"}
    phone: {type: string, pattern: "^\\\\+[0-9]{8,15}$"}
    signed_up_at: {type: string, format: date-time}
remediation:
  - {field: email, action: trim}
  - {field: email, action: lowercase}
  - {field: phone, action: e164_phone}
  - {field: signed_up_at, action: iso_timestamp}
"""

GOOD = (
    b'{"_schema":"customer","email":"ann@x.fr","phone":"+33123456789",'
    b'"signed_up_at":"2024-05-01T10:00:00Z"}'
)
FIXABLE = (
    b'{"_schema":"customer","email":" Bob@X.FR","phone":"01 23 45 67 89",'
    b'"signed_up_at":"01/05/2024 10:00"}'
)
HOPELESS = (
    b'{"_schema":"customer","email":"bob@x.fr","phone":"?","signed_up_at":"2024-05-01T10:00:00Z"}'
)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts/customer.yaml").write_text(CONTRACT)
    (tmp_path / "in.jsonl").write_bytes(b"\n".join([GOOD, FIXABLE, HOPELESS]) + b"\n")
    return tmp_path


def run(workspace: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DQ_")}
    env["DQ_CONTRACTS_DIR"] = str(workspace / "contracts")
    env["COLUMNS"] = "200"
    return subprocess.run([*CLI, *args], cwd=workspace, env=env, capture_output=True, timeout=120)


def test_a_remediated_record_goes_to_the_valid_output_and_its_original_to_the_quarantine(
    workspace: Path,
) -> None:
    proc = run(workspace, "validate", "in.jsonl", "--valid-out", "valid.jsonl", "--json")
    assert proc.returncode == 0, proc.stderr.decode()
    summary = json.loads(proc.stdout)
    assert (summary["total"], summary["valid"], summary["quarantined"]) == (3, 2, 1)
    assert summary["remediated"] == 1 and summary["reconciles"] is True
    assert summary["remediation"]["records"] == {
        "remediated": 1,
        "still_invalid": 0,
        "unchanged": 1,
    }
    assert summary["remediation"]["actions"]["e164_phone"] == {"applied": 1, "failed": 1}
    assert summary["by_contract"]["customer@1.0.0"]["remediated"] == 1

    good, fixed = (workspace / "valid.jsonl").read_bytes().splitlines()
    assert good == GOOD
    assert json.loads(fixed) == {
        "_schema": "customer",
        "email": "bob@x.fr",
        "phone": "+33123456789",
        "signed_up_at": "2024-05-01T10:00:00Z",
    }

    listed = json.loads(run(workspace, "quarantine", "list", "--json").stdout)
    assert listed["total"] == 2
    by_status = {item["status"]: item for item in listed["items"]}
    assert set(by_status) == {"remediated", "quarantined"}
    shown = json.loads(
        run(workspace, "quarantine", "show", by_status["remediated"]["id"], "--json").stdout
    )
    assert base64.b64decode(shown["payload_b64"]) == FIXABLE  # the original, byte for byte

    again = run(workspace, "validate", "in.jsonl", "--no-remediate", "--json")
    assert json.loads(again.stdout)["remediated"] == 0


def test_the_human_summary_shows_the_double_pass(workspace: Path) -> None:
    proc = run(workspace, "validate", "in.jsonl")
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()
    for needle in ("of which remediated", "Remediation (double pass)", "e164_phone"):
        assert needle in out


def test_a_parquet_record_with_a_timestamp_column_is_remediated(workspace: Path) -> None:
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    signed_up = dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)
    table = pa.table(
        {
            "_schema": ["customer", "customer"],
            "email": ["ann@x.fr", " Bob@X.FR"],
            "phone": ["+33123456789", "+33123456780"],
            "signed_up_at": pa.array([signed_up, signed_up], pa.timestamp("us", tz="UTC")),
        }
    )
    pq.write_table(table, workspace / "in.parquet")
    proc = run(workspace, "validate", "in.parquet", "--valid-out", "valid.parquet", "--json")
    assert proc.returncode == 0, proc.stderr.decode()
    summary = json.loads(proc.stdout)
    assert (summary["valid"], summary["remediated"], summary["quarantined"]) == (2, 1, 0)
    out = pq.read_table(workspace / "valid.parquet")
    assert out.schema == table.schema
    assert out.column("email").to_pylist() == ["ann@x.fr", "bob@x.fr"]
    assert out.column("signed_up_at").to_pylist() == [signed_up, signed_up]
