"""``validate --engine spark``: the same run on Apache Spark, with the default engine's summary.

The contracts are resolved on the driver from the registry (``DQ_CONTRACTS_URL`` or the
folder) at each run, and shipped to the executors: ``--contract`` forces one, otherwise each
record (JSON line, CSV record, Parquet row) is routed by its ``_schema`` field as the default
engine routes it. JSON lines and CSV may be read from ``s3://`` (boto3), Parquet from any
filesystem the cluster has. The counts come back
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
from dataquarantine.extras import require_extra
from dataquarantine.runner import (
    NO_CONTRACT,
    UNKNOWN_SCHEMA,
    VALID_LABEL,
    ContractCounts,
    RunSummary,
)

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
    from dataquarantine.validation.registry import Router

    live = open_contracts(settings)
    try:
        registry = live.registry
        forced = Router(registry, contract=contract).forced if contract is not None else None
    finally:
        live.close()
    from dataquarantine.spark.run import validate_files

    result = validate_files(
        inputs,
        forced if forced is not None else registry,
        fmt=fmt,
        store=settings.store_url,
        payloads=settings.payloads_url,
        valid_out=str(valid_out) if valid_out is not None else None,
        run_id=run_id,
        master=master,
        progress=progress,
        max_record_bytes=settings.max_record_bytes or None,
        remediate=remediate,
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
        remediated=result.remediated,
        remediation=result.remediation if remediate else {},
    )
    for (schema, outcome), n in result.by_schema.items():
        label = VALID_LABEL if outcome == "valid" else outcome
        summary.by_schema[(schema or UNKNOWN_SCHEMA, label)] = n
    for ref, (total, valid, quarantined) in result.by_contract.items():
        fixed = result.remediated_by_contract.get(ref, 0)
        summary.by_contract[ref or NO_CONTRACT] = ContractCounts(total, valid, quarantined, fixed)
    return summary
