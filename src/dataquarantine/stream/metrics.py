"""Prometheus metrics of the stream worker, updated once per committed batch.

Series (the seed design's names, plus lag and commit latency):

``dataquarantine_records_processed_total{topic, schema, error_type}``
    every record of a committed batch; ``error_type`` is ``valid`` or the headline error code.
``dataquarantine_records_valid_total{topic, schema, error_type}``
    valid records (``error_type`` is always ``valid``: the same labels on all three counters,
    so ``processed = valid + invalid`` holds series by series).
``dataquarantine_records_invalid_total{topic, schema, error_type}``
    invalid records, by headline error code (``parse_error``, ``schema_violation``, ...).
``dataquarantine_validation_duration_seconds``
    histogram of the validation time of each *batch* (one observation per batch: the worker
    validates batches, not records). The mean per record is
    ``rate(dataquarantine_validation_duration_seconds_sum[5m])
    / rate(dataquarantine_records_processed_total[5m])`` (summed over labels).
``dataquarantine_batch_commit_duration_seconds``
    histogram of the time from the end of validation to the committed offsets of a batch
    (produce, flush, delivery reports, quarantine writes, commit).
``dataquarantine_consumer_lag{topic, partition}``
    messages behind the end of each assigned partition, as last reported by the worker.
``dataquarantine_worker_ready``
    1 while the worker is ready (``/ready`` answers 200), else 0; read at scrape time.
``dataquarantine_stream_retries_total{step}``
    failed attempts of a checkpoint step that the worker retried (``quarantine_write``,
    ``producer_flush``, ``offset_commit``): the store or the broker is struggling.
``dataquarantine_contract_registry_up`` and ``dataquarantine_contract_registry_errors_total``
    whether the contract registry answered the last attempt, and the failed attempts (the
    worker keeps its contracts meanwhile).

``schema`` is the contract name, or ``unknown`` when a record names none that exists, so a
stream of junk ``_schema`` values cannot explode the number of series.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from dataquarantine.infra.prometheus import new_registry
from dataquarantine.stream.stats import VALID, BatchStats

__all__ = ["StreamMetrics"]

_LABELS = ("topic", "schema", "error_type")
# A batch of up to max_poll_records takes from about a millisecond to a few seconds.
_BATCH_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

_Children = tuple[Counter, Counter]  # the processed child and the valid-or-invalid child


class StreamMetrics:
    """A :class:`~dataquarantine.stream.stats.BatchObserver` that feeds Prometheus.

    ``registry`` defaults to a fresh one from
    :func:`~dataquarantine.infra.prometheus.new_registry` (not the global
    ``prometheus_client.REGISTRY``, so several workers or tests in one process never clash);
    serve it with :func:`dataquarantine.stream.health.serve`.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else new_registry()
        r = self.registry
        self.processed = Counter(
            "dataquarantine_records_processed",
            "Records validated in committed batches.",
            _LABELS,
            registry=r,
        )
        self.valid = Counter(
            "dataquarantine_records_valid",
            "Valid records produced to the valid topic (error_type is always 'valid').",
            _LABELS,
            registry=r,
        )
        self.invalid = Counter(
            "dataquarantine_records_invalid",
            "Invalid records sent to the DLQ and the quarantine store, by headline error code.",
            _LABELS,
            registry=r,
        )
        self.validation_duration = Histogram(
            "dataquarantine_validation_duration_seconds",
            "Validation time of each batch (one observation per batch).",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.commit_duration = Histogram(
            "dataquarantine_batch_commit_duration_seconds",
            "Time from validated to committed for each batch: produce, flush, quarantine "
            "writes, offset commit.",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.lag = Gauge(
            "dataquarantine_consumer_lag",
            "Messages behind the end (high watermark) of each assigned partition.",
            ("topic", "partition"),
            registry=r,
        )
        self.registry_up = Gauge(
            "dataquarantine_contract_registry_up",
            "1 while the contract registry answered the last attempt, 0 during an outage.",
            registry=r,
        )
        self.registry_errors = Counter(
            "dataquarantine_contract_registry_errors",
            "Failed attempts to reach the contract registry (the contracts in use stay).",
            registry=r,
        )
        self.ready = Gauge(
            "dataquarantine_worker_ready",
            "1 while the worker is ready (broker and store reachable, running), else 0.",
            registry=r,
        )
        self.retries = Counter(
            "dataquarantine_stream_retries",
            "Failed attempts of a checkpoint step that were retried, by step.",
            ("step",),
            registry=r,
        )
        self._children: dict[tuple[str, str, str], _Children] = {}

    def track_ready(self, ready: Callable[[], bool]) -> None:
        """Answer ``dataquarantine_worker_ready`` from ``ready()`` at each scrape."""
        self.ready.set_function(lambda: 1.0 if ready() else 0.0)

    def observe_retry(self, step: str) -> None:
        """A checkpoint step (``"quarantine write"``, ...) failed and is retried."""
        self.retries.labels(step.replace(" ", "_")).inc()

    def _counters(self, key: tuple[str, str, str]) -> _Children:
        children = self._children.get(key)
        if children is None:
            outcome = self.valid if key[2] == VALID else self.invalid
            children = (self.processed.labels(*key), outcome.labels(*key))
            self._children[key] = children
        return children

    def observe_batch(self, stats: BatchStats) -> None:
        """Add a committed batch: one counter update per (topic, schema, error_type)."""
        for key, n in stats.counts.items():
            if n:
                processed, outcome = self._counters(key)
                processed.inc(n)
                outcome.inc(n)
        self.validation_duration.observe(stats.validation_seconds)
        self.commit_duration.observe(stats.commit_seconds)

    def registry_checked(self, up: bool) -> None:
        """A :class:`~dataquarantine.registry.RegistryObserver`: the registry's state."""
        self.registry_up.set(1 if up else 0)
        if not up:
            self.registry_errors.inc()

    def set_lag(self, topic: str, partition: int, lag: int) -> None:
        self.lag.labels(topic, str(partition)).set(max(lag, 0))

    def clear_lag(self, topic: str, partition: int) -> None:
        """Drop the lag series of a partition this worker no longer owns (after a rebalance)."""
        with contextlib.suppress(KeyError):
            self.lag.remove(topic, str(partition))
