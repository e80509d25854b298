"""The telecom pipeline as an Airflow 3 DAG: sources -> bronze -> double-pass -> silver -> gates
-> gold (dbt), once a day.

* **Connections.** ``telecom_pg`` (type ``postgres``; its ``schema`` extra is the example's
  schema), e.g. ``AIRFLOW_CONN_TELECOM_PG='postgresql://postgres@127.0.0.1:5432/test?schema=telecom_example'``.
  It holds the ticketing system's table, the silver tables, the quarantine store, the load's
  checkpoints and the static-load state; gold goes to ``<schema>_gold``.
* **The day** is the logical date's distance from the generator's first day (2026-01-05).
* **Static sources** (customers, agents) go through a branch: they are validated and loaded on
  the first run, and then only when the checksum of their bronze file changed
  (``static_state.py`` says where that is recorded, and why). Complaints, social complaints and
  call logs load on every run.
* **Shortest path.** Each source's bronze and double-pass tasks depend only on the drop; a fact
  loads as soon as its double-pass and the dimensions it references are done.

Settings (environment): ``DQ_TELECOM_WORK`` (files; default ``.dataquarantine/example-telecom-
airflow``), ``DQ_TELECOM_SIZES`` (``customers=300,agents=20,...``), ``DQ_DBT`` (the dbt command).
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, TriggerRule, get_current_context, task

from dataquarantine.airflow.operators import (
    GatesOperator,
    LoadOperator,
    ValidateOperator,
    resolve_db,
)

EXAMPLE = Path(__file__).resolve().parents[1]
if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))

CONN_ID = "telecom_pg"
FIRST_DAY = date(2026, 1, 5)
STATIC = ("customers", "agents")
#: Which dimensions each fact references (its load waits for them, and only them).
PARENTS = {
    "complaints": ("customers", "agents"),
    "social_complaints": ("customers",),
    "call_logs": ("customers", "agents"),
}
CONTRACTS = EXAMPLE / "contracts"
SIZES = ("customers", "agents", "complaints", "social", "calls")


def work_dir() -> Path:
    return Path(os.environ.get("DQ_TELECOM_WORK", ".dataquarantine/example-telecom-airflow")).resolve()


def sizes() -> dict[str, int]:
    """``DQ_TELECOM_SIZES`` over the generator's defaults."""
    import argparse

    import generate

    parser = argparse.ArgumentParser()
    generate.add_size_options(parser)
    defaults = vars(parser.parse_args([]))
    out = {k: int(defaults[k]) for k in SIZES}
    for item in filter(None, os.environ.get("DQ_TELECOM_SIZES", "").split(",")):
        key, _, value = item.partition("=")
        out[key.strip()] = int(value)
    return out


def db() -> tuple[str, str]:
    """The connection's URL without ``?schema=``, and the schema."""
    import gold

    url = resolve_db(CONN_ID)
    return gold.base_url(url), gold.schema_of(url)


def day_of(logical_date: datetime | None) -> int:
    when = (logical_date or datetime.now(UTC)).date()
    return max(1, (when - FIRST_DAY).days + 1)


def payloads_url() -> str:
    return (work_dir() / "payloads").as_uri()


