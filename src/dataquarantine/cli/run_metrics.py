"""Metrics of a batch run (``validate``, ``load``, ``gates run``), exported when it ends.

The series are the stream worker's (``dataquarantine_records_{processed,valid,invalid}_total``
with ``schema`` and ``error_type``; batch runs have no ``topic``), plus the run's outcome:

``dataquarantine_run_success``
    1 when the run succeeded (for ``gates run``: every required gate passed), else 0.
``dataquarantine_run_duration_seconds``
    the run's wall time; ``dataquarantine_run_finished_timestamp_seconds`` when it ended.
``dataquarantine_run_last_success_timestamp_seconds``
    when the job last succeeded (Unix time); carried over from the previous textfile when
    this run failed, so the "not succeeded within its interval" alert sees the old value.
``dataquarantine_gate_passed{suite, gate, severity}``
    1 when the gate passed (or is informational), 0 when it failed or errored.
``dataquarantine_gate_violations{suite, gate, severity}``
    rows the gate found (absent when it errored);
``dataquarantine_gate_duration_seconds{suite, gate}`` its time.
``dataquarantine_load_rows_total{contract, outcome}``
    rows of a load by outcome: ``inserted``, ``updated``, ``unchanged``, ``superseded``.

:func:`export` sends them to a Pushgateway (the group ``{job, run}``) and/or writes them to a
node-exporter textfile (with ``job`` and ``run`` labels on every series).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dataquarantine.cli.common import MetricsTarget
from dataquarantine.errors import OutputError
from dataquarantine.infra.prometheus import new_registry, push, write_file

if TYPE_CHECKING:
    from dataquarantine.gates.runner import GateRun
    from dataquarantine.load.report import LoadSummary
    from dataquarantine.runner import RunSummary

__all__ = [
    "GateFact",
    "RunReport",
    "export",
    "exporting",
    "registry_of",
    "report_of_gates",
    "report_of_load",
    "report_of_validation",
]

log = logging.getLogger("dataquarantine.metrics")

T = TypeVar("T")
F = TypeVar("F", CounterMetricFamily, GaugeMetricFamily)

_RECORD_LABELS = ("topic", "schema", "error_type")
_VALID = "valid"
_LOAD_OUTCOMES = ("inserted", "updated", "unchanged", "superseded")


@dataclass(frozen=True, slots=True)
class GateFact:
    """One gate's result, as exported."""

    suite: str
    gate: str
    severity: str
    passed: bool
    violations: int | None
    seconds: float


@dataclass(frozen=True, slots=True)
class RunReport:
    """What a batch run exports: its outcome and counts."""

    command: str
    run_id: str
    succeeded: bool
    seconds: float
    #: Records by (contract name, ``valid`` or headline error code).
    records: Mapping[tuple[str, str], int] = field(default_factory=dict)
    #: Rows of a load by (contract, outcome).
    load_rows: Mapping[tuple[str, str], int] = field(default_factory=dict)
    gates: tuple[GateFact, ...] = ()


def report_of_validation(summary: RunSummary, command: str = "validate") -> RunReport:
    return RunReport(
        command, summary.run_id, True, summary.seconds, records=dict(summary.by_schema)
    )


def report_of_load(summary: LoadSummary, command: str = "load") -> RunReport:
    c = summary.counts
    records = {(summary.contract, _VALID): c.loaded}
    records.update({(summary.contract, code): n for code, n in c.quarantined.items()})
    rows = {(summary.contract, o): int(getattr(c, o)) for o in _LOAD_OUTCOMES}
    return RunReport(
        command, summary.run_id, True, summary.seconds, records=records, load_rows=rows
    )


def report_of_gates(run: GateRun, command: str = "gates run") -> RunReport:
    gates = tuple(
        GateFact(
            suite=run.suite,
            gate=r.name,
            severity=r.severity.value,
            passed=r.status.value in ("PASS", "INFO"),
            violations=r.count,
            seconds=r.duration_s,
        )
        for r in run.results
    )
    return RunReport(command, run.run_id, run.passed, run.duration_s, gates=gates)


