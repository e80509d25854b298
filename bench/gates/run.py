"""Quality gates vs hand-written ``SELECT count(*)`` on a 10M-row table, in the same run.

Builds (in its own schema, dropped at the end) a parent table of 1M rows and a child table of
--rows rows (10M) with planted NULLs, orphans and duplicates, then times, round by round and
alternating, each hand-written count query and the gate that answers the same question
(``not_null``, ``relationship``, ``unique``) run by the gates runner (which also fetches up to
5 sample rows). Reports the median seconds of each, the ratio, and the ratio of a whole gates
run (connect + the three gates) to the three hand-written queries. Target: every ratio <= 1.5.

Usage: python bench/gates/run.py [--db URL] [--rows N] [--rounds N] [--keep] [--strict]
Results: a table on stdout and bench/results/gates.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg import sql

from dataquarantine.gates.model import gates_from_dict
from dataquarantine.gates.runner import GateRunner

BENCH_DIR = Path(__file__).resolve().parent.parent
RESULTS = BENCH_DIR / "results" / "gates.json"
DEFAULT_DB = os.environ.get("DQ_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA = "dq_bench_gates"
TARGET = 1.5

GATES = """
gates:
  - name: parent_id_not_null
    kind: not_null
    table: big
    column: parent_id
  - name: parent_exists
    kind: relationship
    child: {table: big, column: parent_id}
    parent: {table: parent, column: id}
  - name: code_unique
    kind: unique
    table: big
    columns: [code]
"""

HAND_WRITTEN = {
    "parent_id_not_null": "SELECT count(*) FROM big WHERE parent_id IS NULL",
    "parent_exists": (
        "SELECT count(*) FROM big AS c WHERE c.parent_id IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM parent AS p WHERE p.id = c.parent_id)"
    ),
    "code_unique": (
        "SELECT count(*) FROM (SELECT code FROM big WHERE code IS NOT NULL"
        " GROUP BY code HAVING count(*) > 1) AS d"
    ),
}


def build(conn: psycopg.Connection[Any], rows: int, parents: int) -> None:
    ident = sql.Identifier(SCHEMA)
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(ident))
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(ident))
    conn.execute(sql.SQL("SET search_path = {}").format(ident))
    conn.execute("CREATE UNLOGGED TABLE parent (id bigint PRIMARY KEY, name text NOT NULL)")
    conn.execute(
        "INSERT INTO parent SELECT g, 'parent ' || g FROM generate_series(1, %s) AS g",
        (parents,),
    )
    # 1 row in 10,000 has a NULL parent, another 1 in 10,000 a parent that does not exist;
    # 1 code in 100,000 is repeated.
    conn.execute(
        """
        CREATE UNLOGGED TABLE big AS
        SELECT g AS id,
               CASE WHEN mod(g, 10000) = 0 THEN NULL
                    WHEN mod(g, 10000) = 1 THEN %(parents)s + g
                    ELSE 1 + mod(g, %(parents)s) END AS parent_id,
               CASE WHEN mod(g, 100000) = 7 THEN g - 1 ELSE g END AS code,
               'event ' || g AS label,
               now() - make_interval(secs => mod(g, 86400)) AS created_at
        FROM generate_series(1, %(rows)s) AS g
        """,
        {"rows": rows, "parents": parents},
    )
    conn.execute("VACUUM ANALYZE parent")
    conn.execute("VACUUM ANALYZE big")


def timed_hand_written(url: str, query: str) -> tuple[float, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(SCHEMA)))
        started = time.perf_counter()
        row = conn.execute(query).fetchone()
        elapsed = time.perf_counter() - started
    return elapsed, int(row[0]) if row else -1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=DEFAULT_DB, help="PostgreSQL URL [DQ_BENCH_PG_URL]")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--parents", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="Keep the schema afterwards.")
    parser.add_argument("--strict", action="store_true", help="Exit 1 when a target fails.")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    suite = gates_from_dict(yaml.safe_load(GATES))
    gate_url = f"{args.db}{'&' if '?' in args.db else '?'}schema={SCHEMA}"
    try:
        with psycopg.connect(args.db, autocommit=True) as conn:
            started = time.perf_counter()
            print(f"building {args.rows:,} rows in schema {SCHEMA} ...", flush=True)
            build(conn, args.rows, args.parents)
            build_s = time.perf_counter() - started
            print(f"built in {build_s:.1f}s", flush=True)
        # Warm the caches once, so neither side pays for the first read.
        for query in HAND_WRITTEN.values():
            timed_hand_written(args.db, query)

        hand: dict[str, list[float]] = {name: [] for name in HAND_WRITTEN}
        gate: dict[str, list[float]] = {name: [] for name in HAND_WRITTEN}
        expected: dict[str, int] = {}
        counts: dict[str, int | None] = {}
        run_totals: list[float] = []
        hand_totals: list[float] = []
        for round_no in range(args.rounds):
            hand_total = 0.0
            for name, query in HAND_WRITTEN.items():
                elapsed, expected[name] = timed_hand_written(args.db, query)
                hand[name].append(elapsed)
                hand_total += elapsed
            hand_totals.append(hand_total)
            started = time.perf_counter()
            with GateRunner(gate_url, statement_timeout=timedelta(hours=1)) as runner:
                run = runner.run(suite.gates, suite="bench")
            run_totals.append(time.perf_counter() - started)
            for result in run.results:
                gate[result.name].append(result.duration_s)
                counts[result.name] = result.count
                if result.error:
                    print(f"{result.name}: {result.error}", file=sys.stderr)
            print(f"round {round_no + 1}/{args.rounds} done", flush=True)
    finally:
        if not args.keep:
            with psycopg.connect(args.db, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA))
                )

    rows_out: list[dict[str, Any]] = []
    ok = True
    print()
    print(f"{'gate':<22}{'hand-written s':>16}{'gate s':>10}{'ratio':>8}  count      target")
    for name in HAND_WRITTEN:
        h, g = statistics.median(hand[name]), statistics.median(gate[name])
        ratio = g / h
        same = counts.get(name) == expected.get(name)
        passed = ratio <= TARGET and same
        ok &= passed
        verdict = "PASS" if passed else "FAIL"
        note = "" if same else f" (count {counts.get(name)} != {expected.get(name)})"
        print(f"{name:<22}{h:>16.3f}{g:>10.3f}{ratio:>8.2f}  {expected[name]:<10,} {verdict}{note}")
        rows_out.append(
            {"gate": name, "hand_written_s": h, "gate_s": g, "ratio": ratio,
             "count": counts.get(name), "expected": expected.get(name), "pass": passed}
        )  # fmt: skip
    total_h, total_g = statistics.median(hand_totals), statistics.median(run_totals)
    total_ratio = total_g / total_h
    total_ok = total_ratio <= TARGET
    ok &= total_ok
    print(
        f"{'whole run':<22}{total_h:>16.3f}{total_g:>10.3f}{total_ratio:>8.2f}  "
        f"{'':<10} {'PASS' if total_ok else 'FAIL'}"
    )
    print(f"\nmedian of {args.rounds} rounds; {args.rows:,} rows; target ratio <= {TARGET}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "rows": args.rows,
                "rounds": args.rounds,
                "build_s": build_s,
                "gates": rows_out,
                "whole_run": {"hand_written_s": total_h, "gates_s": total_g, "ratio": total_ratio},
                "target": TARGET,
                "pass": ok,
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            },
            indent=2,
        )
        + "\n"
    )
    return 1 if (args.strict and not ok) else 0


if __name__ == "__main__":
    sys.exit(main())
