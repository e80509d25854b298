"""``dataquarantine load`` vs the naive row-by-row load and the no-checks floor, in one run.

Builds (in schema ``dq_bench_load``, dropped at the end unless --keep) 100,000 customers,
1,000 agents and --rows (1,000,000) staging call logs, 5% of them orphans (2% a missing
customer, 2% a missing agent, 1% both), then measures on the same data:

* floor: ``INSERT INTO target SELECT ... FROM staging`` (no checks at all);
* ours: ``dataquarantine load --json`` (a subprocess: orphans and the contract's pushed-down
  checks in PostgreSQL, the suspects through the contract engine, bad rows to
  data_quality_quarantine and the envelope store, the rest loaded with checkpoints), wall time
  including start-up;
* naive: one ``INSERT`` per row into a table with real FOREIGN KEY constraints, each in its own
  transaction, catching the FK error of each orphan; timed on the first --naive-sample rows
  (20,000) and reported as rows/s, which the output says.

Each contender runs twice, in turns (floor, naive, ours, floor, naive, ours), and the faster
run of each counts.

Targets: ours >= 50x naive rows/s, and ours <= 2.5x the floor's seconds. Peak RSS is that of
the process doing the work (the database server's memory is not counted).

Usage: python bench/load/run.py [--db URL] [--rows N] [--naive-sample N] [--batch-size N]
                                [--keep] [--strict]
Results: a table on stdout and bench/results/load.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

BENCH_DIR = Path(__file__).resolve().parent.parent
RESULTS = BENCH_DIR / "results" / "load.json"
DEFAULT_DB = os.environ.get("DQ_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = "dq_bench_load"
TARGET_VS_NAIVE = 50.0
TARGET_VS_FLOOR = 2.5

COLUMNS = "call_log_key, customer_id, agent_id, started_at, duration_s, channel, resolution_status"

CONTRACT = """\
name: bench_call_logs
version: 1.0.0
schema:
  type: object
  required: [call_log_key, customer_id, agent_id, started_at, duration_s, resolution_status]
  properties:
    call_log_key: {type: string, pattern: "^CL[0-9]+$"}
    customer_id: {type: integer, minimum: 1}
    agent_id: {type: integer, minimum: 1}
    started_at: {type: string, format: date-time}
    duration_s: {type: integer, minimum: 0}
    channel: {enum: [phone, chat, email]}
    resolution_status: {enum: [open, pending, resolved, escalated]}
rules:
  - id: long_calls_resolved
    expr: "record.duration_s < 7200 || record.resolution_status != 'open'"
    field: duration_s
references:
  - {field: customer_id, table: customers, column: customer_id}
  - {field: agent_id, table: agents, column: agent_id}
load:
  staging: staging_call_logs
  target: conformed_call_logs
  conflict_key: [call_log_key]
  update_columns: [agent_id, duration_s, channel, resolution_status]
  track_changes: [agent_id, resolution_status]
