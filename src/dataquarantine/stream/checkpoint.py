"""What the worker consumed since its last commit, and the :class:`Committer` that makes it
durable and commits it, in numbered steps:

1. **produce**: the worker's hot path hands every valid message and every DLQ envelope to
   the producer as it consumes (not here);
2. **quarantine write**: the sealed checkpoint's invalid messages are written to the store,
   durably and idempotently, in a background thread;
3. **flush**: the producer is flushed and every delivery report checked; a failed delivery
   rewinds the consumer instead of committing;
4. **commit**: the offsets (last + 1) of the sealed checkpoint, synchronously;
5. **reset**: the assignment is resumed, the counters move and the observers are told.

Nothing is committed before steps 2 and 3 succeeded, so a crash anywhere loses nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from confluent_kafka import TopicPartition

from dataquarantine.errors import DataQuarantineError, StoreUnavailableError, is_transient
from dataquarantine.infra.retry import RetryPolicy
from dataquarantine.kernel.results import ContractRef, ErrorCode, ValidationResult
from dataquarantine.quarantine.envelope import QuarantineItem
from dataquarantine.stream.stats import VALID, BatchObserver, BatchStats

if TYPE_CHECKING:
    from dataquarantine.stream.status import WorkerStatus

__all__ = [
    "UNKNOWN_SCHEMA",
    "Checkpoint",
    "Committer",
    "Flushable",
    "OffsetGroup",
    "Partition",
    "QuarantineWriter",
    "RateLimit",
    "clear_lag",
    "headline_code",
    "notify_batch",
    "notify_retry",
]

log = logging.getLogger("dataquarantine.stream")

T = TypeVar("T")

#: The ``schema`` label of a message no contract was found for.
UNKNOWN_SCHEMA = "unknown"

Partition = tuple[str, int]


def headline_code(res: ValidationResult) -> str:
    return res.errors[0].code.value if res.errors else ErrorCode.SYSTEM_ERROR.value


@dataclass
class Checkpoint:
    """Messages consumed (and handed to the producer) but not committed yet."""

    #: (topic, partition) -> [first offset, last offset] consumed.
    offsets: dict[Partition, list[int]] = field(default_factory=dict)
    #: The invalid messages, for the quarantine store.
    items: list[QuarantineItem] = field(default_factory=list)
    #: How many of ``items`` are already durable in the store.
    durable: int = 0
    counts: Counter[tuple[str, ContractRef | None, str]] = field(default_factory=Counter)
    records: int = 0
    validation_seconds: float = 0.0
    opened_at: float = 0.0
    sealed_at: float = 0.0

    def track(self, coords: Sequence[Any], offsets: Sequence[Any]) -> None:
        """Extend the offset range of each partition (``coords[i]`` is ``(topic, partition)``
        of the message at ``offsets[i]``; a batch is in offset order per partition)."""
        if not self.records:
            self.opened_at = time.monotonic()
        last = dict(zip(coords, offsets, strict=True))
        firsts = dict(zip(reversed(coords), reversed(offsets), strict=True))
        for tp, first in firsts.items():
            span = self.offsets.get(tp)
            if span is None:
                self.offsets[tp] = [first, last[tp]]
            else:
                span[1] = last[tp]
        self.records += len(offsets)

    def count(
        self,
        topics: Sequence[str],
        contracts: Sequence[ContractRef | None],
        invalid: Mapping[int, ValidationResult],
    ) -> None:
        """Count a batch per (topic, contract, outcome)."""
        # Refs are shared objects: count identities in C, then name the few groups (hashing
        # a ref, a dataclass, costs a Python call).
        ids = list(map(id, contracts))
        refs = dict(zip(ids, contracts, strict=True))
        tally = Counter(zip(topics, ids, strict=True))
        bad: Counter[tuple[str, int, int, str]] = Counter()
        for i, res in invalid.items():
            ref = res.contract
            named = ids[i]  # the outcome is counted under the contract the result names
            if ref is not None:
                named = id(ref)
                refs[named] = ref
            bad[(topics[i], ids[i], named, headline_code(res))] += 1
        for (topic, rid, bad_rid, code), n in bad.items():
            tally[(topic, rid)] -= n
            self.counts[(topic, refs[bad_rid], code)] += n
        for (topic, rid), n in tally.items():
            if n:
                self.counts[(topic, refs[rid], VALID)] += n

    def drop(self, partitions: Iterable[Partition]) -> None:
        """Forget the offsets of ``partitions``: they will not be committed by this worker."""
        for tp in partitions:
            self.offsets.pop(tp, None)

    def commit_offsets(self) -> list[TopicPartition]:
        """The offsets to commit: last consumed + 1, per partition."""
        return [TopicPartition(t, p, span[1] + 1) for (t, p), span in self.offsets.items()]

    def stats(self, commit_seconds: float) -> BatchStats:
        counts: Counter[tuple[str, str, str]] = Counter()
        for (topic, ref, outcome), n in self.counts.items():
            if n:
                counts[(topic, ref.name if ref else UNKNOWN_SCHEMA, outcome)] += n
        return BatchStats(
            counts=dict(counts),
            records=self.records,
            validation_seconds=self.validation_seconds,
            commit_seconds=commit_seconds,
            at=datetime.now(UTC),
        )


class RateLimit:
    """True at most once per key and interval (an outage repeats the same warning)."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}

    def __call__(self, key: str) -> bool:
        now = time.monotonic()
        if now - self._last.get(key, -1e9) < self.interval:
            return False
        self._last[key] = now
        return True


