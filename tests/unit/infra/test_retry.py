from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from dataquarantine.errors import (
    ConfigError,
    PayloadNotFoundError,
    PayloadStoreUnavailableError,
    StoreUnavailableError,
)
from dataquarantine.infra.retry import DEFAULT_RETRY_SECONDS, NO_RETRY, RetryPolicy


class FakeClock:
    """A clock that only moves when the policy sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def failing(
    times: int, error: Exception, result: str = "ok"
) -> tuple[Callable[[], str], list[int]]:
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return result

    return fn, calls


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def policy(clock: FakeClock, **kwargs: object) -> RetryPolicy:
    defaults: dict[str, object] = {
        "max_attempts": 4,
        "deadline": None,
        "initial_backoff": 0.1,
        "multiplier": 2.0,
        "max_backoff": 0.3,
        "jitter": 0.0,
    }
    defaults.update(kwargs)
    return RetryPolicy(sleep=clock.sleep, clock=clock, **defaults)  # type: ignore[arg-type]


def test_returns_the_result_without_sleeping(clock: FakeClock) -> None:
    fn, calls = failing(0, StoreUnavailableError("down"))
    assert policy(clock).call(fn) == "ok"
    assert len(calls) == 1
    assert clock.sleeps == []


def test_retries_transient_errors_with_capped_exponential_backoff(clock: FakeClock) -> None:
    fn, calls = failing(3, PayloadStoreUnavailableError("down"))
    assert policy(clock).call(fn) == "ok"
    assert len(calls) == 4
    assert clock.sleeps == pytest.approx([0.1, 0.2, 0.3])


def test_gives_up_after_max_attempts_and_reraises_the_last_error(clock: FakeClock) -> None:
    error = StoreUnavailableError("still down")
    fn, calls = failing(10, error)
    with pytest.raises(StoreUnavailableError) as info:
        policy(clock, max_attempts=3).call(fn)
    assert info.value is error
    assert len(calls) == 3
    assert len(clock.sleeps) == 2


def test_terminal_errors_are_not_retried(clock: FakeClock) -> None:
    fn, calls = failing(1, PayloadNotFoundError("gone"))
    with pytest.raises(PayloadNotFoundError):
        policy(clock).call(fn)
    assert len(calls) == 1
    assert clock.sleeps == []


def test_foreign_exceptions_are_not_retried(clock: FakeClock) -> None:
    fn, calls = failing(1, ValueError("bug"))
    with pytest.raises(ValueError, match="bug"):
        policy(clock).call(fn)
    assert len(calls) == 1


def test_deadline_stops_retrying_before_sleeping_past_it(clock: FakeClock) -> None:
    fn, calls = failing(100, StoreUnavailableError("down"))
    with pytest.raises(StoreUnavailableError):
        policy(clock, max_attempts=100, deadline=1.0, max_backoff=0.3).call(fn)
    assert sum(clock.sleeps) <= 1.0
    # 0.1 + 0.2 + 0.3 = 0.6; one more 0.3 fits (0.9); the next would end at 1.2.
    assert len(calls) == 5


def test_jitter_shortens_the_pause_by_at_most_the_fraction() -> None:
    p = RetryPolicy(initial_backoff=1.0, multiplier=1.0, max_backoff=1.0, jitter=0.5)
    pauses = [p.backoff(1) for _ in range(200)]
    assert all(0.5 <= pause <= 1.0 for pause in pauses)
    assert len(set(pauses)) > 1


def test_arguments_are_passed_through(clock: FakeClock) -> None:
    def add(a: int, b: int, *, c: int) -> int:
        return a + b + c

    assert policy(clock).call(add, 1, 2, c=3) == 6


def test_no_retry_calls_once() -> None:
    fn, calls = failing(1, StoreUnavailableError("down"))
    with pytest.raises(StoreUnavailableError):
        NO_RETRY.call(fn)
    assert len(calls) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"deadline": 0},
        {"initial_backoff": -1},
        {"max_backoff": -1},
        {"multiplier": 0.5},
        {"jitter": 1.5},
        {"max_attempts": None, "deadline": None},
    ],
)
def test_invalid_policies_are_config_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_the_default_policy_rides_out_a_minute_long_outage(clock: FakeClock) -> None:
    fn, calls = failing(15, PayloadStoreUnavailableError("down"))
    p = RetryPolicy(sleep=clock.sleep, clock=clock, jitter=0.0)
    assert p.max_attempts is None and p.deadline == DEFAULT_RETRY_SECONDS == 60.0
    assert p.call(fn) == "ok"
    assert len(calls) == 16
    assert clock.sleeps[:6] == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 5.0])  # then capped
    assert 40 < sum(clock.sleeps) <= 60


def test_the_window_bounds_the_retries(clock: FakeClock) -> None:
    fn, _ = failing(1000, StoreUnavailableError("down"))
    p = RetryPolicy.for_window(4.0)
    p = RetryPolicy(deadline=p.deadline, jitter=0.0, sleep=clock.sleep, clock=clock)
    with pytest.raises(StoreUnavailableError):
        p.call(fn)
    assert sum(clock.sleeps) == pytest.approx(0.2 + 0.4 + 0.8 + 1.6)  # the next 3.2 would pass 4 s


def test_each_retry_logs_one_warning(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    fn, _ = failing(3, PayloadStoreUnavailableError("cannot put payload chunk: refused"))
    with caplog.at_level(logging.WARNING, logger="dataquarantine.retry"):
        assert policy(clock).call(fn) == "ok"
    messages = [r.getMessage() for r in caplog.records if r.name == "dataquarantine.retry"]
    assert len(messages) == 3
    assert messages[0].startswith("cannot put payload chunk: refused; retry 1 in 0.1s")


def test_on_retry_replaces_the_log_line_with_the_exact_schedule(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[str, int, float]] = []
    fn, calls = failing(3, StoreUnavailableError("down"))
    p = policy(
        clock,
        max_attempts=None,
        deadline=None,
        give_up=lambda: False,
        on_retry=lambda exc, attempt, pause: seen.append((str(exc), attempt, pause)),
    )
    with caplog.at_level(logging.WARNING, "dataquarantine.retry"):
        assert p.call(fn) == "ok"
    assert seen == [("down", 1, 0.1), ("down", 2, 0.2), ("down", 3, 0.3)]
    assert clock.sleeps == [0.1, 0.2, 0.3] and len(calls) == 4
    assert caplog.records == []  # the hook owns the reporting


def test_give_up_reraises_before_the_next_pause(clock: FakeClock) -> None:
    error = StoreUnavailableError("down")
    fn, calls = failing(100, error)
    p = policy(clock, max_attempts=None, deadline=None, give_up=lambda: clock.now >= 0.25)
    with pytest.raises(StoreUnavailableError) as raised:
        p.call(fn)
    assert raised.value is error
    assert clock.sleeps == [0.1, 0.2] and len(calls) == 3


def test_give_up_does_not_touch_terminal_errors(clock: FakeClock) -> None:
    asked: list[int] = []
    fn, _ = failing(1, PayloadNotFoundError("gone"))
    p = policy(clock, give_up=lambda: bool(asked.append(1)))
    with pytest.raises(PayloadNotFoundError):
        p.call(fn)
    assert asked == [] and clock.sleeps == []


def test_an_unbounded_policy_needs_give_up() -> None:
    with pytest.raises(ConfigError, match="needs max_attempts"):
        RetryPolicy(max_attempts=None, deadline=None)
    RetryPolicy(max_attempts=None, deadline=None, give_up=lambda: True)
