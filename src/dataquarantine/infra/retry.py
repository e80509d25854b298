"""Retrying transient infrastructure failures with capped, jittered exponential backoff.

Only exceptions for which :func:`dataquarantine.errors.is_transient` is true are retried;
anything else (bad configuration, a missing object, a programming error) propagates at once.
When the budget (attempts or deadline) is spent, the last transient exception is re-raised
unchanged, so the caller still sees *why* it failed and can pause, spool or give up.

Every retry logs one WARNING on the ``dataquarantine.retry`` logger (what failed, the attempt,
the pause), so an outage that is being ridden out is visible while it lasts.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from dataquarantine.errors import ConfigError, is_transient

__all__ = ["DEFAULT_RETRY_SECONDS", "NO_RETRY", "RetryPolicy"]

log = logging.getLogger("dataquarantine.retry")

#: How long a store may stay unreachable before a run gives up (``DQ_RETRY_SECONDS``).
DEFAULT_RETRY_SECONDS = 60.0

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry a transient failure.

    ``max_attempts`` counts the first call (1 = no retry; ``None``: as many as the deadline
    allows). ``deadline`` (seconds, ``None`` for none) bounds the whole call including sleeps:
    a retry whose backoff would end past the deadline is not attempted. The default rides out
    an outage of up to :data:`DEFAULT_RETRY_SECONDS`. The n-th backoff is
    ``initial_backoff * multiplier**(n-1)`` capped at ``max_backoff``, then reduced by a random
    fraction of up to ``jitter`` (0..1) so that many clients recovering from the same outage do
    not retry in lockstep.
    ``sleep`` and ``clock`` are injectable for tests.

    Two optional hooks let a caller own the outage: ``on_retry(exc, attempt, pause)`` is
    called before each pause instead of the WARNING line, and ``give_up()``, asked before each
    retry, re-raises the failure once it returns true (with it, neither ``max_attempts`` nor
    ``deadline`` is needed: the caller decides when to stop).
    """

    max_attempts: int | None = None
    deadline: float | None = DEFAULT_RETRY_SECONDS
    initial_backoff: float = 0.2
    multiplier: float = 2.0
    max_backoff: float = 5.0
    jitter: float = 0.2
    sleep: Callable[[float], object] = field(default=time.sleep, compare=False, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)
    on_retry: Callable[[Exception, int, float], None] | None = field(
        default=None, compare=False, repr=False
    )
    give_up: Callable[[], bool] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ConfigError(f"max_attempts must be >= 1, not {self.max_attempts}")
        if self.max_attempts is None and self.deadline is None and self.give_up is None:
            raise ConfigError("a retry policy needs max_attempts, a deadline or give_up")
        if self.deadline is not None and self.deadline <= 0:
            raise ConfigError(f"deadline must be > 0 seconds, not {self.deadline}")
        if self.initial_backoff < 0 or self.max_backoff < 0:
            raise ConfigError("backoff durations must be >= 0")
        if self.multiplier < 1:
            raise ConfigError(f"multiplier must be >= 1, not {self.multiplier}")
        if not 0 <= self.jitter <= 1:
            raise ConfigError(f"jitter must be within [0, 1], not {self.jitter}")

    @classmethod
    def for_window(cls, seconds: float) -> RetryPolicy:
        """The default backoff, retrying for up to ``seconds`` (``DQ_RETRY_SECONDS``)."""
        return cls(deadline=seconds)

    def backoff(self, retry: int) -> float:
        """The pause before retry number ``retry`` (1-based), jitter included."""
        base = min(self.max_backoff, self.initial_backoff * self.multiplier ** (retry - 1))
        return base * (1.0 - self.jitter * random.random())

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn(*args, **kwargs)``, retrying transient failures within the budget."""
        start = self.clock()
        attempt = 1
        while True:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if self.max_attempts is not None and attempt >= self.max_attempts:
                    raise
                if self.give_up is not None and self.give_up():
                    raise
                pause = self.backoff(attempt)
                elapsed = self.clock() - start
                if self.deadline is not None and elapsed + pause > self.deadline:
                    raise
                if self.on_retry is not None:
                    self.on_retry(exc, attempt, pause)
                    self.sleep(pause)
                    attempt += 1
                    continue
                log.warning(
                    "%s; retry %d in %.1fs (%.0fs of %s retrying)",
                    exc,
                    attempt,
                    pause,
                    elapsed,
                    f"{self.deadline:.0f}s" if self.deadline is not None else "unbounded",
                )
                self.sleep(pause)
                attempt += 1


#: A policy that calls once and never retries.
NO_RETRY = RetryPolicy(max_attempts=1, deadline=None)
