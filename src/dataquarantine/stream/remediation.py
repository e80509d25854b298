"""The double pass in the stream worker: invalid messages of contracts with ``remediation:``
rules are fixed and validated again.

A message valid after remediation goes to the valid topic with the fixed bytes, the key its
fixed value gives, the original headers plus ``dq.remediated: 1`` and ``dq.quarantine.id``
(the id its original is stored under); it is counted as valid, gets no DLQ message, and its
original bytes are quarantined with status ``remediated``. A message still invalid goes to the
DLQ as usual and is quarantined with the attempt as revision 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from confluent_kafka import Message

from dataquarantine.infra.prometheus import RemediationMetrics
from dataquarantine.kernel.results import BatchResult, ValidationResult
from dataquarantine.quarantine.envelope import KafkaSource, QuarantineItem
from dataquarantine.remediation import Attempt, Remediation, attempt_invalid
from dataquarantine.stream.dlq import Header
from dataquarantine.stream.routing import TopicRouting, key_bytes
from dataquarantine.stream.stats import BatchObserver

__all__ = ["REMEDIATED_HEADER", "attempt_batch", "fixed_message", "remediation_for"]

#: Header of a valid-topic message that is a remediated record.
REMEDIATED_HEADER: Final = "dq.remediated"


def remediation_for(observers: Sequence[BatchObserver]) -> Remediation:
    """A :class:`Remediation` counting into the Prometheus registry of the
    :class:`~dataquarantine.stream.metrics.StreamMetrics` among ``observers``, if any."""
    from dataquarantine.stream.metrics import StreamMetrics

    registry = next((o.registry for o in observers if isinstance(o, StreamMetrics)), None)
    return Remediation(observers=[RemediationMetrics(registry)] if registry is not None else [])


def attempt_batch(
    result: BatchResult, routing: TopicRouting, remediation: Remediation
) -> dict[int, Attempt]:
    """The double pass for every invalid record of ``result`` whose contract has rules
    (:func:`~dataquarantine.remediation.attempt_invalid`, contracts found in the registry)."""
    return attempt_invalid(remediation, result, routing.registry.find)


def fixed_message(
    m: Message,
    raw: bytes,
    res: ValidationResult,
    attempt: Attempt,
    routing: TopicRouting,
    run_id: str,
) -> tuple[QuarantineItem, bytes | None, list[Header]]:
    """For a message valid after remediation: the quarantine item of its original (with the
    attempt), and the key and headers of its fixed copy on the valid topic. The key is its
    contract's key in the fixed value, else the original key."""
    item = QuarantineItem(
        source=KafkaSource(str(m.topic()), int(m.partition() or 0), int(m.offset() or 0)),
        payload=raw,
        errors=res.errors,
        contract=res.contract,
        run_id=run_id,
        remediation=attempt.revision,
    )
    key = m.key()
    path = routing.key_path(res.contract)
    if path is not None:
        key = key_bytes(attempt.value, path) or key
    headers: list[Header] = list(m.headers() or [])  # type: ignore[arg-type]
    headers.append((REMEDIATED_HEADER, b"1"))
    headers.append(("dq.quarantine.id", str(item.record_id()).encode()))
    return item, key, headers
