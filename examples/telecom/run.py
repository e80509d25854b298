"""The telecom example, end to end: sources -> bronze -> double-pass -> silver load -> summary.

1. **Sources.** ``generate.py`` writes customers.csv, agents.csv, social_complaints.jsonl and
   call_logs.csv, and (re)creates the ticketing system's table ``<schema>.src_complaints``.
2. **Bronze.** Each source is written, as extracted, to Parquet, with a lineage manifest.
3. **Double-pass.** ``dataquarantine validate`` checks each bronze file against its contract:
   the offending originals go to the quarantine untouched (with their remediated attempt, where
   the contract's remediation could fix them), the clean records go on to a cleaned Parquet.
4. **Silver load.** ``dataquarantine load`` takes each cleaned file, dimensions first, finds
   the orphans in PostgreSQL, quarantines them, and upserts the rest into ``conformed_*``.
5. **Summary.** Per table: read, quarantined by the double-pass and by the load (by code),
   loaded (inserted/updated/unchanged), history rows; ``read = loaded + quarantined`` is checked.

Re-running it is idempotent: the data is deterministic, quarantine ids derive from the source
coordinates, and the load upserts. ``--reset`` drops the example's schema first.

Usage: python examples/telecom/run.py [--db URL] [--schema NAME] [--work DIR] [--day N]
       [--customers N --agents N --complaints N --social N --calls N] [--reset] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bronze  # noqa: E402
import generate  # noqa: E402

DEFAULT_DB = os.environ.get("DQ_EXAMPLE_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
CONTRACTS = HERE / "contracts"


@dataclass(frozen=True)
class Source:
    """One source of the example: its name, contract file and where bronze reads it from."""

    table: str
    contract: str
    kind: str  # csv | jsonl | postgres
    raw: str  # file name in the raw folder, or the source table


#: Dependency order: the dimensions first, then the facts that reference them.
SOURCES = (
    Source("customers", "customers.yaml", "csv", "customers.csv"),
    Source("agents", "agents.yaml", "csv", "agents.csv"),
    Source("complaints", "complaints.yaml", "postgres", "src_complaints"),
    Source("social_complaints", "social_complaints.yaml", "jsonl", "social_complaints.jsonl"),
    Source("call_logs", "call_logs.yaml", "csv", "call_logs.csv"),
)


@dataclass
class TableReport:
    """What happened to one table in one run."""

    table: str
    read: int = 0
    passed: int = 0
    held: Counter[str] = field(default_factory=Counter)  # double-pass, by headline code
    remediated: int = 0
    load: dict[str, Any] = field(default_factory=dict)

    @property
    def quarantined(self) -> int:
        return self.passed_held + int(self.load.get("quarantined", {}).get("total", 0))

    @property
    def passed_held(self) -> int:
        return self.read - self.passed

    @property
    def loaded(self) -> int:
        return int(self.load.get("loaded", {}).get("total", 0))

    @property
    def by_code(self) -> Counter[str]:
        codes = Counter(self.held)
        codes.update(self.load.get("quarantined", {}).get("by_code", {}))
        return codes

    @property
    def reconciles(self) -> bool:
        return self.read == self.loaded + self.quarantined and self.passed == self.load.get("read")

    def to_dict(self) -> dict[str, Any]:
        loaded = self.load.get("loaded", {})
        return {
            "table": self.table,
            "read": self.read,
            "passed_double_pass": self.passed,
            "remediated": self.remediated,
            "loaded": {k: loaded.get(k, 0) for k in ("total", "inserted", "updated", "unchanged")},
            "quarantined": {
                "total": self.quarantined,
                "by_code": dict(sorted(self.by_code.items())),
            },
            "history_rows": self.load.get("history_rows", 0),
            "reconciles": self.reconciles,
        }


def with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if urlsplit(url).query else '?'}schema={schema}"


def cli() -> list[str]:
    """The ``dataquarantine`` command, run by this interpreter (so in its environment)."""
    return [sys.executable, "-m", "dataquarantine.cli.app"]


def run_cli(args: list[str]) -> dict[str, Any]:
    """Run one ``dataquarantine ... --json`` command; its JSON document, or exit with its error."""
    proc = subprocess.run([*cli(), *args, "--json"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"error: dataquarantine {args[0]} exited {proc.returncode}")
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def prepare_db(url: str, schema: str, *, reset: bool) -> None:
    """Create (or, with ``reset``, recreate) the example's schema and its silver tables."""
    import psycopg
    from psycopg import sql

    ident = sql.Identifier(schema)
    with psycopg.connect(url, connect_timeout=10) as conn, conn.transaction():
        if reset:  # the gold layer's schemas too (dbt's snapshots would keep their versions)
            for name in (schema, f"{schema}_gold", f"{schema}_gold_dbt_test__audit"):
                drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE")
                conn.execute(drop.format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(ident))
        conn.execute((HERE / "silver.sql").read_text())


