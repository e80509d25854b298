"""The commit protocol, one failure between two steps at a time (no broker, no sleeps).

The committer runs against a fake consumer group and a fake producer output, and against the
real :class:`~dataquarantine.quarantine.service.Quarantine` over the in-memory stores of
:mod:`dataquarantine.testing`. Time is a manual clock that ``wait`` advances.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from confluent_kafka import TopicPartition
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataquarantine.errors import (
    BrokerFatalError,
    BrokerUnavailableError,
    StoreError,
    StoreUnavailableError,
)
from dataquarantine.infra.retry import NO_RETRY, RetryPolicy
from dataquarantine.quarantine.envelope import KafkaSource, QuarantineFilter, QuarantineItem
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.stream.checkpoint import Committer, Partition, RateLimit
from dataquarantine.stream.stats import BatchStats
from dataquarantine.stream.status import WorkerStatus
from dataquarantine.testing import InMemoryPayloadStore, InMemoryQuarantineStore, make_item

P0: Partition = ("raw", 0)
P1: Partition = ("raw", 1)
POLICY = RetryPolicy(initial_backoff=0.1, max_backoff=0.8, jitter=0.0)


class Clock:
    """Manual time: ``wait`` records the pause and moves the clock on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []
        self.during_wait: Callable[[], None] = lambda: None

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
        self.during_wait()


class FakeOutput:
    """The producer side: ``flush`` fails as scheduled or reports failed deliveries."""

    def __init__(self, events: list[str], status: WorkerStatus) -> None:
        self.events = events
        self.status = status
        self.failures: list[Exception] = []
        self.deliveries: list[list[str]] = []  # delivery errors reported by the next flushes
        self.unacknowledged = 0

    def flush(self) -> None:
        self.events.append("flush")
        if self.failures:
            raise self.failures.pop(0)
        if self.deliveries:
            self.status.delivery_errors.extend(self.deliveries.pop(0))
            return
        self.unacknowledged = 0
        self.events.append("flushed")

    def delivered(self) -> bool:
        return self.unacknowledged == 0


class FakeGroup:
    """The consumer group: commits fail as scheduled; ``check`` runs before each commit."""

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.failures: list[Exception] = []
        self.commits: list[dict[Partition, int]] = []
        self.seeks: list[dict[Partition, int]] = []
        self.paused = False
        self.pauses = 0
        self.check: Callable[[dict[Partition, int]], None] = lambda offsets: None

    def commit(self, offsets: list[TopicPartition]) -> None:
        self.events.append("commit")
        if self.failures:
            raise self.failures.pop(0)
        committed = {(tp.topic, tp.partition): tp.offset for tp in offsets}
        self.check(committed)
        self.commits.append(committed)
        self.events.append("committed")

    def pause(self) -> None:
        self.paused = True
        self.pauses += 1

    def resume(self) -> None:
        self.paused = False

    def seek(self, offsets: Any) -> None:
        self.seeks.append(dict(offsets))


class Writer:
    """The quarantine (real, over in-memory stores) with the items of every call recorded."""

    def __init__(self, quarantine: Quarantine, events: list[str]) -> None:
        self.quarantine = quarantine
        self.events = events
        self.calls: list[int] = []
        self.gate: threading.Event | None = None

    def write(self, items: Sequence[QuarantineItem]) -> object:
        self.calls.append(len(items))
        if self.gate is not None:
            self.gate.wait(10)
        report = self.quarantine.write(items)
        self.events.append("durable")
        return report


class Observer:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.batches: list[BatchStats] = []
        self.cleared: list[Partition] = []
        self.retried: list[str] = []

    def observe_retry(self, step: str) -> None:
        self.retried.append(step)

    def observe_batch(self, stats: BatchStats) -> None:
        self.batches.append(stats)
        if self.fail:
            raise RuntimeError("observer down")

    def set_lag(self, topic: str, partition: int, lag: int) -> None:
        pass

    def clear_lag(self, topic: str, partition: int) -> None:
        self.cleared.append((topic, partition))


