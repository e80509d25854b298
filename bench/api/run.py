"""Review API list endpoint under load: 1,000,000 quarantined records in PostgreSQL.

Loads --records rows straight into the store's tables with COPY (in its own schema, dropped at
the end unless --keep), VACUUM ANALYZEs, prints the EXPLAIN of every benchmarked filter's page
and count queries, then starts ``dataquarantine serve`` in a subprocess and drives it from a
separate load process (asyncio, a minimal keep-alive HTTP/1.1 client; --clients concurrent
closed-loop clients over loopback) for --duration seconds per scenario. Each scenario is one
filtered list request (``page_size=50``, true total included).

Baseline measured in the same run: ``GET /health`` under the same load (the HTTP + framework
floor), and each filter's page + count queries run directly on the store (no HTTP). The
server's CPU time per request (from /proc) shows what the single uvicorn process spends.
Target: p95 < 100 ms for every filtered scenario.

Usage: python bench/api/run.py [--db URL] [--records N] [--clients N] [--duration S] [--keep]
       [--fix-records N]  (then the bulk fix measurement of fix_bench.py; 0 skips it)
Results: a table on stdout and bench/results/api.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
import psycopg
from psycopg import sql

from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.results import ErrorCode
from dataquarantine.quarantine.envelope import QuarantineFilter
from dataquarantine.quarantine.sql import open_store
from dataquarantine.quarantine.sql.postgres import PostgresQuarantineStore

BENCH_DIR = Path(__file__).resolve().parent.parent
RESULTS = BENCH_DIR / "results" / "api.json"
DEFAULT_DB = os.environ.get("DQ_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = "dq_bench_api"
TARGET_P95_MS = 100.0
TOKEN = "bench-token"

CONTRACTS = ("orders", "payments", "clicks", "users", "shipments")
TOPICS = tuple(f"{c}-raw" for c in CONTRACTS)
CODES = (
    (ErrorCode.SCHEMA_VIOLATION, 60),
    (ErrorCode.RULE_VIOLATION, 20),
    (ErrorCode.PARSE_ERROR, 10),
    (ErrorCode.FK_VIOLATION, 6),
    (ErrorCode.SCHEMA_NOT_FOUND, 3),
    (ErrorCode.SYSTEM_ERROR, 1),
)
STATUSES = (
    (Status.QUARANTINED, 80),
    (Status.REMEDIATED, 8),
    (Status.REPROCESSED, 5),
    (Status.RESOLVED, 4),
    (Status.DISCARDED, 2),
    (Status.DEAD, 1),
)
FIELDS = ("/amount", "/email", "/user_id", "/ts", "/country", "/items/0/price")
DAYS = 30


def _weighted(pairs: tuple[tuple[Any, int], ...]) -> list[Any]:
    return [value for value, weight in pairs for _ in range(weight)]


# -- data ------------------------------------------------------------------------------------------


def _copy_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def load(url: str, records: int, now: datetime) -> float:
    """COPY ``records`` rows (and their code rows) into the migrated schema; seconds taken."""
    rng = random.Random(7)
    codes = _weighted(CODES)
    statuses = _weighted(STATUSES)
    started = time.perf_counter()
    span = DAYS * 86_400_000_000
    start_us = int((now - timedelta(days=DAYS)).timestamp() * 1_000_000)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(SCHEMA)))
        # The rows are consistent by construction: skip the per-row foreign-key triggers of
        # the code rows (they make the load minutes longer). Needs a superuser, else ignored.
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("SET session_replication_role = replica")
        with conn.cursor() as cur:
            code_rows: list[str] = []
            with cur.copy(
                "COPY dq_quarantine (id, dedup_key, contract, contract_version, source_kind,"
                " source_name, source, error_code, errors, status, attempts, quarantined_at,"
                " run_id, payload_key, payload_offset, payload_length, payload_sha256,"
                " updated_at) FROM STDIN"
            ) as copy:
                buf: list[str] = []
                for i in range(records):
                    k = rng.randrange(len(CONTRACTS))
                    code = codes[rng.randrange(len(codes))]
                    n_errors = 1 + (rng.random() < 0.3)
                    errs = [
                        {
                            "code": code.value if j == 0 else ErrorCode.RULE_VIOLATION.value,
                            "path": FIELDS[rng.randrange(len(FIELDS))],
                            "message": f"value {rng.randrange(10_000)} is not valid ({code.value})",
                        }
                        for j in range(n_errors)
                    ]
                    rid = uuid.UUID(int=rng.getrandbits(128), version=4)
                    at = datetime.fromtimestamp(
                        (start_us + rng.randrange(span)) / 1_000_000, tz=UTC
                    ).isoformat()
                    topic = TOPICS[k]
                    source = orjson.dumps(
                        {"kind": "kafka", "topic": topic, "partition": i % 8, "offset": i}
                    ).decode()
                    buf.append(
                        "\t".join(
                            (
                                str(rid),
                                f"kafka:{topic}:{i % 8}:{i}#{i:064x}",
                                CONTRACTS[k],
                                "1.0.0",
                                "kafka",
                                topic,
                                _copy_text(source),
                                code.value,
                                _copy_text(orjson.dumps(errs).decode()),
                                statuses[rng.randrange(len(statuses))].value,
                                "0",
                                at,
                                f"run-{i // 10_000}",
                                "chunks/bench",
                                str(i * 100),
                                "100",
                                f"{i:064x}",
                                at,
                            )
                        )
                    )
                    for c in {code.value, *(e["code"] for e in errs)}:
                        code_rows.append(f"{rid}\t{c}")
                    if len(buf) >= 20_000:
                        copy.write("\n".join(buf) + "\n")
                        buf.clear()
                if buf:
                    copy.write("\n".join(buf) + "\n")
            with cur.copy("COPY dq_quarantine_codes (record_id, code) FROM STDIN") as copy:
                for i in range(0, len(code_rows), 50_000):
                    copy.write("\n".join(code_rows[i : i + 50_000]) + "\n")
        conn.execute("VACUUM ANALYZE dq_quarantine")
        conn.execute("VACUUM ANALYZE dq_quarantine_codes")
    return time.perf_counter() - started


# -- scenarios -------------------------------------------------------------------------------------


def scenarios(now: datetime) -> dict[str, dict[str, str]]:
    day = (now - timedelta(days=1)).isoformat()
    week = (now - timedelta(days=7)).isoformat()
    return {
        "contract": {"schema_name": "orders"},
        "contract+status": {"schema_name": "payments", "status": "quarantined"},
        "error_type": {"error_type": "fk_violation"},
        "topic+last_24h": {"topic": "clicks-raw", "start_date": day},
        "status=dead": {"status": "dead"},
        "contract+code+week": {
            "schema_name": "users",
            "error_type": "rule_violation",
            "start_date": week,
        },
        "q+contract+24h": {"schema_name": "shipments", "q": "is not valid", "start_date": day},
        "page 20 of contract": {"schema_name": "orders", "page": "20"},
    }


def _filter(params: dict[str, str]) -> QuarantineFilter:
    return QuarantineFilter(
        contract=params.get("schema_name"),
        code=ErrorCode(params["error_type"]) if "error_type" in params else None,
        status=Status(params["status"]) if "status" in params else None,
        source_name=params.get("topic"),
        since=datetime.fromisoformat(params["start_date"]) if "start_date" in params else None,
        text=params.get("q"),
    )


def explain(url: str, params: dict[str, str]) -> list[str]:
    """The plans of the page and count queries the store runs for ``params``."""
    store = open_store(url)
    assert isinstance(store, PostgresQuarantineStore)
    try:
        flt = _filter(params)
        where, args = store._where(flt)
        page = int(params.get("page", "1"))
        queries = [
            store.page_json_sql(flt, 50, (page - 1) * 50),
            ("SELECT count(*) FROM dq_quarantine AS q" + where, args),
        ]
        plans = []
        for text, values in queries:
            rows = store._fetch("EXPLAIN (ANALYZE, COSTS OFF, SUMMARY ON) " + text, values)
            plans.append("\n".join(r[0] for r in rows))
        return plans
    finally:
        store.close()


def direct_ms(url: str, params: dict[str, str], rounds: int = 20) -> float:
    """Median ms of the page (as the API asks for it: JSON built by PostgreSQL) + count
    queries called on the store directly (no HTTP, no count cache)."""
    store = open_store(url)
    flt = _filter(params)
    page = int(params.get("page", "1"))
    times = []
    try:
        for _ in range(rounds):
            t = time.perf_counter()
            store.list_json(flt, limit=50, offset=(page - 1) * 50)
            store.count(flt)
            times.append((time.perf_counter() - t) * 1000)
    finally:
        store.close()
    return statistics.median(times)


# -- load generator (separate process) -------------------------------------------------------------


class _Connection:
    """A minimal HTTP/1.1 keep-alive client: a load generator must cost far less CPU than the
    server it measures (httpx costs about as much per request as the server here)."""

    def __init__(self, host: str, port: int, headers: bytes) -> None:
        self.host, self.port, self.headers = host, port, headers
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\n" + self.headers + b"\r\n")
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status


async def _drive(base: str, path: str, clients: int, duration: float) -> dict[str, Any]:
    host, port = base.removeprefix("http://").split(":")
    headers = f"Host: {host}\r\nAuthorization: Bearer {TOKEN}\r\n".encode()
    latencies: list[float] = []
    errors = 0
    await _Connection(host, int(port), headers).get(path)  # warm up
    deadline = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal errors
        conn = _Connection(host, int(port), headers)
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            status = await conn.get(path)
            latencies.append((time.perf_counter() - t) * 1000)
            if status != 200:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(clients)))
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "errors": errors,
        "rps": n / duration,
        "p50_ms": latencies[n // 2],
        "p95_ms": latencies[min(n - 1, int(n * 0.95))],
        "p99_ms": latencies[min(n - 1, int(n * 0.99))],
    }


def load_process_main(base: str, path: str, clients: int, duration: float) -> None:
    print(json.dumps(asyncio.run(_drive(base, path, clients, duration))))


def run_load(base: str, path: str, clients: int, duration: float) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--load", base, path, str(clients), str(duration)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# -- server ----------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(store_url: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {
        **os.environ,
        "DQ_STORE_URL": store_url,
        "DQ_PAYLOADS_URL": f"file://{workdir / 'payloads'}",
        "DQ_CONTRACTS_DIR": str(workdir / "contracts"),
        "DQ_API_TOKEN": TOKEN,
        "DQ_ACCESS_LOG": "false",
    }
    exe = Path(sys.executable).with_name("dataquarantine")
    proc = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not become ready")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(pid: int, base: str, path: str, clients: int, duration: float) -> dict[str, Any]:
    """:func:`run_load`, plus the server's CPU time per request (``cpu_ms``)."""
    before = cpu_seconds(pid)
    result = run_load(base, path, clients, duration)
    result["cpu_ms"] = (cpu_seconds(pid) - before) * 1000 / max(1, result["requests"])
    return result


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


