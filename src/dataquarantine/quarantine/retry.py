"""Retrying transient infrastructure failures with capped, jittered exponential backoff.

Only exceptions for which :func:`dataquarantine.errors.is_transient` is true are retried;
anything else (bad configuration, a missing object, a programming error) propagates at once.
When the budget (attempts or deadline) is spent, the last transient exception is re-raised
unchanged, so the caller still sees *why* it failed and can pause, spool or give up.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from dataquarantine.errors import ConfigError, is_transient

__all__ = ["NO_RETRY", "RetryPolicy"]

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry a transient failure.

    ``max_attempts`` counts the first call (1 = no retry). ``deadline`` (seconds, ``None`` for
    none) bounds the whole call including sleeps: a retry whose backoff would end past the
    deadline is not attempted. The n-th backoff is ``initial_backoff * multiplier**(n-1)``
    capped at ``max_backoff``, then reduced by a random fraction of up to ``jitter`` (0..1) so
    that many clients recovering from the same outage do not retry in lockstep.
    ``sleep`` and ``clock`` are injectable for tests.
    """

    max_attempts: int = 5
    deadline: float | None = 30.0
    initial_backoff: float = 0.1
    multiplier: float = 2.0
    max_backoff: float = 5.0
    jitter: float = 0.2
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError(f"max_attempts must be >= 1, not {self.max_attempts}")
        if self.deadline is not None and self.deadline <= 0:
            raise ConfigError(f"deadline must be > 0 seconds, not {self.deadline}")
        if self.initial_backoff < 0 or self.max_backoff < 0:
            raise ConfigError("backoff durations must be >= 0")
        if self.multiplier < 1:
            raise ConfigError(f"multiplier must be >= 1, not {self.multiplier}")
        if not 0 <= self.jitter <= 1:
            raise ConfigError(f"jitter must be within [0, 1], not {self.jitter}")

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
                if not is_transient(exc) or attempt >= self.max_attempts:
                    raise
                pause = self.backoff(attempt)
                if self.deadline is not None and self.clock() - start + pause > self.deadline:
                    raise
                self.sleep(pause)
                attempt += 1


#: A policy that calls once and never retries.
NO_RETRY = RetryPolicy(max_attempts=1, deadline=None)
