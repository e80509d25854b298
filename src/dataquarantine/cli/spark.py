"""``validate --engine spark``: the same run on Apache Spark, with the default engine's summary.

The contract is resolved on the driver from the registry (``DQ_CONTRACTS_URL`` or the folder)
at each run, so a long-running driver sees newly registered versions. The counts come back
from Spark (an ``Observation``) and are shaped as the default engine's
:class:`~dataquarantine.runner.RunSummary`, so the summary and the ``--json`` document are the
same renderer's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dataquarantine.cli.common import open_contracts
from dataquarantine.errors import ConfigError
from dataquarantine.extras import require_extra
from dataquarantine.remediation import Remediation
from dataquarantine.runner import ContractCounts, RunSummary

if TYPE_CHECKING:
    from dataquarantine.settings import Settings

__all__ = ["validate_on_spark"]


def validate_on_spark(
    inputs: Sequence[str],
    *,
    contract: str | None,
    fmt: str | None,
    settings: Settings,
    valid_out: Path | None,
    run_id: str | None,
    master: str | None,
    progress: bool,
    remediate: bool,
) -> RunSummary:
    """Run ``inputs`` through Spark into the configured quarantine store; the run's summary."""
    require_extra("spark", "--engine spark")
    if contract is None:
        raise ConfigError(
            "--engine spark needs --contract NAME[@VERSION]: routing each record by its "
            "_schema field is not supported on Spark yet"
        )
    from dataquarantine.validation.registry import Router

    live = open_contracts(settings)
    try:
        forced = Router(live.registry, contract=contract).forced
    finally:
        live.close()
    assert forced is not None  # a forced Router resolved it (or raised)
    if remediate and forced.spec.remediation:
        raise ConfigError(
            f"{forced.ref} has remediation rules and the double pass does not run on Spark "
            "yet: pass --no-remediate (its invalid records are then quarantined as they are)"
        )
    from dataquarantine.spark.run import validate_files

    result = validate_files(
        inputs,
        forced,
        fmt=fmt,
        store=settings.store_url,
        payloads=settings.payloads_url,
        valid_out=str(valid_out) if valid_out is not None else None,
        run_id=run_id,
        master=master,
        progress=progress,
        max_record_bytes=settings.max_record_bytes or None,
    )
    summary = RunSummary(
        run_id=result.run_id,
        total=result.total,
        valid=result.valid,
        quarantined=result.quarantined,
        warned=result.warned,
        by_code=Counter(result.by_code),
        violations_by_code=Counter(result.violations_by_code),
        inputs=list(inputs),
        seconds=result.seconds,
        remediation=Remediation().stats.to_dict() if remediate else {},
    )
    if result.total:
        summary.by_contract[result.contract] = ContractCounts(
            result.total, result.valid, result.quarantined
        )
    return summary