def notify_batch(observers: Sequence[BatchObserver], stats: BatchStats, limit: RateLimit) -> None:
    """Hand a committed batch's ``stats`` to every observer; one that fails is logged (at
    most once per interval), never fatal: the batch is committed already."""
    for observer in observers:
        try:
            observer.observe_batch(stats)
        except Exception:
            if limit(f"observer {type(observer).__name__}"):
                log.exception("observer %s failed", type(observer).__name__)


def notify_retry(observers: Sequence[BatchObserver], step: str) -> None:
    """Tell ``observers`` that ``step`` failed and is retried. Optional on observers:
    ``observe_retry(step)``."""
    for observer in observers:
        observe = getattr(observer, "observe_retry", None)
        if callable(observe):
            observe(step)


def clear_lag(observers: Sequence[BatchObserver], partitions: Collection[Partition]) -> None:
    """Forget the lag of ``partitions``, which another worker now owns (a stale series would
    show a frozen lag forever). Optional on observers: ``clear_lag(topic, partition)``."""
    for observer in observers:
        clear = getattr(observer, "clear_lag", None)
        if callable(clear):
            for topic, partition in partitions:
                clear(topic, partition)


class QuarantineWriter(Protocol):
    """Step 2: writes quarantine items durably (idempotent on their source coordinates)."""

    def write(self, items: Sequence[QuarantineItem]) -> object: ...


class Flushable(Protocol):
    """Step 3: the producer's side (see :class:`~dataquarantine.stream.output.Output`)."""

    def flush(self) -> None: ...

    def delivered(self) -> bool: ...


class OffsetGroup(Protocol):
    """Step 4 and the rewind: the consumer's side (see ``stream.consumer.GroupConsumer``)."""

    def commit(self, offsets: list[TopicPartition]) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def seek(self, offsets: Mapping[Partition, int]) -> None: ...


