"""The ``/login`` rate limit: failed attempts per client, in a bounded memory.

Each client address may fail :attr:`LoginLimiter.max_failures` times; the window opened by
its first failure then refuses *every* attempt (a right token too, or guessing would go on)
with 429 and ``Retry-After`` until :attr:`LoginLimiter.window_seconds` have passed since that
first failure. A success clears the client's count. At most :attr:`LoginLimiter.max_clients`
addresses are remembered; past that the least recently seen is forgotten, so a flood of
addresses costs bounded memory (and can only make the limiter forget, never block others).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["LoginLimiter"]


@dataclass(slots=True)
class _Window:
    started: float
    failures: int


class LoginLimiter:
    """Fixed-window failure counter per client key (the client address)."""

    def __init__(
        self,
        *,
        max_failures: int = 5,
        window_seconds: float = 300.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_failures < 1 or window_seconds <= 0 or max_clients < 1:
            raise ValueError("max_failures, window_seconds and max_clients must be positive")
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.max_clients = max_clients
        #: Seconds, monotonic; injectable so tests need not sleep.
        self.clock = clock
        self._windows: OrderedDict[str, _Window] = OrderedDict()
        self._lock = threading.Lock()

    def _current(self, key: str, now: float) -> _Window | None:
        window = self._windows.get(key)
        if window is not None and now - window.started >= self.window_seconds:
            del self._windows[key]
            return None
        return window

    def retry_after(self, key: str) -> int | None:
        """Seconds until ``key`` may try again, or ``None`` when it may try now."""
        with self._lock:
            now = self.clock()
            window = self._current(key, now)
            if window is None or window.failures < self.max_failures:
                return None
            return max(1, math.ceil(window.started + self.window_seconds - now))

    def failed(self, key: str) -> None:
        """Count one failed attempt of ``key``."""
        with self._lock:
            now = self.clock()
            window = self._current(key, now)
            if window is None:
                window = self._windows[key] = _Window(started=now, failures=0)
            window.failures += 1
            self._windows.move_to_end(key)
            while len(self._windows) > self.max_clients:
                self._windows.popitem(last=False)

    def succeeded(self, key: str) -> None:
        """Forget ``key``'s failures."""
        with self._lock:
            self._windows.pop(key, None)

    def __len__(self) -> int:
        return len(self._windows)