"""


def build(conn: psycopg.Connection[Any], rows: int) -> None:
    ident = sql.Identifier(SCHEMA)
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(ident))
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(ident))
    conn.execute(sql.SQL("SET search_path = {}").format(ident))
    conn.execute("CREATE TABLE customers (customer_id bigint PRIMARY KEY, name text NOT NULL)")
    conn.execute(
        "INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 100000) g"
    )
    conn.execute("CREATE TABLE agents (agent_id integer PRIMARY KEY, name text NOT NULL)")
    conn.execute("INSERT INTO agents SELECT g, 'agent ' || g FROM generate_series(1, 1000) g")
    # Row g: g % 100 in 0..1 -> customer missing, 2..3 -> agent missing, 4 -> both (5% orphans).
    conn.execute(
        "CREATE TABLE staging_call_logs (call_log_key text, customer_id bigint, agent_id integer,"
        " started_at timestamptz, duration_s integer, channel text, resolution_status text)"
    )
    conn.execute(
        "INSERT INTO staging_call_logs SELECT 'CL' || g,"
        " CASE WHEN g %% 100 IN (0, 1, 4) THEN 200000 + g %% 5000 ELSE 1 + g %% 100000 END,"
        " CASE WHEN g %% 100 IN (2, 3, 4) THEN 5000 + g %% 100 ELSE 1 + g %% 1000 END,"
        " timestamptz '2024-01-01 00:00:00+00' + g * interval '7 seconds',"
        " (g * 37) %% 3600, (ARRAY['phone', 'chat', 'email'])[1 + g %% 3],"
        " (ARRAY['open', 'pending', 'resolved', 'escalated'])[1 + (g / 7) %% 4]"
        " FROM generate_series(1, %s) g",
        (rows,),
    )
    target = (
        "(call_log_key text PRIMARY KEY, customer_id bigint {fk_c}, agent_id integer {fk_a},"
        " started_at timestamptz, duration_s integer, channel text, resolution_status text,"
        " created_at timestamptz NOT NULL DEFAULT now(), last_updated_at timestamptz)"
    )
    conn.execute("CREATE TABLE conformed_call_logs " + target.format(fk_c="", fk_a=""))
    conn.execute("CREATE TABLE floor_call_logs " + target.format(fk_c="", fk_a=""))
    conn.execute(
        "CREATE TABLE naive_call_logs "
        + target.format(
            fk_c="REFERENCES customers (customer_id)", fk_a="REFERENCES agents (agent_id)"
        )
    )
    conn.execute("ANALYZE")
    conn.commit()


def _rss_mb(ru: Any) -> float:
    return float(ru.ru_maxrss) / 1024  # Linux: KiB


def backend_cpu(pid: int) -> float | None:
    """CPU seconds used so far by a local server process (None when it cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BackendSampler:
    """Polls the CPU of the server processes serving the given application names (their
    last reading before they exit is kept), so ours is charged for its PostgreSQL work too."""

    def __init__(self, url: str, names: tuple[str, ...]) -> None:
        self.url, self.names = url, names
        self.cpu: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                pids = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = ANY(%s)",
                    (list(self.names),),
                ).fetchall()
                for (pid,) in pids:
                    cpu = backend_cpu(pid)
                    if cpu is not None:
                        self.cpu[pid] = max(cpu, self.cpu.get(pid, 0.0))
                time.sleep(0.05)

    def __enter__(self) -> BackendSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def total(self) -> float:
        return sum(self.cpu.values())


def measure_floor(url: str) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(SCHEMA)))
        conn.execute("TRUNCATE floor_call_logs")
        conn.commit()
        pid = conn.info.backend_pid
        cpu0 = backend_cpu(pid)
        start = time.perf_counter()
        cur = conn.execute(
            f"INSERT INTO floor_call_logs ({COLUMNS}) SELECT {COLUMNS} FROM staging_call_logs"
        )
        conn.commit()
        seconds = time.perf_counter() - start
        cpu1 = backend_cpu(pid)
        n = cur.rowcount
    return {
        "rows": n,
        "seconds": seconds,
        "cpu_s": cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None,
        "rss_mb": _rss_mb(resource.getrusage(resource.RUSAGE_SELF)),
    }


def measure_naive(url: str, sample: int) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(SCHEMA)))
        conn.execute("TRUNCATE naive_call_logs")
        rows = conn.execute(
            f"SELECT {COLUMNS} FROM staging_call_logs ORDER BY ctid LIMIT %s", (sample,)
        ).fetchall()
        insert = f"INSERT INTO naive_call_logs ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        orphans = 0
        start = time.perf_counter()
        for row in rows:
            try:
                conn.execute(insert, row)
            except psycopg.errors.ForeignKeyViolation:
                orphans += 1
        seconds = time.perf_counter() - start
    return {"rows": len(rows), "orphans": orphans, "seconds": seconds}


