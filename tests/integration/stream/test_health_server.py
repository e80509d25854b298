"""The worker's HTTP endpoint, over real HTTP on a loopback port."""

from __future__ import annotations

import gzip
import http.client
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from dataquarantine.errors import ConfigError
from dataquarantine.stream.embedded import free_port
from dataquarantine.stream.health import DEFAULT_HOST, HealthServer, serve
from dataquarantine.stream.metrics import StreamMetrics
from dataquarantine.stream.stats import VALID, BatchStats


class Readiness:
    def __init__(self) -> None:
        self.value = False
        self.calls = 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.value


@pytest.fixture
def metrics() -> StreamMetrics:
    m = StreamMetrics()
    m.observe_batch(
        BatchStats(
            counts={("raw-events", "user_event", VALID): 9, ("raw-events", "x", "parse_error"): 1},
            records=10,
            validation_seconds=0.002,
            commit_seconds=0.004,
            at=datetime.now(UTC),
        )
    )
    m.set_lag("raw-events", 0, 42)
    return m


@pytest.fixture
def readiness() -> Readiness:
    return Readiness()


@pytest.fixture
def server(metrics: StreamMetrics, readiness: Readiness) -> Iterator[HealthServer]:
    with serve(free_port(), readiness, metrics.registry, host="127.0.0.1") as running:
        yield running


def get(
    server: HealthServer, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_metrics_are_prometheus_text(server: HealthServer) -> None:
    status, headers, body = get(server, "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = body.decode()
    assert (
        'dataquarantine_records_processed_total{error_type="valid",schema="user_event",'
        'topic="raw-events"} 9.0' in text
    )
    assert 'dataquarantine_consumer_lag{partition="0",topic="raw-events"} 42.0' in text
    assert "dataquarantine_validation_duration_seconds_count 1.0" in text


def test_metrics_openmetrics_and_gzip_on_request(server: HealthServer) -> None:
    status, headers, body = get(
        server,
        "/metrics",
        {"Accept": "application/openmetrics-text; version=1.0.0", "Accept-Encoding": "gzip"},
    )
    assert status == 200
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert headers["Content-Encoding"] == "gzip"
    text = gzip.decompress(body).decode()
    assert text.rstrip().endswith("# EOF")
    assert "dataquarantine_records_invalid_total" in text


def test_health_is_always_ok(server: HealthServer, readiness: Readiness) -> None:
    assert get(server, "/health")[::2] == (200, b"ok\n")
    assert readiness.calls == 0


def test_ready_follows_the_callable(server: HealthServer, readiness: Readiness) -> None:
    assert get(server, "/ready")[::2] == (503, b"not ready\n")
    readiness.value = True
    assert get(server, "/ready")[::2] == (200, b"ready\n")
    assert get(server, "/ready?verbose=1")[0] == 200
    status, headers, body = get(server, "/ready", method="HEAD")
    assert (status, body, headers["Content-Length"]) == (200, b"", "6")


def test_a_failing_readiness_check_is_not_ready(metrics: StreamMetrics) -> None:
    def broken() -> bool:
        raise RuntimeError("boom")

    with serve(0, broken, metrics.registry, host="127.0.0.1") as running:
        assert running.port > 0
        assert get(running, "/ready")[0] == 503
        assert get(running, "/health")[0] == 200


def test_unknown_paths_are_404(server: HealthServer) -> None:
    status, _, body = get(server, "/nope")
    assert status == 404
    assert b"/metrics" in body


def test_concurrent_scrapes(server: HealthServer) -> None:
    results: list[int] = []

    def scrape() -> None:
        for _ in range(10):
            results.append(get(server, "/metrics")[0])

    threads = [threading.Thread(target=scrape) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 80


def test_close_releases_the_port(metrics: StreamMetrics) -> None:
    port = free_port()
    first = serve(port, lambda: True, metrics.registry, host="127.0.0.1")
    assert first.url == f"http://127.0.0.1:{port}"
    first.close()
    first.close()  # idempotent
    with pytest.raises(ConnectionRefusedError):
        get(first, "/health")
    with serve(port, lambda: True, metrics.registry, host="127.0.0.1") as second:
        assert get(second, "/health")[0] == 200


def test_a_busy_port_is_a_config_error(server: HealthServer) -> None:
    with pytest.raises(ConfigError, match="cannot serve metrics"):
        serve(server.port, lambda: True, host="127.0.0.1")


def test_default_host_is_every_interface(metrics: StreamMetrics) -> None:
    with serve(0, lambda: True, metrics.registry) as running:
        assert running.host == DEFAULT_HOST == "0.0.0.0"
        assert running.url.startswith("http://127.0.0.1:")
        assert get(running, "/health")[0] == 200
