"""The list totals cache: single flight, TTL with background refresh, clearing."""

from __future__ import annotations

import threading
import time

import pytest

from dataquarantine.errors import StoreUnavailableError
from dataquarantine.quarantine.envelope import QuarantineFilter
from dataquarantine.review.counts import CountCache

A = QuarantineFilter(contract="a")


class Counter:
    def __init__(self) -> None:
        self.calls = 0
        self.value = 10
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False

    def __call__(self, flt: QuarantineFilter) -> int:
        self.calls += 1
        self.gate.wait(5)
        if self.fail:
            raise StoreUnavailableError("down")
        return self.value


def _wait_for(predicate: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.005)
    raise AssertionError("condition not reached")


def test_concurrent_requests_share_one_query() -> None:
    count = Counter()
    count.gate.clear()
    cache = CountCache(count, ttl=60)
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(A))) for _ in range(10)]
    for t in threads:
        t.start()
    _wait_for(lambda: count.calls == 1)
    count.gate.set()
    for t in threads:
        t.join()
    assert results == [10] * 10
    assert count.calls == 1


def test_stale_value_is_served_while_refreshing() -> None:
    count = Counter()
    cache = CountCache(count, ttl=0.01)
    assert cache.get(A) == 10
    time.sleep(0.02)
    count.value = 11
    assert cache.get(A) == 10  # stale, refresh started
    _wait_for(lambda: cache.get(A) == 11)


def test_clear_forgets_and_ttl_zero_never_caches() -> None:
    count = Counter()
    cache = CountCache(count, ttl=60)
    cache.get(A)
    count.value = 12
    assert cache.get(A) == 10
    cache.clear()
    assert cache.get(A) == 12
    uncached = CountCache(count, ttl=0)
    uncached.get(A)
    uncached.get(A)
    assert count.calls == 4


def test_errors_reach_every_waiter() -> None:
    count = Counter()
    count.fail = True
    cache = CountCache(count, ttl=60)
    with pytest.raises(StoreUnavailableError):
        cache.get(A)
    count.fail = False
    assert cache.get(A) == 10
