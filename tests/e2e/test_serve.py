"""``dataquarantine serve`` as a user runs it: a real process on a loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DQ_STORE_URL": f"sqlite:///{tmp_path / 'dq.db'}",
        "DQ_PAYLOADS_URL": f"file://{tmp_path / 'payloads'}",
        "DQ_CONTRACTS_DIR": str(tmp_path / "contracts"),
    }
    env.pop("DQ_API_TOKEN", None)
    exe = Path(sys.executable).with_name("dataquarantine")
    proc = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not become ready"
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.1)
        assert httpx.get(f"{base}/api/v1/quarantine/records").json()["total"] == 0
        # No DQ_API_TOKEN: writes still need the generated token, printed at start.
        assert httpx.post(f"{base}/api/v1/quarantine/reprocess", json={}).status_code == 401
        assert httpx.get(f"{base}/docs").status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "DQ_API_TOKEN not set; this run's token:" in stderr
    token = stderr.split("this run's token: ")[1].split()[0]
    assert len(token) >= 32
