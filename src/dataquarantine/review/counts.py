"""Filtered totals for the list endpoint: a short-lived, single-flight cache of true counts.

Counting every record that matches a broad filter reads every matching index entry (hundreds
of milliseconds at a million rows), and a page of results asks for the same total again and
again (paging, refreshing, twenty reviewers on the default view). So:

* each filter's count is kept ``ttl`` seconds;
* concurrent requests for a filter that is not cached wait for one query instead of running
  twenty (single flight);
* once a count is older than ``ttl`` it is still answered at once while one background query
  refreshes it (stale while revalidate), so only the first request for a filter waits;
* every write made through the review service clears the cache, so a reviewer's own actions
  show at once; writes by other processes (a ``validate`` run, the stream worker) show up
  within ``ttl`` plus one count.

``ttl`` 0 turns caching off (every request counts; concurrent ones still share a query).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from dataquarantine.quarantine.envelope import QuarantineFilter

__all__ = ["CountCache"]

log = logging.getLogger("dataquarantine.review.counts")


class _Flight:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: int | None = None
        self.error: BaseException | None = None


class CountCache:
    """``get(flt)``: the true count of ``flt``, computed at most ``ttl`` seconds ago (or being
    refreshed)."""

    def __init__(
        self, count: Callable[[QuarantineFilter], int], *, ttl: float, max_entries: int = 1024
    ) -> None:
        self._count = count
        self.ttl = ttl
        self._max = max_entries
        self._lock = threading.Lock()
        self._values: OrderedDict[QuarantineFilter, tuple[float, int]] = OrderedDict()
        self._flights: dict[QuarantineFilter, _Flight] = {}
        self._generation = 0

    def get(self, flt: QuarantineFilter) -> int:
        with self._lock:
            hit = self._values.get(flt)
            flight = self._flights.get(flt)
            if hit is not None:
                if time.monotonic() - hit[0] >= self.ttl and flight is None:
                    flight = self._start(flt)
                    threading.Thread(
                        target=self._run, args=(flt, flight, self._generation), daemon=True
                    ).start()
                return hit[1]
            leader = flight is None
            if flight is None:
                flight = self._start(flt)
            generation = self._generation
        if leader:
            self._run(flt, flight, generation)
        else:
            flight.done.wait()
        if flight.error is not None:
            raise flight.error
        assert flight.value is not None
        return flight.value

    def clear(self) -> None:
        """Forget every count (after a write that may change them)."""
        with self._lock:
            self._values.clear()
            self._generation += 1

    def _start(self, flt: QuarantineFilter) -> _Flight:
        flight = self._flights[flt] = _Flight()
        return flight

    def _run(self, flt: QuarantineFilter, flight: _Flight, generation: int) -> None:
        started = time.monotonic()
        try:
            flight.value = self._count(flt)
        except Exception as exc:
            flight.error = exc
            log.debug("count of %s failed: %s", flt, exc)
        finally:
            with self._lock:
                self._flights.pop(flt, None)
                fresh = generation == self._generation
                if flight.value is not None and fresh and self.ttl > 0:
                    self._values[flt] = (started, flight.value)
                    self._values.move_to_end(flt)
                    while len(self._values) > self._max:
                        self._values.popitem(last=False)
                elif flight.error is not None:
                    self._values.pop(flt, None)
            flight.done.set()
