"""The worker's side of the producer: produce without dropping, and what "delivered" means."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from dataquarantine.errors import BrokerUnavailableError
from dataquarantine.infra import kafka
from dataquarantine.kernel.results import ContractRef, ErrorCode, ValidationResult, Violation

__all__ = ["Output"]

_FLUSH_TIMEOUT = 1.0


class Output:
    """Wraps the worker's producer. ``check_fatal`` raises when the client hit a fatal error."""

    def __init__(self, producer: Producer, check_fatal: Callable[[], None]) -> None:
        self.producer = producer
        self._check_fatal = check_fatal

    def produce(self, topic: str, value: bytes, key: bytes | None, headers: Any) -> None:
        """Produce, waiting while the producer's local queue is full."""
        producer = self.producer
        while True:
            try:
                producer.produce(topic, value, key, headers=headers)
                return
            except BufferError:
                producer.poll(0.05)
                self._check_fatal()

    def produce_dlq(
        self, topic: str, value: bytes, key: bytes | None, headers: Any, lean: Callable[[], bytes]
    ) -> None:
        """Produce a DLQ envelope; too large for the broker, produce ``lean()`` (the envelope
        without the original bytes, which the quarantine store keeps) instead."""
        try:
            self.produce(topic, value, key, headers)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.MSG_SIZE_TOO_LARGE:
                raise kafka.translate(exc, f"produce to {topic!r}") from exc
            try:
                self.produce(topic, lean(), key, headers)
            except KafkaException as again:
                raise kafka.translate(again, f"produce to {topic!r}") from again

    @staticmethod
    def unproducible(
        exc: KafkaException, topic: str, raw: bytes, ref: ContractRef | None
    ) -> ValidationResult:
        """A valid message the producer refuses (too large): quarantined instead. Any other
        produce error is translated and raised."""
        if exc.args[0].code() != KafkaError.MSG_SIZE_TOO_LARGE:
            raise kafka.translate(exc, f"produce to {topic!r}") from exc
        message = f"valid, but {len(raw)} bytes exceed the producer's message.max.bytes"
        return ValidationResult(
            False, (Violation(ErrorCode.SYSTEM_ERROR, "", message),), (), None, ref
        )

    def delivered(self) -> bool:
        """Whether nothing is in flight, so a flush would not wait.

        Between polls the queue usually drains within linger.ms plus a round trip: committing
        then keeps the flush (and the commit) off the latency path. Under a backlog it never
        drains, and the worker completes the checkpoint, blocking, when the next one is due.
        """
        self.producer.poll(0)
        return len(self.producer) == 0

    def flush(self) -> None:
        """Wait until every produced message is acknowledged (raises while some are not)."""
        left = self.producer.flush(_FLUSH_TIMEOUT)
        self._check_fatal()
        if left:
            raise BrokerUnavailableError(f"{left} produced message(s) not acknowledged yet")