def measure_ours(url: str, workdir: Path, batch_size: int | None) -> dict[str, Any]:
    contract = workdir / "call_logs.yaml"
    contract.write_text(CONTRACT)
    db = f"{url}{'&' if '?' in url else '?'}schema={SCHEMA}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(SCHEMA)))
        for table in ("conformed_call_logs", "data_quality_quarantine", "dq_load_checkpoints",
                      "conformed_call_logs_history"):  # fmt: skip
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
        conn.execute(
            "CREATE TABLE conformed_call_logs (call_log_key text PRIMARY KEY,"
            " customer_id bigint, agent_id integer, started_at timestamptz, duration_s integer,"
            " channel text, resolution_status text,"
            " created_at timestamptz NOT NULL DEFAULT now(), last_updated_at timestamptz)"
        )
    shutil.rmtree(workdir / "payloads", ignore_errors=True)
    (workdir / "quarantine.db").unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "dataquarantine.cli.app", "load", "--db", db,
        "--contract", str(contract), "--json",
        "--store", f"sqlite:///{workdir / 'quarantine.db'}",
        "--payloads", f"file://{workdir / 'payloads'}",
    ]  # fmt: skip
    if batch_size:
        command += ["--batch-size", str(batch_size)]
    start = time.perf_counter()
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        BackendSampler(url, ("dataquarantine-load",)) as server,
    ):
        proc = subprocess.Popen(command, stdout=out, stderr=err)
        _, status, ru = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"ours failed ({proc.returncode}): {err.read().decode()}")
        summary = json.loads(out.read())
    client_cpu = ru.ru_utime + ru.ru_stime
    return {
        "rows": summary["read"],
        "seconds": seconds,
        "summary": summary,
        "rss_mb": _rss_mb(ru),
        "client_cpu_s": client_cpu,
        "server_cpu_s": server.total,
        "cpu_s": client_cpu + server.total if server.cpu else None,
    }


def precompile() -> None:
    """Byte-compile the package, as ``pip install`` does: with PYTHONDONTWRITEBYTECODE set (as
    in some containers) an editable install would otherwise compile its sources at every
    start, which is not what an installed command pays."""
    import compileall

    import dataquarantine

    compileall.compile_dir(Path(dataquarantine.__file__).parent, quiet=1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--db", default=DEFAULT_DB)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--naive-sample", type=int, default=20_000)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--keep", action="store_true", help="Keep the bench schemas.")
    ap.add_argument("--strict", action="store_true", help="Exit 1 when a target is missed.")
    args = ap.parse_args()

    print(f"building {args.rows:,} staging call logs in schema {SCHEMA} ...", flush=True)
    t0 = time.perf_counter()
    with psycopg.connect(args.db) as conn:
        build(conn, args.rows)
    print(f"  built in {time.perf_counter() - t0:.1f} s", flush=True)
    precompile()
    workdir = Path(tempfile.mkdtemp(prefix="dq-bench-load-"))
    try:
        # Each contender twice, in turns (floor, naive, ours, floor, naive, ours); the faster
        # run of each counts. A shared machine's speed drifts by tens of percent within a
        # minute, so one run each would compare moments as much as contenders.
        sample = min(args.naive_sample, args.rows)
        floors, naives, ours_runs = [], [], []
        for _ in range(2):
            floors.append(measure_floor(args.db))
            print(f"floor: {floors[-1]['seconds']:.2f} s", flush=True)
            naives.append(measure_naive(args.db, sample))
            print(f"naive: {naives[-1]['seconds']:.2f} s for {sample:,} rows", flush=True)
            ours_runs.append(measure_ours(args.db, workdir, args.batch_size))
            print(f"ours:  {ours_runs[-1]['seconds']:.2f} s", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if not args.keep:
            with psycopg.connect(args.db, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA))
                )
    floor = min(floors, key=lambda f: float(f["seconds"]))
    naive = min(naives, key=lambda f: float(f["seconds"]))
    ours = min(ours_runs, key=lambda f: float(f["seconds"]))
    ours["all_runs_seconds"] = [r["seconds"] for r in ours_runs]
    ours["all_runs_caught"] = [r["summary"]["quarantined"]["total"] for r in ours_runs]
    return report(args, floor, ours, naive)