class Harness:
    def __init__(
        self, store: InMemoryQuarantineStore | None = None, observer: Observer | None = None
    ) -> None:
        self.events: list[str] = []
        self.clock = Clock()
        self.store = store or InMemoryQuarantineStore()
        self.writer = Writer(
            Quarantine(self.store, InMemoryPayloadStore(), retry=NO_RETRY), self.events
        )
        self.status = WorkerStatus(RateLimit())
        self.output = FakeOutput(self.events, self.status)
        self.group = FakeGroup(self.events)
        self.observer = observer or Observer()
        self.deadline: float | None = None
        self.committer = Committer(
            store=self.writer,
            output=self.output,
            group=self.group,
            status=self.status,
            policy=POLICY,
            limit=RateLimit(),
            observers=[self.observer],
            wait=self.clock.wait,
            deadline=lambda: self.deadline,
            flush_max_records=100,
            flush_interval=1.0,
            callback_wait=0.05,
            clock=self.clock,
        )

    def consume(self, tp: Partition, offsets: range, invalid: int = 0) -> list[QuarantineItem]:
        """Step 1 as the worker does it: track the offsets, queue the first ``invalid``."""
        cp = self.committer.open
        cp.track([tp] * len(offsets), list(offsets))
        items = [
            make_item(b'{"n": %d}' % o, source=KafkaSource(tp[0], tp[1], o))
            for o in list(offsets)[:invalid]
        ]
        cp.items.extend(items)
        self.output.unacknowledged += len(offsets)
        return items

    def stored(self) -> int:
        return self.store.count(QuarantineFilter())

    def close(self) -> None:
        if self.writer.gate is not None:
            self.writer.gate.set()
        self.committer.close()


@pytest.fixture
def h() -> Any:
    harness = Harness()
    yield harness
    harness.close()


def test_a_no_invalid_items_means_no_write_but_flush_and_commit(h: Harness) -> None:
    h.consume(P0, range(0, 5))
    h.committer.seal()
    assert h.committer.finish(blocking=True)
    assert h.writer.calls == []
    assert h.events == ["flush", "flushed", "commit", "committed"]
    assert h.group.commits == [{P0: 5}]
    assert h.committer.committed_records == 5 and h.committer.checkpoints == 1
    assert h.committer.sealed is None and len(h.observer.batches) == 1


