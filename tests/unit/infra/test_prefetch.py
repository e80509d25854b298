"""The read-ahead thread: order, errors reach the consumer, early stop, bounded look-ahead."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from dataquarantine.infra.prefetch import prefetch


class Source:
    """An endless generator source that records its thread and how far it got."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.produced = 0
        self.thread: threading.Thread | None = None
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[int]:
        self.thread = threading.current_thread()
        try:
            n = 0
            while True:
                if n == self.fail_at:
                    raise KeyError(n)
                self.produced += 1
                yield n
                n += 1
        finally:
            self.closed.set()


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_items_arrive_in_order_from_another_thread() -> None:
    seen: list[str] = []

    def source() -> Iterator[int]:
        seen.append(threading.current_thread().name)
        yield from range(50)

    assert list(prefetch(source(), depth=3, name="dq-test-reader")) == list(range(50))
    assert seen == ["dq-test-reader"]


def test_an_empty_source_ends_at_once() -> None:
    assert list(prefetch([])) == []


def test_a_source_error_reaches_the_consumer_after_the_items_before_it() -> None:
    source = Source(fail_at=3)
    got: list[int] = []
    with pytest.raises(KeyError) as raised:
        got.extend(prefetch(iter(source)))
    assert got == [0, 1, 2]
    assert raised.value.args == (3,)
    assert source.closed.is_set()


def test_closing_early_stops_the_thread_and_closes_the_source() -> None:
    source = Source()
    items = prefetch(iter(source), depth=2, join_timeout=5)
    assert next(items) == 0
    items.close()
    assert source.closed.is_set()
    assert source.thread is not None
    assert not source.thread.is_alive()


def test_a_consumer_error_stops_the_thread() -> None:
    source = Source()
    with pytest.raises(RuntimeError):
        for item in prefetch(iter(source)):
            if item == 2:
                raise RuntimeError("consumer failed")
    _wait_for(source.closed.is_set)
    thread = source.thread
    assert thread is not None
    _wait_for(lambda: not thread.is_alive())


@pytest.mark.parametrize("depth", [1, 3])
def test_the_producer_stays_at_most_depth_items_ahead(depth: int) -> None:
    source = Source()
    items = prefetch(iter(source), depth=depth)
    assert next(items) == 0
    # One item taken, ``depth`` queued and one more made and waiting for room: no further.
    _wait_for(lambda: source.produced == depth + 2)
    time.sleep(0.3)
    assert source.produced == depth + 2
    assert next(items) == 1
    _wait_for(lambda: source.produced == depth + 3)
    items.close()


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="depth"):
        prefetch([1], depth=0)
