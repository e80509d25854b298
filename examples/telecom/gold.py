"""The gold layer: run the dbt project (``gold/``) and print its answers.

``dbt build`` takes the snapshots (SCD2 customers and agents), the complaint fact and the
accumulating snapshot, then the tests, whose failing rows dbt stores; the pipeline then reads
them into the quarantine (``dataquarantine.airflow.dbt_failures``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg
from psycopg import sql

HERE = Path(__file__).resolve().parent
PROJECT = HERE / "gold"


def gold_schema(silver: str) -> str:
    return f"{silver}_gold"


def dbt_executable() -> str | None:
    """``DQ_DBT`` when set, else the ``dbt`` beside this interpreter, else on the PATH."""
    if os.environ.get("DQ_DBT"):
        return os.environ["DQ_DBT"]
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else shutil.which("dbt")


def dbt_env(url: str, silver: str, target: Path) -> dict[str, str]:
    """The environment of a dbt run on the database of ``url`` (profiles.yml reads it)."""
    parts = urlsplit(url)
    return {
        **os.environ,
        "DQ_GOLD_HOST": parts.hostname or "127.0.0.1",
        "DQ_GOLD_PORT": str(parts.port or 5432),
        "DQ_GOLD_USER": unquote(parts.username or "postgres"),
        "DQ_GOLD_PASSWORD": unquote(parts.password or ""),
        "DQ_GOLD_DBNAME": parts.path.lstrip("/") or "postgres",
        "DQ_SILVER_SCHEMA": silver,
        "DQ_GOLD_SCHEMA": gold_schema(silver),
        "DBT_TARGET_PATH": str(target / "target"),
        "DBT_LOG_PATH": str(target / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def run_dbt(url: str, silver: str, work: Path, *args: str) -> Path:
    """``dbt build`` (or ``args``) of the gold project; dbt's target folder. A failing
    error-severity test fails it (warnings do not)."""
    dbt = dbt_executable()
    if dbt is None:
        raise FileNotFoundError("dbt is not installed (make airflow-tools installs it)")
    target = work / "dbt"
    cmd = [dbt, *(args or ("build",)), "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT)]
    proc = subprocess.run(
        cmd, env=dbt_env(url, silver, target), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"dbt {' '.join(args or ('build',))} failed:\n{proc.stdout[-4000:]}")
    return target / "target"


def schema_of(url: str) -> str:
    return parse_qs(urlsplit(url).query).get("schema", ["public"])[0]


def base_url(url: str) -> str:
    return url.split("?", 1)[0]


def answers(url: str, silver: str) -> dict[str, Any]:
    """The gold answers: time in each status of the ten longest complaints, and the SCD2
    history of the customer who moved."""
    import generate

    gold = sql.Identifier(gold_schema(silver))
    with psycopg.connect(base_url(url), connect_timeout=10) as conn:
        longest = conn.execute(
            sql.SQL(
                "SELECT complaint_id, current_status, opened_at, seconds_open,"
                " seconds_in_progress, seconds_escalated, seconds_resolved, status_changes"
                " FROM {}.acc_complaint_lifecycle ORDER BY coalesce(seconds_open, 0)"
                " + coalesce(seconds_in_progress, 0) + coalesce(seconds_escalated, 0)"
                " + coalesce(seconds_resolved, 0) DESC, complaint_id LIMIT 10"
            ).format(gold)
        ).fetchall()
        mover = conn.execute(
            sql.SQL(
                "SELECT customer_id, city, state, valid_from, valid_to, is_current"
                " FROM {}.dim_customers WHERE customer_id = %s ORDER BY valid_from"
            ).format(gold),
            (generate.MOVER,),
        ).fetchall()
    return {"longest": longest, "mover": mover}


def _span(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    days, rest = divmod(int(seconds), 86_400)
    return f"{days}d{rest // 3600:02d}h{rest % 3600 // 60:02d}m"


def print_answers(url: str, silver: str) -> None:
    got = answers(url, silver)
    print("\n== gold: time in each status, the ten longest complaints (acc_complaint_lifecycle)")
    print(f"  {'complaint':<12} {'now':<12} {'open':>10} {'in_progress':>11} "
          f"{'escalated':>10} {'resolved':>10} changes")
    for cid, status, _, s_open, s_prog, s_esc, s_res, changes in got["longest"]:
        print(f"  {cid:<12} {status:<12} {_span(s_open):>10} {_span(s_prog):>11} "
              f"{_span(s_esc):>10} {_span(s_res):>10} {changes:>7}")
    print("\n== gold: SCD2 history of the customer who moved (dim_customers)")
    for cid, city, state, valid_from, valid_to, current in got["mover"]:
        until = "now" if valid_to is None else f"{valid_to:%Y-%m-%d %H:%M:%S}"
        print(f"  {cid}  {city}, {state}  {valid_from:%Y-%m-%d %H:%M:%S} -> {until}"
              f"{'  (current)' if current else ''}")
