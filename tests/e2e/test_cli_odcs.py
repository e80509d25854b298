"""``contracts import`` and ``contracts export --format odcs`` as a user runs them, and
``datacontract lint`` (datacontract-cli, in ``.venv-datacontract``) on what the export wrote."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tests.conformance.test_odcs_suite import ODCS, ROOT

CLI = [sys.executable, "-m", "dataquarantine.cli.app"]
REPO = Path(__file__).resolve().parents[2]
DATACONTRACT = REPO / ".venv-datacontract" / "bin" / "datacontract"

ORDERS = """\
apiVersion: v3.1.0
kind: DataContract
id: orders
version: 1.0.0
status: active
servers:
  - server: prod
    type: postgres
schema:
  - name: orders
    properties:
      - name: order_id
        logicalType: string
        required: true
        unique: true
      - name: status
        logicalType: string
        quality:
          - metric: invalidValues
            mustBe: 0
            arguments: {validValues: [new, paid]}
"""


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DQ_LOG_FORMAT": "text"}
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_import_writes_contracts_and_gates_and_warns_about_the_rest(tmp_path: Path) -> None:
    (tmp_path / "orders.odcs.yaml").write_text(ORDERS)
    done = _run("contracts", "import", "orders.odcs.yaml", "--contracts", "c", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "/servers: top-level field 'servers' is not mapped" in done.stderr
    spec = yaml.safe_load((tmp_path / "c" / "orders@1.0.0.yaml").read_text())
    assert spec["version"] == "1.0.0"
    assert [r["id"] for r in spec["rules"]] == ["status.invalidValues"]
    gates = yaml.safe_load((tmp_path / "orders.gates.yaml").read_text())
    assert [g["kind"] for g in gates["gates"]] == ["unique"]
    records = tmp_path / "in.jsonl"
    records.write_text('{"order_id": "1", "status": "new"}\n{"order_id": "2", "status": "x"}\n')
    done = _run(
        "validate",
        "in.jsonl",
        "--contract",
        "orders",
        "--contracts",
        "c",
        "--json",
        "--store",
        "sqlite:///q.db",
        "--payloads",
        "file://p",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["valid"], summary["quarantined"]) == (1, 1)
    again = _run("contracts", "import", "orders.odcs.yaml", "--contracts", "c", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr
    # All or nothing: an existing gates file keeps the contracts from being written too.
    (tmp_path / "c" / "orders@1.0.0.yaml").unlink()
    again = _run("contracts", "import", "orders.odcs.yaml", "--contracts", "c", cwd=tmp_path)
    assert again.returncode == 2 and "orders.gates.yaml exists" in again.stderr
    assert not (tmp_path / "c" / "orders@1.0.0.yaml").exists()
    forced = _run("contracts", "import", "orders.odcs.yaml", "--contracts", "c", "--force",
                  cwd=tmp_path)  # fmt: skip
    assert forced.returncode == 0, forced.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: [", "invalid YAML"),
        ("kind: DataContract\napiVersion: v3.1.0\n", "no schema objects"),
        ("just: a mapping\n", "not an ODCS v3 document"),
    ],
)
def test_a_malformed_document_exits_2_and_writes_nothing(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "bad.odcs.yaml").write_text(text)
    done = _run("contracts", "import", "bad.odcs.yaml", "--contracts", "c", cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert not (tmp_path / "c").exists()


def _datacontract() -> Path:
    """``.venv-datacontract``, built by ``make datacontract-tools`` when missing; a build that
    fails skips the test, and fails it under CI."""
    if not DATACONTRACT.exists() and shutil.which("make"):
        subprocess.run(
            ["make", "-s", "datacontract-tools"], cwd=REPO, capture_output=True, timeout=1800
        )
    if not DATACONTRACT.exists():
        message = "datacontract-cli could not be installed (make datacontract-tools)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return DATACONTRACT


def test_datacontract_lint_accepts_the_exports(tmp_path: Path) -> None:
    if ROOT is None:
        ODCS.missing()
    assert ROOT is not None
    tool = _datacontract()
    folder = tmp_path / "contracts"
    for example in ("all/full-example", "quality/column-validity", "data-types/all-data-types"):
        source = ROOT / "docs" / "examples" / f"{example}.odcs.yaml"
        done = _run(
            "contracts",
            "import",
            str(source),
            "--contracts",
            str(folder),
            "--gates-out",
            str(tmp_path / f"{example.replace('/', '_')}.gates.yaml"),
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
    done = _run(
        "contracts",
        "export",
        "--format",
        "odcs",
        "--contracts",
        "contracts",
        "--out",
        "odcs",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    exported = sorted((tmp_path / "odcs").glob("*.odcs.yaml"))
    assert len(exported) == 4
    for path in exported:
        lint = subprocess.run(
            [str(tool), "lint", str(path)], capture_output=True, text=True, timeout=300
        )
        assert lint.returncode == 0, f"{path.name}: {lint.stdout}{lint.stderr}"
        assert "valid against ODCS v3.1.0" in lint.stdout