# -- main ------------------------------------------------------------------------------------------


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--load":
        base, path, clients, duration = sys.argv[2:6]
        load_process_main(base, path, int(clients), float(duration))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--keep", action="store_true", help="keep the schema (and reuse it)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--fix-records", type=int, default=100_000, help="bulk fix set size (0: skip it)"
    )
    args = parser.parse_args()

    store_url = f"{args.db}{'&' if '?' in args.db else '?'}schema={SCHEMA}"
    now = datetime.now(UTC)
    with psycopg.connect(args.db, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT count(*) FROM pg_namespace WHERE nspname = %s", (SCHEMA,)
        ).fetchone()
    reuse = bool(args.keep and exists and exists[0])
    if not reuse:
        with psycopg.connect(args.db, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
        store = open_store(store_url)
        store.migrate()
        store.close()
        print(f"loading {args.records:,} records with COPY ...", flush=True)
        seconds = load(args.db, args.records, now)
        print(f"loaded in {seconds:.1f} s ({args.records / seconds:,.0f} records/s)", flush=True)
    cases = scenarios(now)
    results: dict[str, Any] = {
        "records": args.records,
        "clients": args.clients,
        "duration_s": args.duration,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "target_p95_ms": TARGET_P95_MS,
        "scenarios": {},
    }
    for name, params in cases.items():
        plans = explain(store_url, params)
        results["scenarios"][name] = {"params": params, "plans": plans}
        print(f"\n== EXPLAIN {name} {params}\n-- page:\n{plans[0]}\n-- count:\n{plans[1]}")

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "contracts").mkdir()
        proc, base = start_server(store_url, workdir)
        try:
            health = measure(proc.pid, base, "/health", args.clients, args.duration)
            results["baseline_health"] = health
            for name, params in cases.items():
                path = "/api/v1/quarantine/records?" + urlencode({"page_size": 50, **params})
                measured = measure(proc.pid, base, path, args.clients, args.duration)
                measured["direct_ms"] = direct_ms(store_url, params)
                results["scenarios"][name].update(measured)
            results["server_peak_rss_mb"] = peak_rss_mb(proc.pid)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()

    if not args.keep:
        with psycopg.connect(args.db, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))

    print(
        f"\n{args.records:,} records, {args.clients} clients, {args.duration:.0f} s per scenario,"
        f" {os.cpu_count()} CPUs, server peak RSS {results['server_peak_rss_mb']:.0f} MB"
    )
    h = results["baseline_health"]
    head = (
        "scenario", "req/s", "p50 ms", "p95 ms", "p99 ms", "server CPU ms", "direct ms",
        "p95/health",
    )  # fmt: skip
    row = "{:<22}{:>8}{:>9}{:>9}{:>9}{:>15}{:>11}{:>12}"
    print(row.format(*head))
    print(
        row.format(
            "GET /health (floor)",
            f"{h['rps']:.0f}",
            f"{h['p50_ms']:.1f}",
            f"{h['p95_ms']:.1f}",
            f"{h['p99_ms']:.1f}",
            f"{h['cpu_ms']:.2f}",
            "",
            "1.00",
        )
    )
    missed = []
    for name, r in results["scenarios"].items():
        print(
            row.format(
                name,
                f"{r['rps']:.0f}",
                f"{r['p50_ms']:.1f}",
                f"{r['p95_ms']:.1f}",
                f"{r['p99_ms']:.1f}",
                f"{r['cpu_ms']:.2f}",
                f"{r['direct_ms']:.1f}",
                f"{r['p95_ms'] / h['p95_ms']:.2f}",
            )
        )
        if r["p95_ms"] >= TARGET_P95_MS or r["errors"]:
            missed.append(name)
    verdict = "MISSED by " + ", ".join(missed) if missed else "met"
    print(f"target p95 < {TARGET_P95_MS:.0f} ms: {verdict}")
    if args.fix_records:
        import fix_bench  # the sibling script: the bulk fix measurement

        fixed = fix_bench.bench(args.db, args.fix_records, 200, args.clients, args.duration)
        results["bulk_fix"] = fixed
        missed += [f"bulk fix: {name}" for name, ok in fixed["targets"].items() if not ok]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str))
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
