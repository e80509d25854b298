"""Crash test: SIGKILL ``dataquarantine load`` mid-run, ``--resume``: nothing lost or doubled."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.integration.postgres.load_db import make_load_db, write_contract

from dataquarantine.quarantine.service import Quarantine

ROWS = 30_000
BATCH = 250


@pytest.mark.slow
def test_kill_mid_run_then_resume_loses_and_doubles_nothing(
    pg_schema_url: str, tmp_path: Path
) -> None:
    db = make_load_db(pg_schema_url, customers=1_000, agents=20)
    # Every 25th row misses its customer, every 40th its agent (some miss both).
    rows = [
        (f"CL{i}", 5_000 + i if i % 25 == 0 else 1 + i % 1_000,
         100 + i if i % 40 == 0 else 1 + i % 20, i % 3_600, ("open", "pending", "resolved")[i % 3])
        for i in range(ROWS)
    ]  # fmt: skip
    db.stage(rows)
    orphans = {r[0] for r in rows if r[1] > 1_000 or r[2] > 20}
    contract = write_contract(tmp_path)
    store = f"sqlite:///{tmp_path / 'q.db'}"
    payloads = f"file://{tmp_path / 'payloads'}"
    command = [
        sys.executable, "-m", "dataquarantine.cli.app", "load", "--db", db.url,
        "--contract", str(contract), "--batch-size", str(BATCH), "--json",
        "--store", store, "--payloads", payloads,
    ]  # fmt: skip

    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    committed = 0
    while time.monotonic() < deadline and first.poll() is None:
        if db.scalar("SELECT to_regclass('dq_load_checkpoints')") is not None:
            committed = db.scalar("SELECT count(*) FROM dq_load_checkpoints")
        if committed >= 5:
            break
        time.sleep(0.02)
    assert first.poll() is None, "the load finished before it could be killed"
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    killed_at = db.scalar("SELECT count(*) FROM dq_load_checkpoints")
    total_batches = -(-ROWS // BATCH)
    assert 5 <= killed_at < total_batches
    assert db.scalar("SELECT bool_or(done) FROM dq_load_checkpoints") is False

    done = subprocess.run([*command, "--resume"], capture_output=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr.decode()
    summary = json.loads(done.stdout)
    assert summary["resumed"] is True
    assert summary["resumed_batches"] == killed_at
    assert summary["read"] == ROWS
    assert summary["quarantined"] == {
        "total": len(orphans),
        "by_code": {"fk_violation": len(orphans)},
    }
    assert summary["loaded"]["inserted"] == ROWS - len(orphans)
    assert summary["loaded"]["total"] + summary["quarantined"]["total"] == ROWS

    # The target holds exactly the valid rows, as staged; the quarantine exactly the orphans.
    target = dict(db.rows("SELECT call_log_key, duration_s FROM conformed_call_logs"))
    assert set(target) == {r[0] for r in rows} - orphans
    assert all(target[r[0]] == r[3] for r in rows if r[0] in target)
    keys = [r[0] for r in db.rows("SELECT source_key FROM data_quality_quarantine")]
    assert sorted(keys) == sorted(orphans)
    with Quarantine.open(store, payloads) as q:
        assert q.count() == len(orphans)

    # One run, contiguous batches, each read once.
    checkpoints = db.rows(
        "SELECT run_id, page_start, page_end, rows_read, done FROM dq_load_checkpoints"
        " ORDER BY batch_no"
    )
    assert len({c[0] for c in checkpoints}) == 1
    batches = [c for c in checkpoints if not c[4]]
    assert sum(c[3] for c in batches) == ROWS
    assert all(a[2] == b[1] for a, b in itertools.pairwise(batches))
    assert checkpoints[-1][4] is True
