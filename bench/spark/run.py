"""DataQuarantine on Spark against same-run baselines (``make bench-spark``).

On the same generated ``user_event`` data (bench/spark/data.py: 5M records by default, 5% bad,
as JSON lines and as Parquet), each row of the table runs in its own process and Spark session:

  floor        Spark reads the input and writes it back, no checks
  ours         what ``validate --engine spark`` runs (``dataquarantine.spark.run``): the rows
               checked against user_event 1.1.0 (``split``'s verdicts), the quarantined ones
               written into the quarantine store (PostgreSQL metadata in a schema of its own,
               dropped afterwards, and a local payload folder), the valid ones to the output
               (Parquet, or the original lines for JSON lines), all in one Spark job
  peer         Databricks DQX ``apply_checks_and_split`` with the same checks, as far as DQX
               can express them (bench/spark/peer.py), installed into bench/.data/dqx-site
  ours_1       ``ours`` on local[1] (the others run on local[2])
  ours_quarter ``ours`` on a quarter of the records (driver memory against input size)

Per row: wall seconds of the job (the session's start-up excluded), rows/s, the driver's peak
RSS (the Python driver, and the JVM which in local mode is driver and executors), the CPU
seconds of the JVM and its Python workers, and for ours and the peer the planted errors
missed, per kind (ours: the records not in the valid output, checked against the store's
count of rows).

Usage: python bench/spark/run.py [--records N] [--formats parquet jsonl] [--skip NAME ...]
The store's PostgreSQL: DQ_BENCH_PG_URL (postgresql://postgres@127.0.0.1:5432/test).
Results: a table on stdout and bench/results/spark-latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from data import BENCH_DIR, DATA_DIR, BenchData, ensure_data, event_key

RESULTS = BENCH_DIR / "results" / "spark-latest.json"
DQX_SITE = DATA_DIR / "dqx-site"
DQX_REQUIREMENT = "databricks-labs-dqx==0.17.0"
NAMES = ("floor", "ours", "peer", "ours_1", "ours_quarter")
PG_URL = os.environ.get("DQ_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
CONTRACT = "user_event-1.1.0.yaml"


# -- in the measured process ---------------------------------------------------------------------


def session(master: str) -> Any:
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    cores = 1 if master == "local[1]" else 2
    spark = (
        SparkSession.builder.master(master)
        .appName("dataquarantine-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(2 * cores))
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _status_kb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def jvm_usage(spark: Any) -> dict[str, float]:
    """The JVM's peak RSS and the CPU seconds of the JVM and its Python workers so far."""
    import psutil

    pid = int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
    jvm = psutil.Process(pid)
    t = jvm.cpu_times()
    cpu = t.user + t.system + t.children_user + t.children_system
    for child in jvm.children(recursive=True):
        with_children = child.cpu_times()
        cpu += with_children.user + with_children.system
    return {"jvm_peak_rss_mb": _status_kb(pid, "VmHWM"), "executor_cpu_s": cpu}


def _read(spark: Any, fmt: str, path: Path) -> Any:
    from dataquarantine.spark import read_jsonl

    return spark.read.parquet(str(path)) if fmt == "parquet" else read_jsonl(spark, str(path))


def _jsonl_text(frame: Any) -> Any:
    """Valid JSON lines written back as their original lines (valid ones are UTF-8)."""
    from pyspark.sql import functions as F

    text = F.regexp_replace(F.col("value").cast("string"), "\r?\n$", "")
    return frame.select(text.alias("value"))


def run_floor(spark: Any, fmt: str, path: Path, out: Path) -> dict[str, Any]:
    if fmt == "parquet":
        df = spark.read.parquet(str(path))
        df.write.parquet(str(out / "valid"))
    else:
        df = spark.read.text(str(path))
        df.write.text(str(out / "valid"))
    return {}


