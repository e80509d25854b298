"""The double pass's Prometheus counters, in a registry shared with other series."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from dataquarantine.infra.prometheus import RemediationMetrics
from dataquarantine.remediation import Remediation
from dataquarantine.validation.contract import Contract


def test_counters_by_contract_action_and_outcome() -> None:
    contract = Contract.from_dict(
        {
            "name": "c",
            "version": "1.0.0",
            "schema": {"type": "object", "properties": {"n": {"type": "integer"}}},
            "remediation": [{"field": "n", "action": "coerce_int"}],
        }
    )
    registry = CollectorRegistry()
    remediation = Remediation(observers=[RemediationMetrics(registry)])
    for payload in (b'{"n": "1"}', b'{"n": "2"}', b'{"n": "x"}'):
        remediation.attempt(contract, payload)
    text = generate_latest(registry).decode()
    applied = (
        'dataquarantine_remediations_total{action="coerce_int",contract="c",outcome="applied"}'
    )
    failed = 'dataquarantine_remediations_total{action="coerce_int",contract="c",outcome="failed"}'
    assert f"{applied} 2.0" in text and f"{failed} 1.0" in text
    assert 'dataquarantine_remediated_records_total{contract="c",outcome="remediated"} 2.0' in text
    assert 'dataquarantine_remediated_records_total{contract="c",outcome="unchanged"} 1.0' in text