with DAG(
    dag_id="telecom_pipeline",
    description="CoreTelecoms complaints: bronze, double-pass, silver load, gates, gold (dbt)",
    start_date=datetime(2026, 1, 5, tzinfo=UTC),
    schedule="@daily",
    catchup=False,
    max_active_runs=1,
    default_args={"retries": int(os.environ.get("DQ_TELECOM_RETRIES", "2")), "retry_delay": timedelta(seconds=30)},
    tags=["dataquarantine", "example"],
) as dag:

    @task
    def drop() -> int:
        """The operational systems' drop of the day: the files and the ticketing table."""
        import generate
        import run

        url, schema = db()
        day = day_of(get_current_context()["logical_date"])
        run.prepare_db(url, schema, reset=False)
        made = generate.generate(seed=20260105, day=day, **sizes())
        generate.write_sources(made, work_dir() / "raw", db=url, schema=schema)
        return day

    @task
    def manifest(entries: list[dict[str, Any]]) -> dict[str, str]:
        """The lineage manifest of the run's bronze files; their checksums by table."""
        import bronze

        run_id = get_current_context()["run_id"]
        lineage = [bronze.LineageEntry(**e) for e in entries]
        bronze.write_manifest(lineage, work_dir() / "bronze" / "manifest.json", run_id)
        return {e.source: e.sha256 for e in lineage}

    day = drop()
    done: dict[str, Any] = {}
    entries = []
    for source in ("customers", "agents", "complaints", "social_complaints", "call_logs"):

        @task(task_id=f"bronze_{source}")
        def extract(table: str = source) -> dict[str, Any]:
            """The source, as extracted, to bronze Parquet; its manifest entry."""
            from dataclasses import asdict

            import run

            url, schema = db()
            src = next(s for s in run.SOURCES if s.table == table)
            run_id = get_current_context()["run_id"]
            entry = run.extract(src, work_dir() / "raw", work_dir() / "bronze", url, schema, run_id)
            return asdict(entry)

        bronze_task = extract()
        day >> bronze_task
        entries.append(bronze_task)
        validate = ValidateOperator(
            task_id=f"validate_{source}",
            files=str(work_dir() / "bronze" / f"{source}.parquet"),
            contract=f"telecom.{source}",
            contracts=str(CONTRACTS),
            valid_out=str(work_dir() / "cleaned" / f"{source}.parquet"),
            store=CONN_ID,
            payloads=payloads_url(),
            run_name="{{ run_id }}." + source,
        )
        load = LoadOperator(
            task_id=f"load_{source}",
            db=CONN_ID,
            contract=str(CONTRACTS / f"{source}.yaml"),
            staging=str(work_dir() / "cleaned" / f"{source}.parquet"),
            payloads=payloads_url(),
            run_name="{{ run_id }}." + source,
        )
        validate >> load
        if source in STATIC:

            @task.branch(task_id=f"{source}_changed")
            def changed(entry: dict[str, Any], table: str = source) -> str:
                """Load when the bronze checksum differs from the last loaded one."""
                import static_state

                url, schema = db()
                last = static_state.last_loaded(url, schema, table)
                if last == entry["sha256"]:
                    print(f"{table}: unchanged since its last load ({last[:16]}): skipped")
                    return f"skip_{table}"
                print(f"{table}: {'first load' if last is None else 'source changed'}")
                return f"validate_{table}"

            @task(task_id=f"remember_{source}")
            def remember(entry: dict[str, Any], table: str = source) -> None:
                import static_state

                url, schema = db()
                run_id = get_current_context()["run_id"]
                static_state.remember(url, schema, table, entry["sha256"], run_id)

            skip = EmptyOperator(task_id=f"skip_{source}")
            ready = EmptyOperator(
                task_id=f"{source}_ready", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS
            )
            changed(bronze_task) >> [validate, skip]
            load >> remember(bronze_task) >> ready
            skip >> ready
            done[source] = ready
        else:
            bronze_task >> validate
            done[source] = load
    for fact, parents in PARENTS.items():
        for parent in parents:
            done[parent] >> done[fact]

    written = manifest(entries)
    gates = GatesOperator(
        task_id="gates",
        db=CONN_ID,
        gates_file=str(EXAMPLE / "gates.yaml"),
        junit=str(work_dir() / "gates.junit.xml"),
    )
    [done[t] for t in done] >> gates
    written >> gates

    @task
    def gold_build() -> str:
        """dbt build: snapshots (SCD2), the fact, the accumulating snapshot, the tests."""
        import gold

        url, schema = db()
        return str(gold.run_dbt(url, schema, work_dir()))

    @task
    def gold_failures(target: str) -> dict[str, int]:
        """The rows of the failed (and warning) dbt tests into the quarantine."""
        from dataquarantine.airflow.dbt_failures import quarantine_failures
        from dataquarantine.quarantine.service import Quarantine

        url, schema = db()
        quarantine = Quarantine.open(resolve_db(CONN_ID), payloads_url())
        try:
            return quarantine_failures(
                target, url, quarantine, project="telecom_gold", run_id=get_current_context()["run_id"]
            )
        finally:
            quarantine.close()

    built = gold_build()
    gates >> built
    gold_failures(built)
