"""OpenLineage run events of ``validate``, ``load`` and ``gates run`` (the ``lineage`` extra:
openlineage-python).

Off unless the client is configured in its standard way: ``OPENLINEAGE_URL``,
``OPENLINEAGE_CONFIG``, or an ``openlineage.yml`` in the working folder or
``~/.openlineage/`` (``OPENLINEAGE_DISABLED=true`` turns it off again). A run emits START,
then COMPLETE or FAIL. The COMPLETE event's inputs carry ``dataQualityAssertions`` (one per
contract check, rule or gate: ``success``, the column where one applies, the failing records
as ``actual``) and ``dataQualityMetrics`` (``rowCount``); its outputs are the valid sink and
the quarantine, with ``outputStatistics.rowCount``. An event that cannot be sent (endpoint
down, extra missing) is a warning: it never fails the run.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from dataquarantine.masking import mask_secrets

if TYPE_CHECKING:
    from dataquarantine.gates.model import GateSuite
    from dataquarantine.gates.runner import GateRun
    from dataquarantine.load.report import LoadSummary
    from dataquarantine.runner import RunSummary
    from dataquarantine.validation.contract import Contract
    from dataquarantine.validation.registry import ContractRegistry

__all__ = [
    "Check",
    "Emitter",
    "LineageDataset",
    "LineageReport",
    "configured",
    "emitting",
    "of_gates",
    "of_load",
    "of_validation",
    "open_emitter",
]

log = logging.getLogger("dataquarantine.lineage")

PRODUCER: Final = "https://github.com/dataquarantine/dataquarantine"
_RUN_NAMESPACE: Final = uuid.UUID("5b0e1f42-8c1d-5f7b-9a53-3c2e6f0d4a18")


def configured() -> bool:
    """True when the OpenLineage client is configured (see the module doc)."""
    if os.environ.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true":
        return False
    if os.environ.get("OPENLINEAGE_URL") or os.environ.get("OPENLINEAGE_CONFIG"):
        return True
    return (
        Path("openlineage.yml").is_file()
        or (Path.home() / ".openlineage/openlineage.yml").is_file()
    )


@dataclass(frozen=True, slots=True)
class Check:
    """One assertion: a contract check, rule or gate, and how many records failed it."""

    assertion: str
    name: str
    success: bool
    column: str | None = None
    failed: int | None = None
    severity: str | None = None


@dataclass(frozen=True, slots=True)
class LineageDataset:
    namespace: str
    name: str
    checks: tuple[Check, ...] = ()
    row_count: int | None = None
    null_counts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LineageReport:
    """The datasets of a finished run (outputs: ``(dataset, rows written)``)."""

    inputs: tuple[LineageDataset, ...]
    outputs: tuple[tuple[LineageDataset, int | None], ...] = ()


def _store(url: str) -> LineageDataset:
    """The quarantine as a dataset: the store's URL (credentials masked) and its table."""
    return LineageDataset(mask_secrets(url.split("?", 1)[0]), "dq_quarantine")


def _file(path: str) -> LineageDataset:
    if path == "-":
        return LineageDataset("stdin", "-")
    return LineageDataset("file", str(Path(path).resolve()))


_SCHEMA_CODES: Final = ("schema_violation", "parse_error")


def _contract_checks(
    find: Callable[[str], Contract | None],
    counts: Counter[tuple[str, str, str]],
    refs: Sequence[str],
    *,
    detailed: bool,
) -> list[Check]:
    """Per contract version: its schema and, ``detailed`` (counts per rule and path, as
    ``validate`` has them), the failing schema paths and each rule; otherwise (``load``: counts
    per code) one assertion for the rules and one for the references."""
    checks: list[Check] = []
    for ref in refs:
        contract = find(ref)
        mine = {(c, p): n for (r, c, p), n in counts.items() if r == ref}
        by_code: Counter[str] = Counter()
        for (check, _), n in mine.items():
            by_code["rule_violation" if check.startswith("rule:") else check] += n
        schema_bad = sum(by_code[c] for c in _SCHEMA_CODES)
        checks.append(Check("schema", f"{ref}:schema", schema_bad == 0, None, schema_bad))
        rules = contract.spec.rules if contract is not None else ()
        if not detailed:
            if rules:
                n = by_code["rule_violation"]
                checks.append(Check("rule", f"{ref}:rules", n == 0, None, n))
            if contract is not None and contract.spec.references:
                n = by_code["fk_violation"]
                checks.append(Check("foreign_key", f"{ref}:references", n == 0, None, n))
            continue
        for (check, path), n in sorted(mine.items()):
            if check in _SCHEMA_CODES and path:
                checks.append(Check("schema", f"{ref}:schema", False, path.lstrip("/"), n))
        for rule in rules:
            n = mine.get((f"rule:{rule.id}", rule.path), 0)
            column = rule.field.lstrip("/") if rule.field else None
            checks.append(Check("rule", rule.id, n == 0, column, n, rule.severity.value))
    return checks


def of_validation(
    summary: RunSummary,
    registry: ContractRegistry,
    inputs: Sequence[str],
    valid_out: Path | None,
    store_url: str,
) -> LineageReport:
    """``validate``: each input file, the valid output (if any) and the quarantine."""
    refs = [r for r in summary.by_contract if "@" in r]
    checks = tuple(_contract_checks(registry.find, summary.failures, refs, detailed=True))
    datasets = tuple(
        LineageDataset(d.namespace, d.name, checks, summary.total if len(inputs) == 1 else None)
        for d in map(_file, inputs)
    )
    outputs: list[tuple[LineageDataset, int | None]] = [(_store(store_url), summary.quarantined)]
    if valid_out is not None:
        outputs.insert(0, (_file(str(valid_out)), summary.valid))
    return LineageReport(datasets, tuple(outputs))


