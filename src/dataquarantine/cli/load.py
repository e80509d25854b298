"""``dataquarantine load``: batch conformance load of a staging table (or file) on PostgreSQL.

Exit codes, as for ``validate``: 0 the load completed (quarantined rows are a normal outcome),
1 runtime failure (database or store unreachable, a statement failed: the batch rolled back and
``--resume`` continues), 2 usage or contract error (bad identifier, missing table or column).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dataquarantine.cli.common import (
    ContractsUrlOpt,
    JsonOpt,
    MetricsFileOpt,
    MetricsJobOpt,
    MetricsPushOpt,
    MetricsTarget,
    PayloadsOpt,
    StoreOpt,
    current_run_id,
    exit_codes,
    open_contracts,
    open_quarantine,
    settings_from,
)

if TYPE_CHECKING:
    from dataquarantine.load.report import LoadSummary
    from dataquarantine.settings import Settings
    from dataquarantine.validation.contract import Contract

__all__ = ["load_command"]


def load_command(
    db: Annotated[
        str,
        typer.Option(
            "--db",
            envvar="DQ_LOAD_DB",
            help="postgresql://USER@HOST:PORT/DB[?schema=NAME]; schema= sets search_path.",
        ),
    ],
    contract: Annotated[
        str,
        typer.Option(
            "--contract",
            help="The contract YAML file, with a 'load:' section; or NAME[@VERSION] of the "
            "contract registry (--contracts-url / DQ_CONTRACTS_URL; default: latest).",
        ),
    ],
    staging: Annotated[
        str | None,
        typer.Option(
            "--staging", help="Staging table, or a .csv/.jsonl/.parquet file (overrides load:)."
        ),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, help="Rows per batch [100,000].")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the last unfinished run of this load.")
    ] = False,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Name this run.")] = None,
    store: StoreOpt = None,
    payloads: PayloadsOpt = None,
    contracts_url: ContractsUrlOpt = None,
    as_json: JsonOpt = False,
    metrics_push: MetricsPushOpt = None,
    metrics_file: MetricsFileOpt = None,
    metrics_job: MetricsJobOpt = None,
) -> None:
    """Quarantine orphans and invalid rows, upsert the rest, track changes, in batches."""
    from dataquarantine.cli import render
    from dataquarantine.extras import require_extra

    target = MetricsTarget(metrics_push, metrics_file, metrics_job)
    from dataquarantine.cli import lineage

    rid = run_id or current_run_id() or ""
    with (
        exit_codes(),
        _exported(target, rid) as record,
        lineage.emitting("load", f"load:{_job_name(contract)}", rid) as lineage_record,
    ):
        require_extra("postgres", "dataquarantine load")
        from dataquarantine.load import LoadOptions, LoadRun

        settings = settings_from(None, store, payloads, contracts_url=contracts_url)
        compiled = _contract(contract, settings)
        options = LoadOptions(staging=staging, batch_size=batch_size, resume=resume, run_id=run_id)
        run = LoadRun(compiled, db, options)
        quarantine = open_quarantine(settings)
        try:
            summary = run.run(quarantine)
        finally:
            quarantine.close()
        record(summary)
        settings = settings_from(None, store, payloads)
        lineage_record(lineage.of_load(summary, compiled, db, settings.store_url))
        if as_json:
            render.print_json(summary.to_dict())
        else:
            for line in summary.lines():
                render.console.print(line, markup=False)


def _contract(ref: str, settings: Settings) -> Contract:
    """The contract file ``ref``, else ``NAME[@VERSION]`` as the registry has it now (a load
    uses one version from start to end)."""
    from dataquarantine.validation.contract import Contract
    from dataquarantine.validation.registry import split_ref

    if Path(ref).is_file():
        return Contract.from_file(ref)
    live = open_contracts(settings)
    try:
        name, version = split_ref(ref)
        return live.registry.get(name, version)
    finally:
        live.close()


@contextlib.contextmanager
def _exported(target: MetricsTarget, run_id: str) -> Iterator[Callable[[LoadSummary], None]]:
    """Export the run's metrics when asked (the metrics extra: prometheus-client)."""
    if not target.wanted:
        yield lambda summary: None
        return
    from dataquarantine.extras import require_extra

    require_extra("metrics", "--metrics-push / --metrics-file")
    from dataquarantine.cli.run_metrics import exporting, report_of_load

    with exporting(target, "load", run_id, report_of_load) as record:
        yield record


def _job_name(contract: str) -> str:
    """The lineage job's name: the contract file's stem, or the registry's NAME[@VERSION]."""
    return Path(contract).stem if contract.endswith((".yaml", ".yml")) else contract