def planted_orphans(rows: int) -> int:
    """Rows whose g % 100 is 0..4, g = 1..rows (see build)."""
    return sum(1 for g in range(1, rows + 1) if g % 100 < 5)


def report(args: Any, floor: dict[str, Any], ours: dict[str, Any], naive: dict[str, Any]) -> int:
    rate = {
        "floor": floor["rows"] / floor["seconds"],
        "ours": ours["rows"] / ours["seconds"],
        "naive": naive["rows"] / naive["seconds"],
    }
    vs_naive = rate["ours"] / rate["naive"]
    vs_floor = ours["seconds"] / floor["seconds"]
    s = ours["summary"]
    floor_rss = f"{floor['rss_mb']:.0f} MB (client)"
    print()
    print("| measurement | rows | seconds | rows/s | peak RSS | vs naive | vs floor time |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(
        f"| floor: `INSERT ... SELECT`, no checks | {floor['rows']:,} | {floor['seconds']:.2f} "
        f"| {rate['floor']:,.0f} | {floor_rss} | {rate['floor'] / rate['naive']:.0f}x | 1.00x |"
    )
    print(
        f"| naive: row-by-row `INSERT` with FKs ({naive['rows']:,}-row sample) | {naive['rows']:,} "
        f"| {naive['seconds']:.2f} | {rate['naive']:,.0f} | {floor_rss} | 1x | "
        f"{floor['rows'] / rate['naive'] / floor['seconds']:.0f}x (extrapolated) |"
    )
    print(
        f"| **ours**: `dataquarantine load` end to end | {ours['rows']:,} | {ours['seconds']:.2f} "
        f"| {rate['ours']:,.0f} | {ours['rss_mb']:.0f} MB | {vs_naive:.0f}x | {vs_floor:.2f}x |"
    )
    print()
    print(
        f"ours: {s['seconds']:.2f} s inside the load (the rest is start-up), "
        f"loaded {s['loaded']['total']:,}, quarantined {s['quarantined']['total']:,} "
        f"{s['quarantined']['by_code']}, {s['batches']} batches; its runs: "
        + ", ".join(f"{x:.2f} s" for x in ours.get("all_runs_seconds", [ours["seconds"]]))
    )
    if ours.get("cpu_s") and floor.get("cpu_s"):
        print(
            f"CPU seconds: ours {ours['cpu_s']:.1f} (client {ours['client_cpu_s']:.1f} + "
            f"PostgreSQL {ours['server_cpu_s']:.1f}), floor {floor['cpu_s']:.1f} (PostgreSQL): "
            f"{ours['cpu_s'] / floor['cpu_s']:.2f}x; on {os.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.1f} at the end"
        )
    expected = planted_orphans(args.rows)
    caught = s["quarantined"]["by_code"].get("fk_violation", 0)
    ok_caught = (
        caught == expected == s["quarantined"]["total"]
        and s["read"] == args.rows
        and all(n == expected for n in ours.get("all_runs_caught", [expected]))
    )
    print(f"planted orphans {expected:,}, caught {caught:,}: {'PASS' if ok_caught else 'FAIL'}")
    print(f"naive caught {naive['orphans']:,} orphans in its {naive['rows']:,}-row sample")
    ok_naive = vs_naive >= TARGET_VS_NAIVE
    ok_floor = vs_floor <= TARGET_VS_FLOOR
    print(
        f"ours vs naive: {vs_naive:.1f}x rows/s (target >= {TARGET_VS_NAIVE:.0f}x) "
        f"{'PASS' if ok_naive else 'FAIL'}"
    )
    print(
        f"ours vs floor: {vs_floor:.2f}x seconds (target <= {TARGET_VS_FLOOR}x) "
        f"{'PASS' if ok_floor else 'FAIL'}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                "rows": args.rows,
                "floor": floor,
                "naive": naive,
                "ours": ours,
                "rows_per_second": rate,
                "ours_vs_naive": vs_naive,
                "ours_vs_floor": vs_floor,
            },
            indent=2,
        )
    )
    passed = ok_naive and ok_floor and ok_caught
    return 1 if args.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