def test_b_transient_write_failures_pause_back_off_and_rewrite_the_rest(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h.consume(P0, range(0, 4), invalid=3)
    h.committer.open.durable = 1  # the first item is durable already
    h.store.fail_next(3)
    h.committer.seal()
    with caplog.at_level(logging.WARNING, "dataquarantine.stream"):
        assert h.committer.finish(blocking=True)
    warned = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert warned and all(r.batch == 1 for r in warned)  # the log line's batch
    assert h.clock.waits == [POLICY.backoff(n) for n in (1, 2, 3)] == [0.1, 0.2, 0.4]
    assert h.writer.calls == [2, 2, 2, 2]  # only items[durable:], each time
    assert h.group.pauses == 3 and not h.group.paused  # resumed after the commit
    assert h.group.commits == [{P0: 4}] and h.stored() == 2
    assert h.status.store_ok
    assert h.observer.retried == ["quarantine write"] * 3  # dataquarantine_stream_retries_total


def test_c_terminal_write_failure_raises_and_keeps_the_checkpoint(h: Harness) -> None:
    h.consume(P0, range(0, 2), invalid=1)
    h.store.fail_next(1, error=StoreError)
    h.committer.seal()
    sealed = h.committer.sealed
    with pytest.raises(StoreError):
        h.committer.finish(blocking=True)
    assert h.group.commits == [] and "flush" not in h.events
    assert h.committer.sealed is sealed and h.clock.waits == []


def test_d_write_still_running_in_a_rebalance_drops_the_partitions(h: Harness) -> None:
    h.writer.gate = threading.Event()
    h.consume(P0, range(0, 3), invalid=1)
    h.consume(P1, range(0, 2))
    h.committer.seal()
    assert h.committer.holds({P1})
    with pytest.raises(StoreUnavailableError, match="still running"):
        h.committer.complete_all(blocking=False)  # as on_revoke does
    h.committer.drop({P0, P1})  # ...then it drops what is revoked
    assert set(h.observer.cleared) == {P0, P1}
    h.writer.gate.set()
    assert h.committer.finish(blocking=True)  # the write completes; nothing to commit
    assert h.group.commits == [{}] and h.stored() == 1


def test_e_flush_failure_retries_the_flush_not_the_write(h: Harness) -> None:
    h.consume(P0, range(0, 3), invalid=2)
    h.output.failures = [BrokerUnavailableError("down"), BrokerUnavailableError("down")]
    h.committer.seal()
    assert h.committer.finish(blocking=True)
    assert h.writer.calls == [2]
    assert h.events.count("flush") == 3 and h.clock.waits == [0.1, 0.2]
    assert h.group.commits == [{P0: 3}]


@pytest.mark.parametrize("blocking", [True, False])
def test_f_delivery_errors_rewind_instead_of_committing(h: Harness, blocking: bool) -> None:
    h.consume(P0, range(10, 15))
    h.committer.seal()
    h.consume(P0, range(15, 18))
    h.consume(P1, range(3, 5))
    h.output.deliveries = [["msg too large"]]
    assert not h.committer.finish(blocking=blocking)
    assert h.group.seeks == [{P0: 10, P1: 3}]
    assert h.group.commits == []
    assert h.committer.sealed is None and h.committer.pending() == 0
    assert h.status.delivery_errors == [] and not h.status.broker_ok
    assert h.clock.waits == ([POLICY.backoff(2)] if blocking else [])


def test_g_commit_failure_retries_only_the_commit(h: Harness) -> None:
    h.consume(P0, range(0, 3), invalid=1)
    h.group.failures = [BrokerUnavailableError("coordinator moving")] * 2
    h.committer.seal()
    assert h.committer.finish(blocking=True)
    assert h.writer.calls == [1] and h.events.count("flush") == 1
    assert h.events.count("commit") == 3 and h.group.commits == [{P0: 3}]
    assert h.clock.waits == [0.1, 0.2]


def test_h_terminal_commit_failure_raises_without_report(h: Harness) -> None:
    h.consume(P0, range(0, 3))
    h.group.failures = [BrokerFatalError("fenced")]
    h.committer.seal()
    with pytest.raises(BrokerFatalError):
        h.committer.finish(blocking=True)
    assert h.observer.batches == []
    assert h.committer.committed_records == 0 and h.committer.checkpoints == 0
    assert h.committer.sealed is not None


@pytest.mark.parametrize("step", ["write", "flush", "commit"])
def test_i_shutdown_deadline_during_a_retry_raises(
    h: Harness, step: str, caplog: pytest.LogCaptureFixture
) -> None:
    h.consume(P0, range(0, 3), invalid=1)
    if step == "write":
        h.store.fail_next(100)
    elif step == "flush":
        h.output.failures = [BrokerUnavailableError("down")] * 100
    else:
        h.group.failures = [BrokerUnavailableError("down")] * 100
    h.committer.seal()
    h.consume(P1, range(0, 4))
    h.deadline = 0.25
    with (
        caplog.at_level(logging.ERROR, "dataquarantine.stream"),
        pytest.raises(StoreUnavailableError if step == "write" else BrokerUnavailableError),
    ):
        h.committer.finish(blocking=True)
    assert h.clock.waits == [0.1, 0.2]  # at 0.3 the deadline (0.25) has passed
    assert h.group.commits == []
    assert "shutdown deadline passed" in caplog.text and "7 uncommitted" in caplog.text


def test_j_partitions_revoked_or_lost_before_the_commit_are_not_committed(h: Harness) -> None:
    h.consume(P0, range(0, 3))
    h.consume(P1, range(0, 3))
    h.consume(("raw", 2), range(0, 3))
    h.committer.seal()
    h.committer.drop({P1})  # revoked between seal and commit
    h.group.failures = [BrokerUnavailableError("down")]
    h.clock.during_wait = lambda: h.committer.drop({("raw", 2)})  # lost during the retry
    assert h.committer.finish(blocking=True)
    assert h.group.commits == [{P0: 3}]
    assert set(h.observer.cleared) == {P1, ("raw", 2)}


def test_k_on_revoke_inside_a_checkpoint_does_not_nest(h: Harness) -> None:
    from dataquarantine.stream.settings import StreamSettings
    from dataquarantine.stream.worker import StreamWorker

    worker = StreamWorker(StreamSettings.load(kafka_bootstrap_servers="127.0.0.1:1"))
    worker.committer = h.committer
    h.consume(P0, range(0, 3))
    h.consume(P1, range(0, 3))
    h.committer.seal()
    h.consume(P1, range(3, 5))
    h.group.failures = [BrokerUnavailableError("down")]
    seen: list[bool] = []

    def revoke() -> None:  # a rebalance served while the retry polls
        seen.append(h.committer.in_checkpoint)
        worker.on_revoke(None, [TopicPartition("raw", 1)])  # type: ignore[arg-type]

    h.clock.during_wait = revoke
    assert h.committer.finish(blocking=True)
    assert seen == [True]
    assert h.events.count("flush") == 1  # no nested finish
    assert h.group.commits == [{P0: 3}]
    assert not h.committer.holds({P1})


def test_l_an_observer_raising_after_the_commit_leaves_it_standing() -> None:
    h = Harness(observer=Observer(fail=True))
    try:
        h.consume(P0, range(0, 3))
        h.committer.seal()
        assert h.committer.finish(blocking=True)
        assert h.group.commits == [{P0: 3}] and h.committer.committed_records == 3
        assert h.committer.sealed is None and len(h.observer.batches) == 1
    finally:
        h.close()


def test_m_crash_after_the_write_then_redelivery_stores_once() -> None:
    store = InMemoryQuarantineStore()
    first = Harness(store)
    try:
        first.consume(P0, range(0, 4), invalid=2)
        first.output.failures = [BrokerFatalError("crash")]  # dies after step 2
        first.committer.seal()
        with pytest.raises(BrokerFatalError):
            first.committer.finish(blocking=True)
        assert first.group.commits == [] and store.count(QuarantineFilter()) == 2
    finally:
        first.close()
    second = Harness(store)  # the next worker consumes the same messages again
    try:
        second.consume(P0, range(0, 4), invalid=2)
        second.committer.seal()
        assert second.committer.finish(blocking=True)
        assert second.group.commits == [{P0: 4}]
        assert store.count(QuarantineFilter()) == 2
    finally:
        second.close()


_FAULT = st.sampled_from(["ok", "transient", "terminal", "undelivered"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    writes=st.lists(st.sampled_from(["ok", "transient", "terminal"]), max_size=3),
    flushes=st.lists(_FAULT, max_size=3),
    commits=st.lists(st.sampled_from(["ok", "transient", "terminal"]), max_size=3),
    invalid=st.integers(0, 3),
    blocking=st.booleans(),
)
def test_n_commit_only_follows_a_durable_write_and_a_clean_flush(
    writes: list[str],
    flushes: list[str],
    commits: list[str],
    invalid: int,
    blocking: bool,
) -> None:
    h = Harness()
    try:
        items = h.consume(P0, range(0, 5), invalid=invalid)
        h.consume(P1, range(0, 2))
        for fault in writes:  # the store fails the first writes as scheduled (ok: stop)
            if fault == "ok":
                break
            h.store.fail_next(
                1, error=StoreUnavailableError if fault == "transient" else StoreError
            )
        for fault in flushes:
            if fault == "ok":
                break
            if fault == "undelivered":
                h.output.deliveries.append(["failed"])
                break
            error = BrokerUnavailableError if fault == "transient" else BrokerFatalError
            h.output.failures.append(error("broker"))
        for fault in commits:
            if fault == "ok":
                break
            error = BrokerUnavailableError if fault == "transient" else BrokerFatalError
            h.group.failures.append(error("broker"))

        def check(offsets: dict[Partition, int]) -> None:
            # Every quarantined item of a committed offset is durable, everything produced
            # is acknowledged and no delivery failed.
            assert h.stored() == len(items)
            assert h.output.unacknowledged == 0 and not h.status.delivery_errors
            events = h.events
            flushed = max(i for i, e in enumerate(events) if e == "flushed")
            assert "flush" not in events[flushed:]  # the last flush was clean
            assert not items or "durable" in events[:flushed]  # and followed the write

        h.group.check = check
        h.committer.seal()
        try:
            done = h.committer.finish(blocking=True) if blocking else _once(h)
        except (StoreError, StoreUnavailableError, BrokerFatalError, BrokerUnavailableError):
            assert h.group.commits == []
            return
        if done:
            assert h.group.commits == [{P0: 5, P1: 2}]
            assert h.committer.committed_records == 7
        else:  # rewound: nothing committed, all of it is consumed again
            assert h.group.commits == [] and h.group.seeks == [{P0: 0, P1: 0}]
    finally:
        h.close()


def _once(h: Harness) -> bool:
    return h.committer.finish(blocking=False)
