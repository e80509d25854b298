"""The stream worker: raw topic(s) -> validate -> valid topic, or DLQ topic + quarantine store.

Delivery is **at least once**: an offset is committed only once the outcome of every message
before it is durable. Messages are consumed in batches and handed to the producer at once.
Every ``flush_interval_ms`` (or ``flush_max_records``) the open *checkpoint* is sealed: its
quarantine write starts in a background thread while consumption goes on, and once that is
durable the producer is flushed and the offsets are committed, in the numbered steps of the
:class:`~dataquarantine.stream.checkpoint.Committer`. At most one checkpoint is sealed at a
time. A crash anywhere loses nothing: the uncommitted messages are consumed again
(duplicates are possible, losses are not; quarantine writes are idempotent on the source
coordinates).

Faults: an unreachable broker is retried (librdkafka reconnects, the worker retries flushes
and commits with backoff); a store that is down **pauses** the worker: the checkpoint is kept
in memory, the assignment is paused (polling continues, so the group membership holds) and
the write is retried with backoff until it succeeds; nothing is committed meanwhile. A
message that cannot be valid (not JSON, invalid UTF-8, unknown ``_schema``, a tombstone, too
big to copy) is quarantined like any invalid message.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition

from dataquarantine.contracts.source import parse_contracts_url
from dataquarantine.errors import DataQuarantineError, is_transient
from dataquarantine.infra import kafka
from dataquarantine.infra.retry import RetryPolicy
from dataquarantine.kernel.results import BatchResult, ValidationResult
from dataquarantine.kernel.revisions import Revision
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.registry import LiveRegistry, RegistryObserver, open_registry
from dataquarantine.remediation import Attempt, Remediation
from dataquarantine.stream.checkpoint import Checkpoint, Committer, RateLimit
from dataquarantine.stream.consumer import GroupConsumer
from dataquarantine.stream.dlq import DlqMessage
from dataquarantine.stream.output import Output
from dataquarantine.stream.remediation import attempt_batch, fixed_message, remediation_for
from dataquarantine.stream.routing import TopicRouting, key_bytes
from dataquarantine.stream.settings import StreamSettings
from dataquarantine.stream.stats import BatchObserver
from dataquarantine.stream.status import WorkerStatus, report_lag
from dataquarantine.validation.engine import gc_paused
from dataquarantine.validation.registry import ContractRegistry

__all__ = ["QUARANTINE_RETRY", "StreamWorker"]

log = logging.getLogger("dataquarantine.stream")

T = TypeVar("T")

#: The quarantine's own retries stay short: the worker retries longer, while polling.
QUARANTINE_RETRY = RetryPolicy(max_attempts=2, deadline=3.0, initial_backoff=0.1)
#: Inside a rebalance callback, how long to wait for a quarantine write in flight.
_CALLBACK_WAIT = 5.0
_LAG_INTERVAL = 1.0


class StreamWorker:
    """Validates a Kafka topic into a valid topic, a DLQ topic and the quarantine store.

    ``run()`` blocks until :meth:`stop` (thread- and signal-safe) and then shuts down
    gracefully. :meth:`ready` tells a health endpoint whether the broker and the store are
    reachable. ``observers`` get :class:`~dataquarantine.stream.stats.BatchStats` after each
    committed checkpoint, and the consumer lag.
    """

    def __init__(
        self,
        settings: StreamSettings,
        *,
        registry: ContractRegistry | None = None,
        live: LiveRegistry | None = None,
        quarantine: Quarantine | None = None,
        observers: Sequence[BatchObserver] = (),
        run_id: str | None = None,
        remediation: Remediation | None = None,
    ) -> None:
        self.settings = settings
        self.observers = list(observers)
        #: The double pass for invalid messages (see :mod:`dataquarantine.stream.remediation`).
        self.remediation = remediation or remediation_for(self.observers)
        self.run_id = run_id or f"stream-{settings.kafka_consumer_group_id}"
        self._registry = live.registry if live is not None else registry
        #: Keeps the contracts in step with the registry (opened from the settings unless a
        #: registry or a live registry is given).
        self.live = live
        self._owns_live = False
        self._quarantine = quarantine
        self._owns_quarantine = quarantine is None
        self._routing: TopicRouting | None = None
        self._consumer: Consumer | None = None
        self._group: GroupConsumer
        self._producer: Producer | None = None
        self._out: Output
        #: Steps 2-5 of every checkpoint (created once the store and the clients are open).
        self.committer: Committer | None = None
        self._stop = threading.Event()
        self._deadline: float | None = None
        self._closing = False
        self._lag_at = 0.0
        self._limit = RateLimit()
        self.status = WorkerStatus(self._limit)
        self.last_loop_at = time.monotonic()

    @property
    def committed_records(self) -> int:
        """Records committed since start (for logs and tests)."""
        return self.committer.committed_records if self.committer else 0

    @property
    def checkpoints(self) -> int:
        """Checkpoints committed since start."""
        return self.committer.checkpoints if self.committer else 0

    # -- public --------------------------------------------------------------------------

    def ready(self) -> bool:
        """True while running with the broker and the store reachable (read by /ready)."""
        return self.status.ready()

    def alive(self, max_stall: float = 60.0) -> bool:
        """True when the loop went round within ``max_stall`` seconds."""
        return time.monotonic() - self.last_loop_at < max_stall

    def stop(self) -> None:
        """Ask for a graceful stop: finish the batch in flight, commit, close."""
        if not self._stop.is_set():
            self._deadline = time.monotonic() + self.settings.shutdown_timeout_seconds
            self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        """Consume until :meth:`stop`; raises on a terminal error (nothing is committed for
        work that is not durable, so a restart continues safely)."""
        try:
            self._open()
            assert self._consumer is not None and self.committer is not None
            committer = self.committer
            poll = self.settings.poll_timeout_ms / 1000
            self._consumer.subscribe(
                self.settings.raw_topics,
                on_assign=self.on_assign,
                on_revoke=self.on_revoke,
                on_lost=self.on_lost,
            )
            self.status.running = True
            log.info(
                "consuming %s as group %r -> valid %r, DLQ %r",
                ",".join(self.settings.raw_topics),
                self.settings.kafka_consumer_group_id,
                self.settings.kafka_valid_topic,
                self.settings.kafka_dlq_topic,
            )
            while not self._stop.is_set():
                self.last_loop_at = time.monotonic()
                self.status.check_fatal()
                batch = self._group.poll(committer.idle_timeout(poll, time.monotonic()))
                if batch:
                    self._process(batch)
                if committer.ready():
                    committer.finish(blocking=True)  # durable and delivered: nothing to wait for
                if committer.due(time.monotonic()):
                    committer.finish(blocking=True)  # waits if the previous one is not done yet
                    committer.seal()
                self._housekeeping()
            # Graceful shutdown: the work in flight is made durable and committed.
            committer.complete_all(blocking=True)
            log.info("stopped after %d committed records", self.committed_records)
        finally:
            self.status.running = False
            self._close()

    # -- setup and teardown --------------------------------------------------------------

    def _open(self) -> None:
        s = self.settings
        if self._registry is None:
            self.live = self._open_registry()
            self._owns_live = True
            self._registry = self.live.registry
        self._routing = TopicRouting(
            self._registry, topic_contracts=s.topic_contracts, schema_field=s.schema_field
        )
        if self._quarantine is None:
            self._quarantine = self._wait_for(
                "quarantine store",
                lambda: Quarantine.open(s.store_url, s.payloads_url, retry=QUARANTINE_RETRY),
            )
        self.status.store_up()
        client = s.kafka_client()
        self._producer = kafka.make_producer(
            client,
            on_error=self.status.on_client_error,
            on_delivery_error=self.status.on_delivery_error,
        )
        self._out = Output(self._producer, self.status.check_fatal)
        self._consumer = kafka.make_consumer(client, on_error=self.status.on_client_error)
        strategy = kafka.consumer_config(client)["partition.assignment.strategy"]
        self._group = GroupConsumer(
            self._consumer,
            self.status,
            batch=s.kafka_max_poll_records,
            cooperative="cooperative" in str(strategy),
        )
        self.committer = Committer(
            store=self._quarantine,
            output=self._out,
            group=self._group,
            status=self.status,
            policy=self._backoff(),
            limit=self._limit,
            observers=self.observers,
            wait=self._wait,
            deadline=lambda: self._deadline,
            flush_max_records=s.flush_max_records,
            flush_interval=s.flush_interval_ms / 1000,
            callback_wait=_CALLBACK_WAIT,
        )

    def _open_registry(self) -> LiveRegistry:
        """The registry of the settings; a remote one that is down fails the start, unless
        its local cache exists."""
        s = self.settings
        url = parse_contracts_url(s.contracts)
        poll = s.contracts_refresh_seconds if url.kind == "file" else s.contracts_poll_seconds
        observers = [o for o in self.observers if isinstance(o, RegistryObserver)]
        return open_registry(
            url.url, poll_seconds=poll, cache=s.contracts_cache, observers=observers
        )

    def _backoff(self) -> RetryPolicy:
        """The worker's backoff (no jitter); the callers bound it by the shutdown or stop."""
        s = self.settings
        return RetryPolicy(
            initial_backoff=s.retry_initial_backoff_ms / 1000,
            max_backoff=s.retry_max_backoff_ms / 1000,
            jitter=0.0,
        )

    def _wait_for(self, what: str, fn: Callable[[], T]) -> T:
        """Call ``fn`` until it does not fail transiently (startup, before any consumption)."""

        def on_retry(exc: Exception, attempt: int, pause: float) -> None:
            log.warning("%s unavailable (%s); retrying in %.1fs", what, exc, pause)

        policy = dataclasses.replace(
            self._backoff(),
            deadline=None,
            sleep=self._stop.wait,
            on_retry=on_retry,
            give_up=self._stop.is_set,
        )
        return policy.call(fn)

    def _close(self) -> None:
        self._closing = True
        consumer, self._consumer = self._consumer, None
        producer, self._producer = self._producer, None
        try:
            if consumer is not None:
                try:
                    consumer.close()  # leaves the group: its partitions move at once
                except (KafkaException, RuntimeError) as exc:
                    log.warning("consumer close: %s", exc)
            if producer is not None:
                left = producer.flush(5.0)
                if left:
                    log.warning("%d produced message(s) not acknowledged at close", left)
        finally:
            if self.committer is not None:
                self.committer.close()
            if self._owns_quarantine and self._quarantine is not None:
                self._quarantine.close()
                self._quarantine = None
            if self._owns_live and self.live is not None:
                self.live.close()
                self.live = None

    # -- consuming and processing --------------------------------------------------------

    def _process(self, batch: list[Message]) -> None:
        """:meth:`_route` with the cyclic garbage collector paused: the batch's kept values
        are freed by reference counting before any collection could traverse them."""
        with gc_paused():
            self._route(batch)

    def _route(self, batch: list[Message]) -> None:
        """Validate one polled batch and hand every outcome to the producer (step 1).

        This is the hot path: per message only C-level accessors, one dict probe and one
        ``produce`` call; everything else is done per batch or per invalid message."""
        routing, producer = self._routing, self._producer
        assert routing is not None and producer is not None and self.committer is not None
        cp = self.committer.open  # bound once per batch: nothing seals it meanwhile
        started = time.perf_counter()
        # Message accessors are typed Optional; on a message without error they are not None.
        raws: list[Any] = [m.value() for m in batch]
        if None in raws:  # tombstones: validated (and quarantined) as empty messages
            raws = [b"" if r is None else r for r in raws]
        topics: list[Any] = [m.topic() for m in batch]
        result = routing.validate(topics, raws)
        cp.validation_seconds += time.perf_counter() - started

        partitions = [m.partition() for m in batch]
        cp.track(list(zip(topics, partitions, strict=True)), [m.offset() for m in batch])

        invalid = result.invalid
        values, contracts = result.values, result.contracts
        produce = producer.produce
        valid_topic = self.settings.kafka_valid_topic
        paths = routing.paths_by_id if routing.keep_values else None
        fields = routing.fields_by_id
        for i, m in enumerate(batch):
            if i in invalid:
                continue
            key = m.key()
            if paths is not None:
                rid = id(contracts[i])
                name = fields.get(rid)
                value = values[i]
                if name is not None and type(value) is dict:  # the usual top-level key
                    k = value.get(name)
                    if type(k) is str:
                        key = k.encode("utf-8", "surrogatepass")
                    elif k is not None:
                        key = key_bytes(k, ()) or key
                else:
                    path = paths.get(rid)
                    if path is not None:
                        key = key_bytes(value, path) or key
            headers = m.headers()
            try:
                if headers is None:  # a keyword argument costs the client ~0.5 us per call
                    produce(valid_topic, raws[i], key)
                else:
                    produce(valid_topic, raws[i], key, headers=headers)
            except BufferError:
                self._out.produce(valid_topic, raws[i], key, headers)
            except KafkaException as exc:
                invalid[i] = Output.unproducible(exc, valid_topic, raws[i], contracts[i])

        attempts = self._remediate(batch, raws, result, cp) if invalid else {}
        cp.count(topics, contracts, invalid)
        if invalid:
            now = datetime.now(UTC).isoformat()
            for i, res in invalid.items():
                attempt = attempts.get(i)
                revision = attempt.revision if attempt is not None else None
                self._quarantine_message(cp, batch[i], raws[i], res, now, revision)
        producer.poll(0)  # serve delivery-failure callbacks

    def _remediate(
        self, batch: list[Message], raws: list[Any], result: BatchResult, cp: Checkpoint
    ) -> dict[int, Attempt]:
        """The double pass: a message valid after remediation is produced (fixed) to the valid
        topic and taken out of ``result.invalid``; its original is queued for the store."""
        routing = self._routing
        assert routing is not None
        attempts = attempt_batch(result, routing, self.remediation)
        valid_topic = self.settings.kafka_valid_topic
        for i, attempt in attempts.items():
            if not attempt.valid:
                continue
            m, res = batch[i], result.invalid[i]
            item, key, headers = fixed_message(m, raws[i], res, attempt, routing, self.run_id)
            try:
                self._out.produce(valid_topic, attempt.revision.payload, key, headers)
            except KafkaException as exc:  # too large: stays invalid, with the reason
                failure = Output.unproducible(
                    exc, valid_topic, attempt.revision.payload, res.contract
                )
                revision = dataclasses.replace(attempt.revision, errors=failure.errors)
                attempts[i] = dataclasses.replace(attempt, revision=revision)
                if res.contract is not None:
                    self.remediation.stats.demote(res.contract.name)
                continue
            del result.invalid[i]
            cp.items.append(item)
        return attempts

    def _quarantine_message(
        self,
        cp: Checkpoint,
        m: Message,
        raw: bytes,
        res: ValidationResult,
        now: str,
        remediation: Revision | None = None,
    ) -> None:
        """Queue an invalid message (with its remediation attempt, if any) for the store and
        produce its DLQ envelope."""
        msg = DlqMessage.build(
            raw,
            res,
            topic=str(m.topic()),
            partition=int(m.partition() or 0),
            offset=int(m.offset() or 0),
            key=m.key(),
            headers=m.headers(),  # type: ignore[arg-type]  # consumed values are bytes
            run_id=self.run_id,
            quarantined_at=now,
            max_original_bytes=self.settings.dlq_max_original_bytes,
        )
        item = msg.item
        if remediation is not None:
            item = dataclasses.replace(item, remediation=remediation)
        cp.items.append(item)
        self._out.produce_dlq(
            self.settings.kafka_dlq_topic, msg.value, msg.key, msg.headers, msg.without_original
        )

    # -- the checkpoint ------------------------------------------------------------------

    def _wait(self, seconds: float) -> None:
        """Poll without consuming for ``seconds`` (backoff while the assignment is paused)."""
        assert self._producer is not None
        producer = self._producer

        def tick() -> None:
            self.last_loop_at = time.monotonic()
            producer.poll(0)

        self._group.wait(seconds, tick)

    # -- rebalance -----------------------------------------------------------------------

    def on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Rebalance callback (as :meth:`on_revoke` and :meth:`on_lost`, given to the
        consumer's ``subscribe``): take the assigned partitions."""
        self._group.assign(partitions)
        if partitions:
            log.info("assigned %s", _names(partitions))

    def on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Commit what is done; drop what is not (its new owner consumes it again)."""
        revoked = {(tp.topic, tp.partition) for tp in partitions}
        if partitions:
            log.info("revoked %s", _names(partitions))
        committer = self.committer
        if committer is None:
            return
        if not committer.in_checkpoint and not self._closing and committer.holds(revoked):
            try:
                committer.complete_all(blocking=False)
            except DataQuarantineError as exc:
                if not is_transient(exc):
                    raise
                log.warning("could not commit before the rebalance (%s); dropping", exc)
        committer.drop(revoked)

    def on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Partitions taken away without a clean revoke: committing would be refused."""
        log.warning("lost %s; their uncommitted messages go to the new owner", _names(partitions))
        if self.committer is not None:
            self.committer.drop({(tp.topic, tp.partition) for tp in partitions})

    # -- health ------------------------------------------------------------------------

    def _housekeeping(self) -> None:
        """Probes (when idle), contract reloads and lag."""
        assert self._consumer is not None and self._quarantine is not None
        assert self.committer is not None
        if not self.committer.pending():
            self.status.probe(self._consumer, self._quarantine, self.settings.raw_topics[0])
        if self._routing is not None:
            if self.live is not None:
                # Between two batches: the next batch is judged by the new contracts.
                if self.live.poll_seconds:
                    self.live.refresh()
                self._routing.follow()
            elif self.settings.contracts_refresh_seconds:
                self._routing.refresh(self.settings.contracts_refresh_seconds)
        now = time.monotonic()
        if self.observers and now - self._lag_at >= _LAG_INTERVAL:
            self._lag_at = now
            report_lag(self._consumer, self.observers, self._limit)


def _names(partitions: Sequence[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions)