class _ReportCollector(Collector):
    """The families of one :class:`RunReport` (no ``_created`` series: a finished run's
    counters are its totals)."""

    def __init__(
        self, report: RunReport, labels: Mapping[str, str], previous_success: float | None
    ) -> None:
        self.report = report
        self.names = tuple(labels)
        self.values = tuple(labels.values())
        self.previous_success = previous_success
        self.finished = time.time()

    def _family(self, kind: type[F], name: str, text: str, extra: tuple[str, ...]) -> F:
        return kind(name, text, labels=(*self.names, *extra))

    def collect(self) -> Iterator[Metric]:
        report, values = self.report, self.values
        yield from self._records()
        cmd = (*values, report.command)
        last = self.finished if report.succeeded else self.previous_success
        outcome = (
            ("dataquarantine_run_success", "1 when the run succeeded, else 0.",
             1.0 if report.succeeded else 0.0),
            ("dataquarantine_run_duration_seconds", "Wall time of the run.", report.seconds),
            ("dataquarantine_run_finished_timestamp_seconds",
             "When the run ended (Unix time).", self.finished),
            ("dataquarantine_run_last_success_timestamp_seconds",
             "When this job last succeeded (Unix time).", last),
        )  # fmt: skip
        for name, text, value in outcome:
            family = self._family(GaugeMetricFamily, name, text, ("command",))
            if value is not None:
                family.add_metric(cmd, value)
            yield family
        if report.load_rows:
            rows = self._family(
                CounterMetricFamily,
                "dataquarantine_load_rows",
                "Rows of a load by outcome (inserted/updated/unchanged/superseded).",
                ("contract", "outcome"),
            )
            for (contract, outcome_name), n in sorted(report.load_rows.items()):
                rows.add_metric((*values, contract, outcome_name), n)
            yield rows
        if report.gates:
            yield from self._gates()

    def _records(self) -> Iterator[Metric]:
        families = {
            kind: self._family(
                CounterMetricFamily, f"dataquarantine_records_{kind}", text, _RECORD_LABELS
            )
            for kind, text in (
                ("processed", "Records validated by the run."),
                ("valid", "Valid records of the run (error_type is always 'valid')."),
                ("invalid", "Quarantined records of the run, by headline error code."),
            )
        }
        for (schema, error_type), n in sorted(self.report.records.items()):
            if n > 0:
                key = (*self.values, "", schema, error_type)
                families["processed"].add_metric(key, n)
                families["valid" if error_type == _VALID else "invalid"].add_metric(key, n)
        yield from families.values()

    def _gates(self) -> Iterator[Metric]:
        gate_labels = ("suite", "gate", "severity")
        passed = self._family(
            GaugeMetricFamily,
            "dataquarantine_gate_passed",
            "1 when the gate passed (or only informs), 0 when it failed or errored.",
            gate_labels,
        )
        violations = self._family(
            GaugeMetricFamily,
            "dataquarantine_gate_violations",
            "Rows the gate found (absent when it errored).",
            gate_labels,
        )
        duration = self._family(
            GaugeMetricFamily,
            "dataquarantine_gate_duration_seconds",
            "Time the gate's query took.",
            ("suite", "gate"),
        )
        for g in self.report.gates:
            key = (*self.values, g.suite, g.gate, g.severity)
            passed.add_metric(key, 1.0 if g.passed else 0.0)
            if g.violations is not None:
                violations.add_metric(key, g.violations)
            duration.add_metric((*self.values, g.suite, g.gate), g.seconds)
        yield from (passed, violations, duration)


def registry_of(
    report: RunReport, labels: Mapping[str, str], previous_success: float | None = None
) -> CollectorRegistry:
    """A registry holding ``report``'s series, each with the constant ``labels`` (``job``
    and ``run`` in a textfile; none for a Pushgateway, whose group adds them).
    ``previous_success`` is the last-success time kept when this run failed."""
    registry = new_registry(process=False)
    registry.register(_ReportCollector(report, labels, previous_success))
    return registry


def _previous_success(path: Path) -> float | None:
    """The last-success time the previous run wrote into ``path``, if any."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = path.read_text(encoding="utf-8")
        for family in text_string_to_metric_families(text):
            if family.name == "dataquarantine_run_last_success_timestamp_seconds":
                return max((s.value for s in family.samples), default=None)
    except (OSError, ValueError):
        return None
    return None


def export(target: MetricsTarget, report: RunReport) -> None:
    """Export ``report`` to ``target``. A failure is logged, never fatal: the run's data is
    done, and the "not succeeded within its interval" alert catches metrics that never
    arrive."""
    job = target.job_of(report.command)
    if target.push_url:
        try:
            push(registry_of(report, {}), target.push_url, job, {"run": report.run_id})
        except OutputError as exc:
            log.error("%s", exc)
    if target.file:
        previous = None if report.succeeded else _previous_success(target.file)
        labels = {"job": job, "run": report.run_id}
        try:
            write_file(registry_of(report, labels, previous), target.file)
        except OutputError as exc:
            log.error("%s", exc)


@contextmanager
def exporting(
    target: MetricsTarget, command: str, run_id: str, convert: Callable[[T], RunReport]
) -> Iterator[Callable[[T], None]]:
    """Export the run of the block: call the yielded function with its report (a summary,
    turned into a :class:`RunReport` by ``convert``); an exception out of the block exports a
    failed run (then propagates)."""
    started = time.perf_counter()
    done: list[RunReport] = []

    def finished(succeeded: bool) -> RunReport:
        if done and succeeded:
            return done[-1]
        return RunReport(command, run_id, succeeded, time.perf_counter() - started)

    try:
        yield lambda summary: done.append(convert(summary))
    except BaseException as exc:
        export(target, finished(getattr(exc, "exit_code", 1) == 0))  # typer.Exit(0): success
        raise
    export(target, finished(True))
