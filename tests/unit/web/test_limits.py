from __future__ import annotations

import pytest

from dataquarantine.web.limits import LoginLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_open_a_fixed_window_then_expire() -> None:
    clock = Clock()
    limiter = LoginLimiter(max_failures=3, window_seconds=60, clock=clock)
    for _ in range(3):
        assert limiter.retry_after("a") is None
        limiter.failed("a")
        clock.now += 1
    assert limiter.retry_after("a") == 57  # counted from the first failure
    assert limiter.retry_after("b") is None  # per client
    clock.now += 56.5
    assert limiter.retry_after("a") == 1  # rounded up, never 0
    clock.now += 0.5
    assert limiter.retry_after("a") is None
    limiter.failed("a")
    assert limiter.retry_after("a") is None  # a new window, one failure in it


def test_success_clears_and_memory_is_bounded() -> None:
    clock = Clock()
    limiter = LoginLimiter(max_failures=1, window_seconds=60, max_clients=3, clock=clock)
    limiter.failed("a")
    assert limiter.retry_after("a") == 60
    limiter.succeeded("a")
    assert limiter.retry_after("a") is None
    for key in ("a", "b", "c", "d", "e"):
        limiter.failed(key)
    assert len(limiter) == 3
    assert limiter.retry_after("a") is None and limiter.retry_after("b") is None  # forgotten
    assert limiter.retry_after("e") == 60


@pytest.mark.parametrize("kwargs", [{"max_failures": 0}, {"window_seconds": 0}, {"max_clients": 0}])
def test_settings_must_be_positive(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="positive"):
        LoginLimiter(**kwargs)  # type: ignore[arg-type]