def run_ours(spark: Any, fmt: str, path: Path, out: Path) -> dict[str, Any]:
    """``run``: the store (its own PostgreSQL schema) and the valid output, one job."""
    from dataquarantine import Contract
    from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR
    from dataquarantine.spark import run

    contract = Contract.from_file(DEMO_CONTRACTS_DIR / CONTRACT)
    schema = f"dq_bench_spark_{uuid.uuid4().hex[:12]}"
    try:
        done = run(
            _read(spark, fmt, path),
            contract,
            store=f"{PG_URL}?schema={schema}",
            payloads=str(out / "payloads"),
            valid_out=str(out / "valid"),
            valid_format="jsonl" if fmt == "jsonl" else "parquet",
            run_id="bench",
        )
        stored = _stored_rows(schema)
    finally:
        _drop_schema(schema)
    return {"quarantined": done.quarantined, "stored": stored, "reconciles": done.reconciles}


def _stored_rows(schema: str) -> int:
    import psycopg
    from psycopg import sql

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        query = sql.SQL("SELECT count(*) FROM {}.dq_quarantine").format(sql.Identifier(schema))
        row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def _drop_schema(schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def measure(args: argparse.Namespace) -> dict[str, Any]:
    start_rss = _status_kb(os.getpid(), "VmRSS")
    spark = session(args.master)
    out = Path(tempfile.mkdtemp(prefix="dq-bench-spark-"))
    try:
        t0 = time.perf_counter()
        if args.only == "floor":
            extra = run_floor(spark, args.format, args.data, out)
        elif args.only == "peer":
            from peer import run_peer

            extra = run_peer(spark, args.format, args.data, out)
        else:
            extra = run_ours(spark, args.format, args.data, out)
        seconds = time.perf_counter() - t0
        usage = jvm_usage(spark)
        driver_peak = _status_kb(os.getpid(), "VmHWM")  # before the bench's own reading below
        caught = _caught(args.only, args.format, args.data, out)
    finally:
        spark.stop()
        shutil.rmtree(out, ignore_errors=True)
    return {
        "name": args.only,
        "format": args.format,
        "master": args.master,
        "seconds": seconds,
        "driver_peak_rss_mb": driver_peak,
        "driver_rss_at_start_mb": start_rss,
        **usage,
        "caught": caught,
        **extra,
    }


def _caught(name: str, fmt: str, data: Path, out: Path) -> list[str | None] | None:
    """The event keys of the quarantined rows (read with pyarrow, after the timing): the
    peer's quarantine output; for ours, the input's records missing from the valid output."""
    import pyarrow.parquet as pq

    if name == "floor":
        return None
    if name == "peer":
        return pq.read_table(out / "quarantine", columns=["_dq_key"]).column(0).to_pylist()
    if fmt == "parquet":
        ids = set(pq.read_table(out / "valid", columns=["event_id"]).column(0).to_pylist())
        every = pq.read_table(data, columns=["event_id"]).column(0).to_pylist()
        return [k for k in every if k not in ids]
    kept = Counter(
        line for f in sorted((out / "valid").glob("part-*")) for line in f.read_bytes().splitlines()
    )
    caught: list[str | None] = []
    with data.open("rb") as lines:
        for raw in lines:
            line = raw.rstrip(b"\n")
            if kept[line] > 0:
                kept[line] -= 1
            elif line.strip(b" \t\r"):
                caught.append(event_key(line))
    return caught


# -- the driver ----------------------------------------------------------------------------------


def ensure_dqx() -> str | None:
    """DQX in its own folder (its pins may differ from ours); None when it cannot install."""
    if not (DQX_SITE / "databricks" / "labs" / "dqx").exists():
        print(f"installing {DQX_REQUIREMENT} into {DQX_SITE.relative_to(BENCH_DIR.parent)}")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--target",
                str(DQX_SITE),
                DQX_REQUIREMENT,
            ],
            check=False,
        )
        if done.returncode != 0:
            return None
    return str(DQX_SITE)


def run_one(
    name: str, fmt: str, data: BenchData, master: str, quarter: BenchData
) -> dict[str, Any]:
    here = Path(__file__).resolve().parent
    src = str(BENCH_DIR.parent / "src")
    path = [str(here), src, os.environ.get("PYTHONPATH", "")]
    if name == "peer":
        site = ensure_dqx()
        if site is None:
            return {
                "name": name,
                "format": fmt,
                "status": f"n/a: {DQX_REQUIREMENT} not installable",
            }
        path.insert(0, site)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}
    cmd = [sys.executable, __file__, "--only", name, "--format", fmt, "--master", master]
    if name == "ours_quarter":
        data = quarter
    cmd += ["--data", str(data.path(fmt))]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        return {"name": name, "format": fmt, "status": "failed: " + " | ".join(tail)}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    records = data.meta["records"][fmt]
    result["records"] = records
    result["rate"] = result["records"] / result["seconds"]
    caught = result.pop("caught")
    if caught is not None:
        result["quality"] = data.planted(fmt).misses(caught)
        if "stored" in result and not len(caught) == result["quarantined"] == result["stored"]:
            result["quality"]["store_mismatch"] = [
                len(caught),
                result["quarantined"],
                result["stored"],
            ]
        result["quarantined"] = len(caught)
    result["status"] = "ok"
    return result


