"""``dataquarantine load``: batch conformance load of a staging table (or file) on PostgreSQL.

Exit codes, as for ``validate``: 0 the load completed (quarantined rows are a normal outcome),
1 runtime failure (database or store unreachable, a statement failed: the batch rolled back and
``--resume`` continues), 2 usage or contract error (bad identifier, missing table or column).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dataquarantine.cli.common import (
    JsonOpt,
    PayloadsOpt,
    StoreOpt,
    exit_codes,
    open_quarantine,
    settings_from,
)

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
        Path, typer.Option("--contract", help="The contract YAML file, with a 'load:' section.")
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
    as_json: JsonOpt = False,
) -> None:
    """Quarantine orphans and invalid rows, upsert the rest, track changes, in batches."""
    from dataquarantine.cli import render
    from dataquarantine.extras import require_extra
    from dataquarantine.validation.contract import Contract

    with exit_codes():
        require_extra("postgres", "dataquarantine load")
        from dataquarantine.load import LoadOptions, LoadRun

        compiled = Contract.from_file(contract)
        options = LoadOptions(staging=staging, batch_size=batch_size, resume=resume, run_id=run_id)
        run = LoadRun(compiled, db, options)
        quarantine = open_quarantine(settings_from(None, store, payloads))
        try:
            summary = run.run(quarantine)
        finally:
            quarantine.close()
        if as_json:
            render.print_json(summary.to_dict())
        else:
            for line in summary.lines():
                render.console.print(line, markup=False)