def of_load(summary: LoadSummary, contract: Contract, db_url: str, store_url: str) -> LineageReport:
    """``load``: the staging table (or file) in, the target table and the quarantine out."""
    c = summary.counts
    namespace = mask_secrets(db_url.split("?", 1)[0])
    ref = f"{summary.contract}@{summary.version}"
    failures: Counter[tuple[str, str, str]] = Counter(
        {(ref, code, ""): n for code, n in c.quarantined.items()}
    )
    checks = tuple(_contract_checks(lambda _: contract, failures, [ref], detailed=False))
    total = c.loaded + sum(c.quarantined.values())
    staging = (
        _file(summary.staging)
        if summary.staging.lower().endswith((".csv", ".jsonl", ".ndjson", ".parquet"))
        else LineageDataset(namespace, summary.staging)
    )
    inputs = (LineageDataset(staging.namespace, staging.name, checks, total),)
    outputs = (
        (LineageDataset(namespace, summary.target), c.loaded),
        (_store(store_url), sum(c.quarantined.values())),
    )
    return LineageReport(inputs, outputs)


def _gate_dataset(gate: Any) -> tuple[str | None, str | None]:
    """``(table, column)`` a gate is about."""
    if gate.kind == "relationship":
        return gate.child.table, gate.child.column
    column = getattr(gate, "column", None)
    columns = getattr(gate, "columns", None) or getattr(gate, "key", None)
    if column is None and columns:
        column = ",".join(columns)
    return getattr(gate, "table", None), column


def of_gates(run: GateRun, suite: GateSuite, db_url: str) -> LineageReport:
    """``gates run``: one input per table the gates name (``sql`` gates: the database)."""
    namespace = mask_secrets(db_url.split("?", 1)[0])
    by_name = {g.name: g for g in suite.gates}
    tables: dict[str, list[Check]] = {}
    for result in run.results:
        gate = by_name.get(result.name)
        table, column = _gate_dataset(gate) if gate is not None else (None, None)
        check = Check(
            result.kind,
            result.name,
            result.status.value in ("PASS", "INFO"),
            column,
            result.count,
            result.severity.value,
        )
        tables.setdefault(table or run.database, []).append(check)
    inputs = tuple(LineageDataset(namespace, t, tuple(c)) for t, c in tables.items())
    return LineageReport(inputs)


def _run_uuid(run_id: str) -> str:
    return str(uuid.uuid5(_RUN_NAMESPACE, run_id or uuid.uuid4().hex))


class Emitter:
    """Sends events with the configured client; a failure is a warning, once per run."""

    def __init__(self, command: str, job: str, run_id: str) -> None:
        from openlineage.client import OpenLineageClient

        self.client = OpenLineageClient()
        self.namespace = os.environ.get("OPENLINEAGE_NAMESPACE", "dataquarantine")
        self.job = job
        self.command = command
        self.run_id = _run_uuid(run_id)
        self.warned = False

    def emit(self, state: str, report: LineageReport | None, error: str | None = None) -> None:
        from openlineage.client.event_v2 import Job, Run, RunEvent, RunState

        from dataquarantine.cli.lineage_facets import datasets, run_facets

        inputs, outputs = datasets(report)
        event = RunEvent(
            eventType=RunState[state],
            eventTime=datetime.now(UTC).isoformat(),
            run=Run(runId=self.run_id, facets=run_facets(error)),
            job=Job(namespace=self.namespace, name=self.job),
            producer=PRODUCER,
            inputs=inputs,
            outputs=outputs,
        )
        try:
            self.client.emit(event)
        except Exception as exc:  # any transport failure: the run goes on
            if not self.warned:
                self.warned = True
                log.warning("OpenLineage event not sent (%s): %s", state, mask_secrets(exc))


def open_emitter(command: str, job: str, run_id: str) -> Emitter | None:
    """The emitter of a run, or None (not configured, extra missing, client not usable: the
    last two with a warning)."""
    if not configured():
        return None
    from dataquarantine.extras import missing_modules

    if missing_modules("lineage"):
        log.warning("OpenLineage is configured but the lineage extra is not installed")
        return None
    try:
        return Emitter(command, job, run_id)
    except Exception as exc:
        log.warning("OpenLineage client not usable: %s", mask_secrets(exc))
        return None


@contextmanager
def emitting(command: str, job: str, run_id: str) -> Iterator[Callable[[LineageReport], None]]:
    """Emit START now, and COMPLETE (with the report given to the yielded function) or FAIL
    when the block ends; nothing when OpenLineage is not configured."""
    reports: list[LineageReport] = []
    emitter = open_emitter(command, job, run_id)
    if emitter is not None:
        emitter.emit("START", None)
    try:
        yield reports.append
    except BaseException as exc:
        if emitter is not None:
            ok = getattr(exc, "exit_code", 1) == 0
            emitter.emit(
                "COMPLETE" if ok else "FAIL",
                reports[-1] if reports else None,
                None if ok else str(exc) or type(exc).__name__,
            )
        raise
    if emitter is not None:
        emitter.emit("COMPLETE", reports[-1] if reports else None)
