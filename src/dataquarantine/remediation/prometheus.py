"""Prometheus counters of the double pass, registered in a given registry (the stream
worker's, or the API's): attach as an observer of
:class:`~dataquarantine.remediation.Remediation`.

``dataquarantine_remediations_total{contract, action, outcome}``
    rule applications; ``outcome`` is ``applied`` (changed a value) or ``failed`` (the
    action could not read the value, which was left as it was).
``dataquarantine_remediated_records_total{contract, outcome}``
    invalid records that went through the double pass; ``outcome`` is ``remediated``
    (valid after it: sent downstream), ``still_invalid`` or ``unchanged``.

Counted when the attempt is made (a batch consumed again after a crash counts again).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from dataquarantine.remediation.double_pass import AttemptReport

__all__ = ["RemediationMetrics"]


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

    def observe_attempt(self, report: AttemptReport) -> None:
        self.records.labels(report.contract, report.outcome.value).inc()
        for action, outcome in report.actions:
            self.actions.labels(report.contract, action, outcome.value).inc()
