"""Bulk fix at scale (issue 18), part of ``make bench-api``.

In a schema of its own (``dq_bench_fix``, dropped at the end), --records quarantined records
with real payloads are written through ``Quarantine.write`` (contract ``users``: the status has
the wrong case). ``dataquarantine serve`` runs in a subprocess, then:

* baseline: the same fix done record by record over the API, as a client would without bulk
  fixes: ``PATCH /quarantine/records/{id}`` with the corrected payload, then
  ``POST .../reprocess`` (one keep-alive connection; the client's own fix costs nothing). Timed
  on --sample records and extrapolated to the set, which the output says;
* the job: ``POST /api/v1/fixes`` (``reprocess: true``, ``confirm: true``) over the rest of
  the set, timed from its ``created_at`` to its ``finished_at``;
* while the job runs: the server's RSS sampled every 0.5 s with the job's progress (flat:
  no growth with the records processed), and the list endpoint under --clients closed-loop
  clients (p95 target < 100 ms).

Targets: job >= 50x the per-record baseline; RSS growth over the job < 50 MB; list p95 < 100 ms.

Usage: python bench/api/fix_bench.py [--db URL] [--records N] [--sample N] [--clients N]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import psycopg
from psycopg import sql

from dataquarantine.kernel.results import ContractRef, ErrorCode, Violation
from dataquarantine.quarantine.envelope import FileSource, QuarantineItem
from dataquarantine.quarantine.service import Quarantine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import TOKEN, run_load, start_server

SCHEMA = "dq_bench_fix"
RESULTS = Path(__file__).resolve().parent.parent / "results" / "api_fix.json"
DEFAULT_DB = os.environ.get("DQ_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
TARGET_SPEEDUP = 50.0
TARGET_P95_MS = 100.0
TARGET_RSS_GROWTH_MB = 50.0
USERS = """\
name: users
version: 1.0.0
schema:
  type: object
  required: [id, status]
  properties:
    id: {type: string}
    status: {enum: [active, blocked]}
    phone: {type: string}
"""
STEPS = [{"set": "/status", "expr": "record.status.lowerAscii()"}]
ERROR = Violation(
    ErrorCode.SCHEMA_VIOLATION, "/status", '"ACTIVE" is not one of "active" or "blocked"'
)


def seed(store_url: str, payloads_url: str, records: int) -> float:
    started = time.perf_counter()
    ref = ContractRef("users", "1.0.0")
    with Quarantine.open(store_url, payloads_url) as quarantine:
        for start in range(0, records, 5_000):
            items = [
                QuarantineItem(
                    FileSource("users.jsonl", i + 1),
                    json.dumps(
                        {
                            "id": f"u{i}",
                            "status": "ACTIVE" if i % 3 else "BLOCKED",
                            "phone": "+33612345678",
                        }
                    ).encode(),
                    (ERROR,),
                    ref,
                    run_id="bench-fix",
                )
                for i in range(start, min(records, start + 5_000))
            ]
            quarantine.write(items)
    return time.perf_counter() - started


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def baseline(base: str, sample: int) -> dict[str, Any]:
    """PATCH + reprocess per record over the API, on ``sample`` records."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        page = client.get(
            "/api/v1/quarantine/records",
            params={"schema_name": "users", "status": "quarantined", "page_size": sample},
        ).json()["items"]
        bodies = []
        for item in page:  # what the client would send (fetched beforehand, not timed)
            payload = client.get(f"/api/v1/quarantine/records/{item['id']}").json()
            original = payload["original"]["json"]
            bodies.append((item["id"], {**original, "status": original["status"].lower()}))
        started = time.perf_counter()
        for rid, fixed in bodies:
            assert (
                client.patch(
                    f"/api/v1/quarantine/records/{rid}", json={"payload": fixed}
                ).status_code
                == 200
            )
            assert client.post(f"/api/v1/quarantine/records/{rid}/reprocess").status_code == 200
        seconds = time.perf_counter() - started
    return {
        "records": len(bodies),
        "seconds": seconds,
        "per_record_ms": seconds * 1000 / len(bodies),
    }


