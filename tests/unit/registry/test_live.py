"""LiveRegistry: changes followed, outages ridden out with backoff (the contracts in use stay),
a clear failure at start, or a start on the local cache."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from dataquarantine.contracts.loader import spec_from_dict
from dataquarantine.contracts.source import StoredContract
from dataquarantine.errors import RegistryUnavailableError
from dataquarantine.infra.retry import RetryPolicy
from dataquarantine.registry import LiveRegistry
from dataquarantine.testing import InMemoryContractSource


def entry(version: str) -> StoredContract:
    return StoredContract.of(
        spec_from_dict(
            {"name": "orders", "version": version, "schema": {"type": "object"}},
        ),
        registered_by="alice",
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Seen:
    def __init__(self) -> None:
        self.states: list[bool] = []

    def registry_checked(self, up: bool) -> None:
        self.states.append(up)


BACKOFF = RetryPolicy(initial_backoff=1.0, max_backoff=8.0, jitter=0.0, max_attempts=1)


@pytest.fixture
def source() -> InMemoryContractSource:
    src = InMemoryContractSource()
    src.add(entry("1.0.0"))
    return src


def live_on(source: InMemoryContractSource, clock: Clock, **kw: Any) -> LiveRegistry:
    return LiveRegistry(source, poll_seconds=60.0, backoff=BACKOFF, clock=clock, **kw)


def test_a_notified_change_is_loaded_at_the_next_refresh_whatever_the_interval(
    source: InMemoryContractSource,
) -> None:
    live = live_on(source, Clock())
    assert live.refresh() is False
    source.add(entry("1.1.0"))  # notifies: the registry is stale
    assert live.refresh() is True
    assert live.registry.get("orders").version == "1.1.0"


def test_an_outage_keeps_the_contracts_and_backs_off_with_a_metric_and_a_log(
    source: InMemoryContractSource, caplog: pytest.LogCaptureFixture
) -> None:
    clock, seen = Clock(), Seen()
    live = live_on(source, clock, observers=[seen])
    source.down = True
    live.registry.mark_stale()
    with caplog.at_level(logging.WARNING, "dataquarantine.registry"):
        assert live.refresh() is False
    assert "unreachable" in caplog.text and "keeping the 1 contract version(s)" in caplog.text
    assert live.registry.get("orders").version == "1.0.0"
    assert (live.up, live.errors_total, seen.states) == (False, 1, [True, False])
    calls = source.calls["revision"]
    clock.now += 0.5
    assert live.refresh() is False
    assert source.calls["revision"] == calls  # within the backoff: not asked
    clock.now += 0.6
    live.refresh()
    assert (source.calls["revision"], live.failures) == (calls + 1, 2)  # next pause: 2 s
    source.down = False
    source.add(entry("1.1.0"))
    clock.now += 2.1
    assert live.refresh() is True
    assert (live.up, seen.states[-1]) == (True, True)
    assert live.registry.get("orders").version == "1.1.0"


def test_a_start_while_the_registry_is_down_fails_clearly_without_a_cache(
    source: InMemoryContractSource, tmp_path: Path
) -> None:
    source.down = True
    with pytest.raises(RegistryUnavailableError, match="no local cache"):
        live_on(source, Clock(), cache_dir=tmp_path / "cache")


def test_a_start_while_the_registry_is_down_uses_the_local_cache(
    source: InMemoryContractSource, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    source.add(entry("1.1.0"))
    live_on(source, Clock(), cache_dir=cache).close()  # a load writes the cache
    source.down = True
    clock = Clock()
    live = live_on(source, clock, cache_dir=cache)
    assert live.registry.versions("orders") == ["1.0.0", "1.1.0"]
    stored = live.registry.stored("orders@1.1.0")
    assert stored is not None and stored.registered_by == "alice"
    assert not live.up
    source.down = False
    clock.now += 10
    assert live.refresh() is True  # the source's own revision replaces the cache's
    assert live.up and live.registry.revision is not None
