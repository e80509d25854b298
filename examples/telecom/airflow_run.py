"""Run the telecom DAG (dags/telecom_pipeline.py) for days 1..N with ``dag.test()``, then print
the gold answers: what ``make example-telecom`` does when Airflow is installed.

``dag.test()`` runs every task in this process, against a local Airflow metadata database
(SQLite under ``AIRFLOW_HOME``, created here when missing); the connection ``telecom_pg`` comes
from ``AIRFLOW_CONN_TELECOM_PG``, set here from ``--db`` and ``--schema``.

Usage: python examples/telecom/airflow_run.py [--db URL] [--schema NAME] [--days N] [--reset]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from collections.abc import Iterator
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

DEFAULT_DB = os.environ.get("DQ_EXAMPLE_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def airflow_env(home: Path, db: str, schema: str, work: Path) -> None:
    """The environment of an in-process Airflow: its home, metadata DB and the connection."""
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("AIRFLOW_HOME", str(home))
    os.environ.setdefault(
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home / 'airflow.db'}"
    )
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(HERE / "dags"))
    # OpenLineage events (when the provider is installed) go to a file of the work folder.
    os.environ.setdefault(
        "AIRFLOW__OPENLINEAGE__TRANSPORT",
        json.dumps({"type": "file", "log_file_path": str(work / "openlineage.jsonl"), "append": True}),
    )
    os.environ["AIRFLOW_CONN_TELECOM_PG"] = f"{db.split('?', 1)[0]}?schema={schema}"
    os.environ["DQ_TELECOM_WORK"] = str(work)


def migrate(home: Path) -> None:
    """``airflow db migrate`` once per home (stamped)."""
    stamp = home / ".migrated"
    if stamp.exists():
        return
    airflow = Path(sys.executable).parent / "airflow"
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True)
    stamp.touch()


@contextlib.contextmanager
def logs_to(path: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (Airflow's task logs) to ``path`` meanwhile."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def run_day(dag: Any, day: int, log: Path) -> dict[str, Any]:
    """One ``dag.test()`` of ``day`` (its logs to ``log``): the run's state and each task's."""
    when = datetime(2026, 1, 5, tzinfo=UTC) + timedelta(days=day - 1)
    with logs_to(log):
        run = dag.test(logical_date=when)
    tasks = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    return {"day": day, "state": str(run.state), "tasks": tasks}


def graph(dag: Any) -> dict[str, list[str]]:
    """Each task's direct upstream tasks."""
    return {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--schema", default="telecom_example")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(".dataquarantine/example-telecom-airflow"))
    parser.add_argument("--from-day", type=int, default=1, help="the first day to run")
    parser.add_argument("--report", type=Path, help="write the runs and the DAG's edges (JSON)")
    parser.add_argument("--quiet", action="store_true", help="no gold answers")
    parser.add_argument("--reset", action="store_true", help="drop the schemas and files first")
    args = parser.parse_args(argv)
    work = args.work.resolve()
    if args.reset:
        import shutil

        import psycopg
        from psycopg import sql

        import gold

        with psycopg.connect(args.db.split("?", 1)[0], autocommit=True) as conn:
            for name in (args.schema, gold.gold_schema(args.schema),
                         gold.gold_schema(args.schema) + "_dbt_test__audit"):
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
        shutil.rmtree(work, ignore_errors=True)
    airflow_env(work / "airflow-home", args.db, args.schema, work)
    migrate(work / "airflow-home")
    from dags.telecom_pipeline import dag

    import gold

    runs = []
    for day in range(args.from_day, args.days + 1):
        started = time.perf_counter()
        got = run_day(dag, day, work / "airflow.log")
        got["seconds"] = round(time.perf_counter() - started, 1)
        runs.append(got)
        skipped = sorted(t for t, s in got["tasks"].items() if s == "skipped")
        print(f"day {day}: {got['state']} in {got['seconds']}s (logs: {work / 'airflow.log'})")
        print(f"  skipped: {', '.join(skipped) or 'nothing'}", flush=True)
        if got["state"] != "success":
            break
    if args.report:
        args.report.write_text(json.dumps({"runs": runs, "graph": graph(dag)}, indent=2))
    if any(r["state"] != "success" for r in runs):
        return 1
    if not args.quiet:
        gold.print_answers(args.db, args.schema)
    return 0


if __name__ == "__main__":
    sys.exit(main())