class Committer:
    """Owns the open and the sealed checkpoint and takes the sealed one through steps 2-5.

    At most one checkpoint is sealed at a time; its quarantine write runs in a background
    thread while the worker goes on consuming into :attr:`open`. ``policy`` gives the backoff
    (its budget is ignored: a blocking step is retried until it succeeds, fails terminally or
    ``deadline()``, the shutdown deadline on ``clock``, has passed); ``wait(seconds)`` pauses
    while keeping the group membership (the worker polls without consuming).
    """

    def __init__(
        self,
        *,
        store: QuarantineWriter,
        output: Flushable,
        group: OffsetGroup,
        status: WorkerStatus,
        policy: RetryPolicy,
        limit: RateLimit,
        observers: Sequence[BatchObserver],
        wait: Callable[[float], None],
        deadline: Callable[[], float | None],
        flush_max_records: int,
        flush_interval: float,
        callback_wait: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._output = output
        self._group = group
        self._status = status
        self._policy = policy
        self._limit = limit
        self._observers = observers
        self._wait = wait
        self._deadline = deadline
        self._max_records = flush_max_records
        self._interval = flush_interval
        self._callback_wait = callback_wait
        self._clock = clock
        #: The checkpoint the worker consumes into.
        self.open = Checkpoint()
        #: The checkpoint being made durable (its quarantine write runs in ``_writer``).
        self.sealed: Checkpoint | None = None
        self._write_future: Future[None] | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dq-quarantine")
        #: True while :meth:`finish` runs (a rebalance callback must not nest another one).
        self.in_checkpoint = False
        self._rewinds = 0
        #: Totals since start (for logs and tests): committed records and checkpoints.
        self.committed_records = 0
        self.checkpoints = 0

    # -- when -----------------------------------------------------------------------------

    def due(self, now: float) -> bool:
        """Whether the open checkpoint should be sealed (full or old enough)."""
        cp = self.open
        if not cp.records:
            return False
        if cp.records >= self._max_records:
            return True
        return now - cp.opened_at >= self._interval

    def idle_timeout(self, poll: float, now: float) -> float:
        """How long the worker may block polling without delaying a checkpoint."""
        timeout = poll
        if self.sealed is not None:
            timeout = min(timeout, 0.005)  # its write may finish any moment: commit soon
        if self.open.records:
            timeout = min(timeout, max(0.0, self.open.opened_at + self._interval - now))
        return timeout

    def ready(self) -> bool:
        """A sealed checkpoint is durable and delivered: :meth:`finish` will not wait."""
        return (
            self.sealed is not None
            and (self._write_future is None or self._write_future.done())
            and self._output.delivered()
        )

    def pending(self) -> int:
        """Consumed records not committed yet (open and sealed)."""
        return self.open.records + (self.sealed.records if self.sealed else 0)

    # -- the steps ------------------------------------------------------------------------

    def seal(self) -> None:
        """Close the open checkpoint and start its quarantine write (step 2) in the
        background, so that consuming goes on meanwhile."""
        assert self.sealed is None
        cp, self.open = self.open, Checkpoint()
        cp.sealed_at = time.perf_counter()
        self.sealed = cp
        if cp.durable < len(cp.items):
            self._write_future = self._writer.submit(self._write_items, cp)

    def _write_items(self, cp: Checkpoint) -> None:
        """Step 2, in the writer thread (the stores are thread-safe)."""
        self._store.write(cp.items[cp.durable :])
        cp.durable = len(cp.items)

    def finish(self, *, blocking: bool) -> bool:
        """Complete the sealed checkpoint: make it durable, then commit it.

        ``blocking``: retry transient failures (pausing the consumption) until they succeed
        or the shutdown deadline passes; otherwise try once (inside a rebalance callback).
        Returns False when a delivery failed and the work was rewound for redelivery.
        """
        cp = self.sealed
        if cp is None:
            return True
        self.in_checkpoint = True
        try:
            # 1) Produce: already done while processing: every valid message and every DLQ
            #    envelope of this checkpoint was handed to the producer. Nothing committed.
            # 2) Quarantine: the invalid messages are written to the store, durably (payload
            #    chunk first, then the metadata in one transaction; idempotent on the source
            #    coordinates), in the background since the checkpoint was sealed. Wait for
            #    it; store down: pause the assignment and write items[durable:] again.
            self._step(blocking, "quarantine write", lambda: self._await_write(cp, blocking))
            # 3) Flush: wait until the broker acknowledged every produced message and check
            #    that every delivery report succeeded. A failed delivery: no commit; the
            #    work is rewound and consumed again (at least once, never lost).
            self._step(blocking, "producer flush", self._flush)
            if self._status.delivery_errors:
                self._rewind(wait=blocking)
                return False
            # 4) Commit: only now, synchronously, the explicit offsets (last + 1) of every
            #    partition of this checkpoint still owned.
            self._step(blocking, "offset commit", lambda: self._group.commit(cp.commit_offsets()))
        finally:
            self.in_checkpoint = False
        # 5) Reset and resume, count, and report to the observers (metrics, aggregates).
        self.sealed = None
        self._rewinds = 0
        self._group.resume()
        self.committed_records += cp.records
        self.checkpoints += 1
        if self._observers:
            stats = cp.stats(time.perf_counter() - cp.sealed_at)
            notify_batch(self._observers, stats, self._limit)
        return True

    def complete_all(self, *, blocking: bool) -> None:
        """Commit everything consumed so far (shutdown, rebalance)."""
        if self.sealed is not None and not self.finish(blocking=blocking):
            return
        if self.open.records:
            self.seal()
            self.finish(blocking=blocking)

    def _await_write(self, cp: Checkpoint, blocking: bool) -> None:
        """Wait for the sealed checkpoint's quarantine write; start it again after a
        failure. A failed write raises here (and the retry pauses and tries again)."""
        future = self._write_future
        if future is None:
            if cp.durable >= len(cp.items):
                return
            future = self._write_future = self._writer.submit(self._write_items, cp)
        # Not paused while waiting: pausing drops the client's prefetched messages. A write
        # is bounded by the quarantine's own short retry policy.
        try:
            future.result(timeout=None if blocking else self._callback_wait)
        except FutureTimeout:
            raise StoreUnavailableError("the quarantine write is still running") from None
        except BaseException:
            self._write_future = None
            raise
        self._write_future = None
        self._status.store_up()

    def _flush(self) -> None:
        self._output.flush()
        self._status.broker_up()

    def _step(self, blocking: bool, what: str, fn: Callable[[], T]) -> T:
        return self._retry(what, fn) if blocking else fn()

    def _retry(self, what: str, fn: Callable[[], T]) -> T:
        """``fn()`` until it stops failing transiently; meanwhile the assignment is paused
        and polled, so the group membership holds and nothing new is consumed."""
        failures = 0

        def on_retry(exc: Exception, attempt: int, pause: float) -> None:
            nonlocal failures
            failures = attempt
            assert isinstance(exc, DataQuarantineError)  # only transient ones are retried
            self._status.failed(exc)
            notify_retry(self._observers, what)
            if attempt == 1 or self._limit(what):
                log.warning(
                    "%s failed (%s); consumption paused, retrying (attempt %d)",
                    what,
                    exc,
                    attempt,
                    extra={"batch": self.checkpoints + 1},  # the checkpoint being committed
                )
            self._group.pause()

        policy = dataclasses.replace(
            self._policy,
            max_attempts=None,
            deadline=None,
            sleep=self._wait,
            on_retry=on_retry,
            give_up=self._past_deadline,
        )
        try:
            result = policy.call(fn)
        except DataQuarantineError as exc:
            if is_transient(exc):  # retried until the shutdown deadline passed
                self._status.failed(exc)
                log.error(
                    "shutdown deadline passed during %s (%s): %d uncommitted message(s) "
                    "will be consumed again by the next worker",
                    what,
                    exc,
                    self.pending(),
                )
            raise
        if failures:
            log.info("%s succeeded after %d failed attempt(s); resuming", what, failures)
        return result

    def _past_deadline(self) -> bool:
        deadline = self._deadline()
        return deadline is not None and self._clock() >= deadline

    def _rewind(self, *, wait: bool) -> None:
        """A delivery failed: seek every partition back to its first uncommitted message and
        drop the sealed and open checkpoints; all of it is consumed again. ``wait`` backs off
        first (never inside a rebalance callback)."""
        errors, self._status.delivery_errors = self._status.delivery_errors, []
        sealed, cp = self.sealed, self.open
        firsts = {tp: span[0] for tp, span in cp.offsets.items()}
        if sealed is not None:
            firsts.update({tp: span[0] for tp, span in sealed.offsets.items()})
        records = self.pending()
        self.sealed, self.open = None, Checkpoint()
        self._rewinds += 1
        log.error(
            "%d message(s) could not be delivered (first: %s); not committing, consuming "
            "the last %d message(s) again",
            len(errors),
            errors[0],
            records,
        )
        self._group.seek(firsts)
        self._status.broker_ok = False
        if wait:
            self._wait(self._policy.backoff(min(self._rewinds, 10) + 1))

    # -- rebalance ------------------------------------------------------------------------

    def holds(self, partitions: Collection[Partition]) -> bool:
        """Whether uncommitted work of ``partitions`` is pending."""
        pending = [self.open, *([self.sealed] if self.sealed else [])]
        return any(tp in cp.offsets for cp in pending for tp in partitions)

    def drop(self, partitions: Collection[Partition]) -> None:
        """Forget ``partitions`` (revoked or lost): their offsets will not be committed."""
        self.open.drop(partitions)
        if self.sealed is not None:
            self.sealed.drop(partitions)
        clear_lag(self._observers, partitions)

    def close(self) -> None:
        """Wait for a quarantine write in flight and stop the writer thread."""
        self._writer.shutdown(wait=True)