def _fmt_row(r: dict[str, Any]) -> str:
    if r["status"] != "ok":
        return f"{r['name']:<13} {r['format']:<8} {r['status']}"
    quality = r.get("quality")
    missed = (
        ""
        if quality is None
        else f"missed {quality['missed'] or 0}, not planted {quality['not_planted']}"
    )
    if quality and "store_mismatch" in quality:
        missed += f", quarantined/reported/stored {quality['store_mismatch']}"
    return (
        f"{r['name']:<13} {r['format']:<8} {r['master']:<9} {r['seconds']:>7.1f} s "
        f"{r['rate']:>10,.0f} rows/s  driver {r['driver_peak_rss_mb']:>5.0f} MB "
        f"(JVM {r['jvm_peak_rss_mb']:>5.0f} MB)  CPU {r['executor_cpu_s']:>6.1f} s  {missed}"
    )


def targets(results: list[dict[str, Any]]) -> list[str]:
    by = {(r["name"], r["format"]): r for r in results if r["status"] == "ok"}
    lines = []
    for fmt in ("parquet", "jsonl"):
        floor, ours, peer = by.get(("floor", fmt)), by.get(("ours", fmt)), by.get(("peer", fmt))
        one, quarter = by.get(("ours_1", fmt)), by.get(("ours_quarter", fmt))
        if floor and ours:
            ratio = ours["seconds"] / floor["seconds"]
            lines.append(f"{fmt}: ours / floor time {ratio:.2f} (target <= 2)")
        if ours and peer:
            ratio = peer["seconds"] / ours["seconds"]
            lines.append(f"{fmt}: peer / ours time {ratio:.2f} (target > 1)")
        if ours and "quality" in ours:
            lines.append(
                f"{fmt}: ours missed {ours['quality']['missed'] or 'nothing'} (target: nothing)"
            )
        if one and ours:
            lines.append(
                f"{fmt}: local[2] speed-up {one['seconds'] / ours['seconds']:.2f} (target >= 1.7)"
            )
        if quarter and ours:
            lines.append(
                f"{fmt}: driver peak RSS {quarter['driver_peak_rss_mb']:.0f} MB at N/4, "
                f"{ours['driver_peak_rss_mb']:.0f} MB at N (target: the same)"
            )
    return lines


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--records", type=int, default=5_000_000, help="JSON-lines records (5,000,000)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--regen", action="store_true", help="regenerate the cached data")
    p.add_argument(
        "--formats", nargs="+", default=["parquet", "jsonl"], choices=["parquet", "jsonl"]
    )
    p.add_argument("--skip", nargs="*", default=[], choices=NAMES)
    p.add_argument("--only", choices=NAMES, help=argparse.SUPPRESS)
    p.add_argument("--format", choices=["parquet", "jsonl"], help=argparse.SUPPRESS)
    p.add_argument("--master", default="local[2]", help=argparse.SUPPRESS)
    p.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.only:
        print(json.dumps(measure(args)), flush=True)
        return 0
    data = ensure_data(args.records, args.seed, args.regen)
    quarter = ensure_data(args.records // 4, args.seed, args.regen)
    print(
        f"data: {json.dumps(data.meta['records'])} rows, planted {json.dumps(data.meta['planted'])}"
    )
    results = []
    for fmt in args.formats:
        for name in NAMES:
            if name in args.skip:
                continue
            master = "local[1]" if name == "ours_1" else "local[2]"
            result = run_one(name, fmt, data, master, quarter)
            print(_fmt_row(result), flush=True)
            results.append(result)
    print()
    for line in targets(results):
        print(line)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"data": data.meta, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
