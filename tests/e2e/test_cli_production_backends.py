"""`dataquarantine validate` and `quarantine` against PostgreSQL metadata and S3 payloads."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.fixtures.s3 import S3Target

pytestmark = [pytest.mark.postgres, pytest.mark.s3]

CONTRACT = """\
name: order
version: 1.0.0
schema:
  type: object
  required: [id, total]
  properties:
    id: {type: integer}
    total: {type: number, minimum: 0}
"""


def test_validate_and_browse_on_postgres_and_s3(
    tmp_path: Path, pg_schema_url: str, s3_target: S3Target
) -> None:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts/order.yaml").write_text(CONTRACT)
    lines = [b'{"id": %d, "total": %d}\n' % (i, -1 if i % 10 == 0 else i) for i in range(1, 501)]
    lines.append(b"not json\n")
    (tmp_path / "orders.jsonl").write_bytes(b"".join(lines))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DQ_")}
    env |= {
        "DQ_CONTRACTS_DIR": str(tmp_path / "contracts"),
        "DQ_STORE_URL": pg_schema_url,
        "DQ_PAYLOADS_URL": s3_target.url,
    }

    def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "dataquarantine.cli.app", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            timeout=120,
        )

    proc = cli("validate", "orders.jsonl", "--contract", "order", "--json")
    assert proc.returncode == 0, proc.stderr.decode()
    summary = json.loads(proc.stdout)
    assert (summary["total"], summary["valid"], summary["quarantined"]) == (501, 450, 51)

    # One payload object for the whole batch, not one per record.
    client = s3_target.client()
    objects = client.list_objects_v2(Bucket=s3_target.bucket).get("Contents", [])
    assert len(objects) == 1

    listed = json.loads(cli("quarantine", "list", "--limit", "100", "--json").stdout)
    assert listed["total"] == 51
    parse = json.loads(cli("quarantine", "list", "--code", "parse_error", "--json").stdout)
    (item,) = parse["items"]
    shown = json.loads(cli("quarantine", "show", item["id"], "--json").stdout)
    assert base64.b64decode(shown["payload_b64"]) == b"not json"

    # Running again stores nothing twice.
    assert cli("validate", "orders.jsonl", "--contract", "order").returncode == 0
    assert json.loads(cli("quarantine", "list", "--json").stdout)["total"] == 51
