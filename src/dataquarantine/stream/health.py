"""The worker's HTTP endpoint: ``/metrics`` (Prometheus), ``/health`` and ``/ready``.

``GET /health`` answers 200 while the process serves HTTP (liveness: restart me if not).
``GET /ready`` answers 200 when ``ready()`` is true and 503 otherwise (the worker's ``ready``
means the broker and the store are reachable), so an orchestrator stops routing to, or
alerting on, a worker that cannot make progress without killing it. ``GET /metrics`` is the
Prometheus text format (OpenMetrics when the scraper asks for it; gzip when accepted).

The server binds ``0.0.0.0`` by default, as exporters do: in a container the scraper reaches
the port from outside. Give ``host="127.0.0.1"`` to keep it on the loopback interface.
"""

from __future__ import annotations

import gzip
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import ClassVar, Self

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder, gzip_accepted

from dataquarantine.errors import ConfigError

__all__ = ["DEFAULT_HOST", "HealthServer", "serve"]

log = logging.getLogger("dataquarantine.stream.health")

#: Every interface, so the port is reachable from outside a container.
DEFAULT_HOST = "0.0.0.0"  # noqa: S104


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], ready: Callable[[], bool], registry: CollectorRegistry
    ) -> None:
        self.ready = ready
        self.registry = registry
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "dataquarantine"
    # Scrapers probe every few seconds: keep them out of the log.
    quiet_paths: ClassVar[frozenset[str]] = frozenset({"/metrics", "/health", "/ready"})

    def do_GET(self) -> None:
        self._respond(body=True)

    def do_HEAD(self) -> None:
        self._respond(body=False)

    def _respond(self, *, body: bool) -> None:
        path = self.path.split("?", 1)[0]
        headers: dict[str, str] = {"Content-Type": "text/plain; charset=utf-8"}
        if path == "/metrics":
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            payload = encoder(self.server.registry)
            headers["Content-Type"] = content_type
            if gzip_accepted(self.headers.get("Accept-Encoding", "")):
                payload = gzip.compress(payload)
                headers["Content-Encoding"] = "gzip"
            status = 200
        elif path == "/health":
            status, payload = 200, b"ok\n"
        elif path == "/ready":
            if self._ready():
                status, payload = 200, b"ready\n"
            else:
                status, payload = 503, b"not ready\n"
        else:
            status, payload = 404, b"not found: try /metrics, /health or /ready\n"
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def _ready(self) -> bool:
        try:
            return bool(self.server.ready())
        except Exception:
            log.warning("the readiness check raised; answering not ready", exc_info=True)
            return False

    def log_message(self, format: str, *args: object) -> None:
        if self.path.split("?", 1)[0] not in self.quiet_paths:
            log.debug("%s %s", self.address_string(), format % args)


class HealthServer:
    """A running endpoint (see :func:`serve`); :meth:`close` stops it."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="dataquarantine-health",
            daemon=True,
        )
        self._thread.start()
        self._closed = False

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """The port actually bound (useful when 0 was asked for)."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host == DEFAULT_HOST else self.host
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        """Stop serving and release the port (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def serve(
    port: int,
    ready: Callable[[], bool],
    registry: CollectorRegistry | None = None,
    *,
    host: str = DEFAULT_HOST,
) -> HealthServer:
    """Serve ``/metrics``, ``/health`` and ``/ready`` on ``host:port`` in a daemon thread.

    ``registry`` defaults to the global ``prometheus_client.REGISTRY``; pass
    :attr:`StreamMetrics.registry <dataquarantine.stream.metrics.StreamMetrics.registry>`.
    ``port`` 0 picks a free port (read it back from :attr:`HealthServer.port`). Raises
    :class:`~dataquarantine.errors.ConfigError` when the address cannot be bound.
    """
    try:
        server = _Server((host, port), ready, registry if registry is not None else REGISTRY)
    except OSError as exc:
        raise ConfigError(f"cannot serve metrics on {host}:{port}: {exc}") from exc
    log.info("metrics and health on http://%s:%d/metrics", host, server.server_address[1])
    return HealthServer(server)