def extract(
    src: Source, raw: Path, out: Path, db: str, schema: str, run_id: str
) -> bronze.LineageEntry:
    from dataquarantine.validation.contract import Contract

    contract = Contract.from_file(CONTRACTS / src.contract)
    if src.kind == "csv":
        table, uri = bronze.read_csv(raw / src.raw, contract), f"raw/{src.raw}"
    elif src.kind == "jsonl":
        table, uri = bronze.read_jsonl(raw / src.raw, contract), f"raw/{src.raw}"
    else:
        table, uri = bronze.read_table(db, schema, src.raw), f"postgresql:{schema}.{src.raw}"
    return bronze.write_bronze(
        table,
        out / f"{src.table}.parquet",
        source=src.table,
        source_kind=src.kind,
        source_uri=uri,
        contract=contract,
        run_id=run_id,
    )


def run(args: argparse.Namespace) -> list[TableReport]:
    work: Path = args.work.resolve()
    raw, bronze_dir, cleaned = work / "raw", work / "bronze", work / "cleaned"
    store, payloads = stores(args)
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
    if args.reset:  # only what a run writes: --work may be a folder holding other things
        for folder in (raw, bronze_dir, cleaned, work / "payloads"):
            shutil.rmtree(folder, ignore_errors=True)
    prepare_db(args.db, args.schema, reset=args.reset)

    step("sources", "generate.py")
    made = generate.generate(
        seed=args.seed,
        customers=args.customers,
        agents=args.agents,
        complaints=args.complaints,
        social=args.social,
        calls=args.calls,
        day=args.day,
    )
    generate.write_sources(made, raw, db=args.db, schema=args.schema)

    step("bronze", f"Parquet + lineage manifest, run {run_id}")
    entries = [extract(s, raw, bronze_dir, args.db, args.schema, run_id) for s in SOURCES]
    bronze.write_manifest(entries, bronze_dir / "manifest.json", run_id)
    for e in entries:
        print(f"  {e.source:<18} {e.rows:>7,} rows  sha256 {e.sha256[:16]}  <- {e.source_uri}")

    step("double-pass", "dataquarantine validate (quarantine the originals, clean ones go on)")
    reports = {s.table: TableReport(s.table) for s in SOURCES}
    cleaned.mkdir(parents=True, exist_ok=True)
    for src, entry in zip(SOURCES, entries, strict=True):
        contract = _contract_name(src)
        summary = run_cli(
            [
                "validate",
                str(bronze_dir / entry.file),
                "--contract",
                contract,
                "--contracts",
                str(CONTRACTS),
                "--valid-out",
                str(cleaned / entry.file),
                "--store",
                store,
                "--payloads",
                payloads,
                "--no-progress",
            ]
        )
        rep = reports[src.table]
        rep.read = entry.rows
        rep.passed = _parquet_rows(cleaned / entry.file)
        rep.remediated = int(summary.get("remediated", 0))
        held = Counter({k: int(v) for k, v in summary.get("by_code", {}).items()})
        rep.held = held
        print(
            f"  {src.table:<18} {summary['total']:>7,} checked  {rep.passed:>7,} go on "
            f"({rep.remediated:,} fixed)  {rep.passed_held:>5,} held  {_codes(held)}"
        )

    step("silver load", f"dataquarantine load into {args.schema}.conformed_* (dimensions first)")
    for src, entry in zip(SOURCES, entries, strict=True):
        doc = run_cli(
            [
                "load",
                "--db",
                store,
                "--contract",
                str(CONTRACTS / src.contract),
                "--staging",
                str(cleaned / entry.file),
                "--store",
                store,
                "--payloads",
                payloads,
                "--run-id",
                f"{run_id}.{src.table}",
            ]
        )
        reports[src.table].load = doc
        print(
            f"  {src.table:<18} {doc['read']:>7,} read  {doc['loaded']['total']:>7,} loaded  "
            f"{doc['quarantined']['total']:>5,} quarantined  {doc['seconds']:.2f}s"
        )
    return [reports[s.table] for s in SOURCES]