def run_job(pid: int, base: str, clients: int, load_seconds: float) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    samples: list[tuple[float, int, float]] = []
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        rss_before = rss_mb(pid)
        body = {"steps": STEPS, "schema_name": "users", "reprocess": True, "confirm": True}
        job = client.post("/api/v1/fixes", json=body).json()
        load: dict[str, Any] = {}
        path = "/api/v1/quarantine/records?" + urlencode({"schema_name": "users", "page_size": 50})
        thread = threading.Thread(
            target=lambda: load.update(run_load(base, path, clients, load_seconds)), daemon=True
        )
        thread.start()
        started = time.perf_counter()
        while True:
            job = client.get(f"/api/v1/fixes/{job['id']}").json()
            samples.append((time.perf_counter() - started, job["processed"], rss_mb(pid)))
            if job["state"] not in ("queued", "running"):
                break
            time.sleep(0.5)
        load_ran_while_running = samples[-1][0] >= load_seconds
        thread.join()
    seconds = (
        datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["created_at"])
    ).total_seconds()
    peak = max(s[2] for s in samples)
    return {
        "job": {k: job[k] for k in ("state", "total", "processed", "counts")},
        "seconds": seconds,
        "per_record_ms": seconds * 1000 / max(1, job["total"]),
        "rss_before_mb": rss_before,
        "rss_peak_mb": peak,
        "rss_growth_mb": peak - rss_before,
        "rss_samples": samples[:: max(1, len(samples) // 20)],
        "list_under_load": load,
        "list_load_within_job": load_ran_while_running,
    }


def bench(db: str, records: int, sample: int, clients: int, load_seconds: float) -> dict[str, Any]:
    store_url = f"{db}{'&' if '?' in db else '?'}schema={SCHEMA}"
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "contracts").mkdir()
        (workdir / "contracts" / "users.yaml").write_text(USERS)
        payloads_url = f"file://{workdir / 'payloads'}"
        print(f"bulk fix: writing {records:,} quarantined records ...", flush=True)
        seeded = seed(store_url, payloads_url, records)
        print(f"written in {seeded:.1f} s", flush=True)
        proc, base = start_server(store_url, workdir)
        try:
            before = baseline(base, sample)
            print(
                f"baseline: {before['per_record_ms']:.1f} ms per record (PATCH + reprocess)",
                flush=True,
            )
            job = run_job(proc.pid, base, clients, load_seconds)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
    speedup = before["per_record_ms"] / job["per_record_ms"]
    p95 = job["list_under_load"].get("p95_ms", float("nan"))
    result = {
        "records": records,
        "seed_seconds": seeded,
        "baseline": {**before, "extrapolated_seconds": before["per_record_ms"] * records / 1000},
        "job": job,
        "speedup": speedup,
        "targets": {
            "speedup >= 50": speedup >= TARGET_SPEEDUP,
            "rss growth < 50 MB": job["rss_growth_mb"] < TARGET_RSS_GROWTH_MB,
            "list p95 < 100 ms": p95 < TARGET_P95_MS,
        },
    }
    print(
        f"bulk fix of {job['job']['total']:,} records (reprocess on): {job['seconds']:.1f} s,"
        f" {job['per_record_ms']:.2f} ms per record; baseline {before['per_record_ms']:.1f} ms"
        f" per record (extrapolated {result['baseline']['extrapolated_seconds']:.0f} s for"
        f" {records:,}, from {before['records']}): {speedup:.1f}x (target >= {TARGET_SPEEDUP:.0f}x)"
    )
    print(
        f"server RSS {job['rss_before_mb']:.0f} MB before, {job['rss_peak_mb']:.0f} MB peak"
        f" (growth {job['rss_growth_mb']:.0f} MB); list p95 under {clients} clients while the"
        f" job ran: {p95:.1f} ms (load inside the job: {job['list_load_within_job']})"
    )
    for name, ok in result["targets"].items():
        print(f"  {name}: {'met' if ok else 'MISSED'}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--load-seconds", type=float, default=10.0)
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args()
    result = bench(args.db, args.records, args.sample, args.clients, args.load_seconds)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=str))
    return 1 if args.strict and not all(result["targets"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
