"""Is the worker able to make progress? Broker and store reachability, probes and lag.

The worker's own calls are the main evidence (a poll that returned messages, a flush, a
commit, a quarantine write); when they are silent for a while, cheap probes ask. The flags are
plain booleans, read by the ``/ready`` endpoint from another thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, Final

from confluent_kafka import Consumer, KafkaError, KafkaException

from dataquarantine.errors import (
    BrokerError,
    BrokerFatalError,
    DataQuarantineError,
    PayloadStoreError,
    StoreError,
)
from dataquarantine.infra.kafka import TRANSPORT_DOWN
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.stream.checkpoint import RateLimit, clear_lag, notify_batch
from dataquarantine.stream.stats import BatchObserver

__all__ = ["PROBE_INTERVAL", "WorkerStatus", "clear_lag", "notify_batch", "report_lag"]

log = logging.getLogger("dataquarantine.stream")

#: Probe the broker or the store when nothing proved it reachable for this long.
PROBE_INTERVAL: Final = 5.0


class WorkerStatus:
    """Reachability of the broker and the store, as last seen, and what the Kafka clients
    reported: a fatal error (the worker must stop) or failed deliveries (no commit)."""

    def __init__(self, limit: RateLimit) -> None:
        self.running = False
        self.broker_ok = False
        self.store_ok = False
        self.fatal: KafkaError | None = None
        #: Deliveries that failed since the last checkpoint.
        self.delivery_errors: list[str] = []
        self._broker_seen = 0.0
        self._store_seen = 0.0
        self._limit = limit

    def ready(self) -> bool:
        return self.running and self.broker_ok and self.store_ok

    def broker_up(self) -> None:
        self.broker_ok = True
        self._broker_seen = time.monotonic()

    def store_up(self) -> None:
        self.store_ok = True
        self._store_seen = time.monotonic()

    def failed(self, exc: DataQuarantineError) -> None:
        """Record a transient failure of the store or the broker."""
        if isinstance(exc, StoreError | PayloadStoreError):
            self.store_ok = False
        elif isinstance(exc, BrokerError):
            self.broker_ok = False

    # -- client callbacks (called from poll / consume / flush, in the worker's thread) --

    def on_client_error(self, err: KafkaError) -> None:
        code = err.code()
        if err.fatal() or code in (
            KafkaError._AUTHENTICATION,
            KafkaError.SASL_AUTHENTICATION_FAILED,
        ):
            self.fatal = err
            return
        if code == KafkaError._ALL_BROKERS_DOWN:
            self.broker_ok = False
        if self._limit(f"client {code}"):
            if code in TRANSPORT_DOWN:
                log.warning("broker: %s", err.str())
            else:
                log.warning("kafka client: %s: %s", err.name(), err.str())

    def on_delivery_error(self, err: KafkaError | None, msg: Any) -> None:
        # With delivery.report.only.error=true this is called for failures only.
        if err is not None:
            self.delivery_errors.append(f"{msg.topic()}: {err.name()}: {err.str()}")

    def on_message_error(self, err: KafkaError) -> None:
        if err.fatal():
            self.fatal = err
        elif err.code() != KafkaError._PARTITION_EOF and self._limit(f"message {err.code()}"):
            log.warning("consumer: %s: %s", err.name(), err.str())

    def check_fatal(self) -> None:
        """Raise :class:`BrokerFatalError` once a client reported a fatal error."""
        if self.fatal is not None:
            raise BrokerFatalError(f"kafka client failed: {self.fatal.name()}: {self.fatal.str()}")

    def probe(self, consumer: Consumer, quarantine: Quarantine, topic: str) -> None:
        """Ask the store and the broker if nothing proved them reachable lately."""
        now = time.monotonic()
        if now - self._store_seen >= PROBE_INTERVAL:
            self._store_seen = now
            try:
                quarantine.check()
                self.store_ok = True
            except (DataQuarantineError, OSError) as exc:
                self.store_ok = False
                if self._limit("store probe"):
                    log.warning("quarantine store unreachable: %s", exc)
        if now - self._broker_seen >= PROBE_INTERVAL:
            self._broker_seen = now
            try:
                consumer.list_topics(topic, timeout=2.0)
                self.broker_ok = True
            except KafkaException as exc:
                self.broker_ok = False
                if self._limit("broker probe"):
                    log.warning("broker unreachable: %s", exc)


def report_lag(consumer: Consumer, observers: Sequence[BatchObserver], limit: RateLimit) -> None:
    """Tell ``observers`` the lag of every assigned partition (high watermark - position),
    from the client's cached watermarks: no broker round trip."""
    try:
        positions = consumer.position(consumer.assignment())
    except KafkaException:
        return
    for tp in positions:
        try:
            _, high = consumer.get_watermark_offsets(tp, cached=True)
        except KafkaException:
            continue
        if tp.offset < 0 or high < 0:
            continue
        for observer in observers:
            try:
                observer.set_lag(tp.topic, tp.partition, max(0, high - tp.offset))
            except Exception:
                if limit(f"lag {type(observer).__name__}"):
                    log.exception("observer %s failed", type(observer).__name__)