def run_gold(args: argparse.Namespace, *, answers: bool) -> None:
    """dbt build of the gold layer (the snapshots take the day's versions), its test failures
    into the quarantine, and the answers (skipped, saying so, when dbt is not installed)."""
    import gold

    if gold.dbt_executable() is None:
        print("\n== gold: skipped, dbt is not installed (make airflow-tools installs it)")
        return
    from dataquarantine.airflow.dbt_failures import quarantine_failures
    from dataquarantine.quarantine.service import Quarantine

    step("gold", f"dbt build into {gold.gold_schema(args.schema)}")
    target = gold.run_dbt(args.db, args.schema, args.work.resolve())
    store, payloads = stores(args)
    quarantine = Quarantine.open(store, payloads)
    try:
        stored = quarantine_failures(target, args.db, quarantine, project="telecom_gold")
    finally:
        quarantine.close()
    for test, rows in stored.items():
        print(f"  dbt test {test}: {rows} failing row(s) quarantined as dbt_test_failure")
    if answers:
        gold.print_answers(args.db, args.schema)


def stores(args: argparse.Namespace) -> tuple[str, str]:
    """The quarantine store (in the example's schema) and payload folder of a run."""
    folder = args.work / "payloads"
    # "file://x/y" is relative to the working directory (where every command of a run starts)
    return with_schema(args.db, args.schema), (
        folder.as_uri() if folder.is_absolute() else f"file://{folder.as_posix()}"
    )


def _contract_name(src: Source) -> str:
    from dataquarantine.contracts.loader import load_spec

    return load_spec(CONTRACTS / src.contract).name


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows) if path.exists() else 0


def _codes(codes: Counter[str]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(codes.items(), key=lambda kv: -kv[1]))


def step(name: str, what: str) -> None:
    print(f"\n== {name}: {what}", flush=True)


def print_summary(reports: list[TableReport], seconds: float, args: argparse.Namespace) -> None:
    step("summary", "read = loaded + quarantined")
    head = (
        f"  {'table':<18} {'read':>7} {'fixed':>5} {'loaded':>7} {'new':>6} {'upd':>5} "
        f"{'same':>6} {'quar.':>6} {'hist':>5}  ok  quarantined by code"
    )
    print(head)
    print("  " + "-" * (len(head) - 2))
    for r in reports:
        loaded = r.load.get("loaded", {})
        print(
            f"  {r.table:<18} {r.read:>7,} {r.remediated:>5,} {r.loaded:>7,} "
            f"{loaded.get('inserted', 0):>6,} "
            f"{loaded.get('updated', 0):>5,} {loaded.get('unchanged', 0):>6,} "
            f"{r.quarantined:>6,} {r.load.get('history_rows', 0):>5,}  "
            f"{'ok' if r.reconciles else 'NO'}  {_codes(r.by_code)}"
        )
    total = sum(r.read for r in reports)
    print(
        f"\n  {total:,} records in {seconds:.1f}s. What was caught, e.g. the orphans:\n"
        f"  dataquarantine quarantine list --code fk_violation \\\n"
        f"      --store '{stores(args)[0]}' --payloads '{stores(args)[1]}'"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=DEFAULT_DB, help="PostgreSQL URL [DQ_EXAMPLE_PG_URL]")
    parser.add_argument("--schema", default="telecom_example")
    parser.add_argument("--work", type=Path, default=Path(".dataquarantine/example-telecom"))
    generate.add_size_options(parser)
    parser.add_argument("--reset", action="store_true", help="drop the schema and work folder")
    parser.add_argument("--json", action="store_true", help="also write summary.json to --work")
    parser.add_argument(
        "--days",
        type=int,
        default=0,
        help="run days 1..N (the first with --reset, if given), then the gold layer when dbt "
        "is installed, and print its answers",
    )
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", args.schema):
        print(f"error: {args.schema!r} is not a plain schema name", file=sys.stderr)
        return 2
    if args.reset and args.schema.lower() == "public":
        print("error: --reset drops the schema; give the example its own", file=sys.stderr)
        return 2
    started = time.perf_counter()
    import psycopg

    try:
        if args.days:
            for day in range(1, args.days + 1):
                step(f"day {day}", "the systems' drop of the day")
                args.day, args.reset = day, args.reset and day == 1
                reports = run(args)
                run_gold(args, answers=day == args.days)
        else:
            reports = run(args)
    except (psycopg.Error, OSError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print_summary(reports, time.perf_counter() - started, args)
    doc = {"schema": args.schema, "tables": [r.to_dict() for r in reports]}
    (args.work / "summary.json").write_text(json.dumps(doc, indent=2) + "\n")
    if args.json:
        print(json.dumps(doc, indent=2))
    return 0 if all(r.reconciles for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
