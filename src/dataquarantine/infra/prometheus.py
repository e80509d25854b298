"""Prometheus registries, their export by batch runs, and the double pass's counters.

:func:`new_registry` is the registry every process serves (the stream worker's ``/metrics``,
the API's): a fresh one with the process, platform and GC collectors, never the global
``prometheus_client.REGISTRY``, so several workers or tests in one process never clash.
A batch run, which exits, exports its registry (made with ``process=False``: the counters of
a process that is gone mean nothing) with :func:`push` to a Pushgateway or :func:`write_file`
to a node-exporter textfile.

:class:`RemediationMetrics` counts the double pass into a given registry: attach it as an
observer of :class:`~dataquarantine.remediation.Remediation`.

``dataquarantine_remediations_total{contract, action, outcome}``
    rule applications; ``outcome`` is ``applied`` (changed a value) or ``failed`` (the
    action could not read the value, which was left as it was).
``dataquarantine_remediated_records_total{contract, outcome}``
    invalid records that went through the double pass; ``outcome`` is ``remediated``
    (valid after it: sent downstream), ``still_invalid`` or ``unchanged``.

Counted when the attempt is made (a batch consumed again after a crash counts again).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, push_to_gateway, write_to_textfile
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from dataquarantine.errors import OutputError
from dataquarantine.masking import mask_secrets

__all__ = ["AttemptLike", "RemediationMetrics", "new_registry", "push", "write_file"]

#: Seconds a push may take before it is given up (a batch run never hangs on its metrics).
PUSH_TIMEOUT = 10.0


def new_registry(*, process: bool = True) -> CollectorRegistry:
    """A fresh registry; with ``process``, the process, platform and GC collectors (RSS, CPU,
    fds, ...)."""
    registry = CollectorRegistry(auto_describe=True)
    if process:
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
    return registry


def push(
    registry: CollectorRegistry, url: str, job: str, grouping: Mapping[str, str] | None = None
) -> None:
    """Replace the group ``{job, **grouping}`` of the Pushgateway at ``url`` with ``registry``
    (HTTP PUT); :class:`~dataquarantine.errors.OutputError` when it cannot."""
    try:
        push_to_gateway(
            url, job=job, registry=registry, grouping_key=dict(grouping or {}), timeout=PUSH_TIMEOUT
        )
    except (OSError, ValueError) as exc:
        raise OutputError(
            f"metrics not pushed to {mask_secrets(url)}: {mask_secrets(exc)}"
        ) from exc


def write_file(registry: CollectorRegistry, path: Path) -> None:
    """Write ``registry`` to ``path`` for the node exporter's textfile collector, atomically
    (a temporary file renamed over it: the collector never reads half a file)."""
    try:
        write_to_textfile(str(path), registry)
    except OSError as exc:
        raise OutputError(f"metrics not written to {path}: {exc}") from exc


class _Outcome(Protocol):
    @property
    def value(self) -> str: ...


class AttemptLike(Protocol):
    """What :class:`RemediationMetrics` reads of a remediation attempt's report
    (:class:`~dataquarantine.remediation.AttemptReport`)."""

    @property
    def contract(self) -> str: ...
    @property
    def outcome(self) -> _Outcome: ...
    @property
    def actions(self) -> Iterable[tuple[str, _Outcome]]: ...


class RemediationMetrics:
    """A :class:`~dataquarantine.remediation.RemediationObserver` feeding Prometheus."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.actions = Counter(
            "dataquarantine_remediations",
            "Remediation rule applications by contract, action and outcome (applied/failed).",
            ("contract", "action", "outcome"),
            registry=registry,
        )
        self.records = Counter(
            "dataquarantine_remediated_records",
            "Invalid records through the double pass, by outcome "
            "(remediated/still_invalid/unchanged).",
            ("contract", "outcome"),
            registry=registry,
        )

    def observe_attempt(self, report: AttemptLike) -> None:
        self.records.labels(report.contract, report.outcome.value).inc()
        for action, outcome in report.actions:
            self.actions.labels(report.contract, action, outcome.value).inc()
