"""Run the telecom DAG (dags/telecom_pipeline.py) for days 1..N with ``dag.test()``, then print
the gold answers: what ``make example-telecom`` does when Airflow is installed.

``dag.test()`` runs every task in this process, against a local Airflow metadata database
(SQLite under ``AIRFLOW_HOME``, created here when missing); the connection ``telecom_pg`` comes
from ``AIRFLOW_CONN_TELECOM_PG``, set here from ``--db`` and ``--schema``.

Usage: python examples/telecom/airflow_run.py [--db URL] [--schema NAME] [--days N] [--reset]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
    os.environ.setdefault("AIRFLOW__OPENLINEAGE__DISABLED", "True")
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


def run_day(dag: object, day: int) -> str:
    """One ``dag.test()`` of ``day``; the run's state."""
    when = datetime(2026, 1, 5, tzinfo=UTC) + timedelta(days=day - 1)
    run = dag.test(logical_date=when)  # type: ignore[attr-defined]
    return str(run.state)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--schema", default="telecom_example")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(".dataquarantine/example-telecom-airflow"))
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

    for day in range(1, args.days + 1):
        started = time.perf_counter()
        state = run_day(dag, day)
        print(f"day {day}: {state} in {time.perf_counter() - started:.1f}s", flush=True)
        if state != "success":
            return 1
    gold.print_answers(args.db, args.schema)
    return 0


if __name__ == "__main__":
    sys.exit(main())
