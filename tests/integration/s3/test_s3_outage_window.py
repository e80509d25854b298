"""An S3 outage of a few seconds is ridden out (with a log line per retry) within the retry
window ``DQ_RETRY_SECONDS``; a longer one fails the run with exit code 1."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tests.fixtures.s3 import MotoServer, PortCut, S3Target, create_bucket

from dataquarantine.infra.retry import RetryPolicy
from dataquarantine.quarantine.payloads.s3 import S3PayloadStore
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.testing import InMemoryQuarantineStore, make_item

pytestmark = pytest.mark.s3

OUTAGE = 4.5
CLI = [sys.executable, "-m", "dataquarantine.cli.app"]
CONTRACT = "name: row\nversion: 1.0.0\nschema:\n  type: object\n  required: [id]\n"


@pytest.fixture
def relay(moto_server: MotoServer, s3_target: S3Target) -> PortCut:
    cut = PortCut(moto_server.port)
    yield cut
    cut.cut()


def restore_later(relay: PortCut, seconds: float) -> threading.Thread:
    timer = threading.Timer(seconds, relay.restore)
    timer.start()
    return timer


def test_a_write_rides_out_a_short_outage(
    relay: PortCut, s3_target: S3Target, caplog: pytest.LogCaptureFixture
) -> None:
    store = S3PayloadStore(s3_target.bucket, "p", endpoint_url=relay.endpoint_url)
    quarantine = Quarantine(InMemoryQuarantineStore(), store, retry=RetryPolicy.for_window(30))
    items = [make_item(f"record {i}".encode(), line=i) for i in range(50)]
    assert quarantine.write(items[:10]).inserted == 10
    relay.cut()
    timer = restore_later(relay, OUTAGE)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="dataquarantine.retry"):
        report = quarantine.write(items[10:])
    timer.join()
    assert time.monotonic() - started >= OUTAGE - 0.5
    assert report.inserted == 40
    retries = [r for r in caplog.records if r.name == "dataquarantine.retry"]
    assert len(retries) >= 2
    assert all("retry" in r.getMessage() and "put payload chunk" in r.getMessage() for r in retries)
    for record_id, item in zip(report.ids, items[10:], strict=True):
        record = quarantine.get(record_id)
        assert record is not None and quarantine.payload(record) == item.payload
    store.close()


def cli(ws: Path, relay: PortCut, bucket: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DQ_")}
    environ.update(
        DQ_CONTRACTS_DIR=str(ws / "contracts"),
        DQ_PAYLOADS_URL=f"s3://{bucket}/dq",
        AWS_ENDPOINT_URL=relay.endpoint_url,
        **env,
    )
    return subprocess.Popen(
        [*CLI, *args], cwd=ws, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts/row.yaml").write_text(CONTRACT)
    lines = [b'{"id":%d}\n' % i if i % 3 else b'{"no_id":%d}\n' % i for i in range(3000)]
    (tmp_path / "in.jsonl").write_bytes(b"".join(lines))
    return tmp_path


def test_validate_succeeds_across_a_four_second_outage(
    ws: Path, relay: PortCut, s3_target: S3Target
) -> None:
    relay.cut()
    proc = cli(ws, relay, s3_target.bucket, "validate", "in.jsonl", "--contract", "row", "--json")
    timer = restore_later(relay, OUTAGE)
    out, err = proc.communicate(timeout=120)
    timer.join()
    assert proc.returncode == 0, err.decode()
    summary = json.loads(out)
    assert summary["quarantined"] == 1000 and summary["reconciles"]
    assert err.decode().count("retry") >= 2  # one log line per retry
    export = cli(ws, relay, s3_target.bucket, "quarantine", "export")
    rows, _ = export.communicate(timeout=120)
    assert export.returncode == 0
    payloads = sorted(json.loads(line)["payload_json"]["no_id"] for line in rows.splitlines())
    assert payloads == list(range(0, 3000, 3))


def test_an_outage_longer_than_the_window_fails_the_run(
    ws: Path, relay: PortCut, s3_target: S3Target
) -> None:
    relay.cut()
    started = time.monotonic()
    proc = cli(
        ws, relay, s3_target.bucket, "validate", "in.jsonl", "--contract", "row",
        "--valid-out", "valid.jsonl", DQ_RETRY_SECONDS="2",
    )  # fmt: skip
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err.decode()
    assert time.monotonic() - started < 30
    assert b"put payload chunk" in err
    assert not (ws / "valid.jsonl").exists()  # nothing claimed
    relay.restore()


def test_a_bad_retry_window_is_a_usage_error(ws: Path, relay: PortCut, s3_target: S3Target) -> None:
    proc = cli(ws, relay, s3_target.bucket, "validate", "in.jsonl", DQ_RETRY_SECONDS="0")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert b"DQ_RETRY_SECONDS" in err and b"Traceback" not in err


def test_the_bucket_survives_the_cut(relay: PortCut, s3_target: S3Target) -> None:
    create_bucket(relay.endpoint_url, "via-relay")
    relay.cut()
    relay.restore()
    client = S3PayloadStore("via-relay", endpoint_url=relay.endpoint_url)
    client.check()
    client.close()
