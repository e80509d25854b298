"""``dataquarantine stream``: run the Kafka stream worker until SIGTERM / SIGINT.

Exit codes: 0 after a graceful shutdown, 1 on a fatal runtime error (broker refused for good,
store corrupt, the shutdown deadline passed with work not yet durable), 2 on a bad
configuration or contract. Metrics and health are wired by :func:`build_observers` and
:func:`serve_health`.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Annotated, Any, Protocol

import typer

from dataquarantine.cli.common import (
    BootstrapServersOpt,
    ContractsOpt,
    ContractsUrlOpt,
    LogLevelOpt,
    PayloadsOpt,
    StoreOpt,
    StreamConfigOpt,
    exit_codes,
)
from dataquarantine.infra.logs import set_level
from dataquarantine.stream.settings import StreamSettings
from dataquarantine.stream.stats import BatchObserver

__all__ = ["build_observers", "install_signals", "serve_health", "stream_command"]

log = logging.getLogger("dataquarantine.stream")


class Closer(Protocol):
    def close(self) -> None: ...


def build_observers(settings: StreamSettings, command: str = "stream") -> list[BatchObserver]:
    """The observers of committed batches (Prometheus metrics, per-minute aggregates, and
    OpenLineage events when it is configured)."""
    from dataquarantine.cli.lineage import open_emitter
    from dataquarantine.stream.aggregates import ValidationMetricsWriter
    from dataquarantine.stream.metrics import StreamMetrics

    observers: list[BatchObserver] = [StreamMetrics(), ValidationMetricsWriter(settings.store_url)]
    job = f"{command}:{','.join(settings.raw_topics)}"
    emitter = open_emitter(command, job, f"{command}-{settings.kafka_consumer_group_id}")
    if emitter is not None:
        from dataquarantine.cli.lineage_stream import StreamLineage

        observers.append(StreamLineage(settings, emitter, produces=command == "stream"))
    return observers


def serve_health(
    settings: StreamSettings,
    ready: Callable[[], bool],
    observers: Sequence[BatchObserver] = (),
) -> Closer | None:
    """Start ``/metrics``, ``/health`` and ``/ready`` (``None`` when not served), with the
    registry of the :class:`StreamMetrics` among ``observers``."""
    from dataquarantine.stream.health import serve
    from dataquarantine.stream.metrics import StreamMetrics

    if not settings.prometheus_port:
        return None
    metrics = next((o for o in observers if isinstance(o, StreamMetrics)), None)
    if metrics is not None:
        metrics.track_ready(ready)
    registry = metrics.registry if metrics is not None else None
    return serve(settings.prometheus_port, ready, registry, host=settings.prometheus_host)


class Worker(Protocol):
    """What :func:`run_worker` runs: the stream worker and the DLQ ingest worker."""

    @property
    def stopping(self) -> bool: ...

    def ready(self) -> bool: ...

    def stop(self) -> None: ...

    def run(self) -> None: ...


def run_worker(
    settings: StreamSettings, worker: Worker, observers: Sequence[BatchObserver]
) -> None:
    """Run ``worker`` until it stops: SIGTERM/SIGINT ask it to stop, ``/health`` is served
    while it runs, and the observers are closed after it."""
    restore = install_signals(worker.stop, lambda: worker.stopping)
    health = None
    try:
        health = serve_health(settings, worker.ready, observers)
        worker.run()
    finally:
        restore()
        if health is not None:
            health.close()
        for observer in observers:
            close = getattr(observer, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:
                    log.exception("closing %s failed", type(observer).__name__)


def install_signals(stop: Callable[[], None], stopping: Callable[[], bool]) -> Callable[[], None]:
    """SIGTERM/SIGINT ask for a graceful stop; a second one ends the process at once
    (nothing uncommitted is lost: it is consumed again on restart)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stopping():
            log.warning("%s again: exiting now without committing", name)
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        log.info("%s: finishing the batch in flight, committing, then stopping", name)
        stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def stream_command(
    config: StreamConfigOpt = None,
    bootstrap_servers: BootstrapServersOpt = None,
    group_id: Annotated[
        str | None, typer.Option("--group-id", help="Consumer group [DQ_KAFKA_CONSUMER_GROUP_ID].")
    ] = None,
    raw_topic: Annotated[
        str | None, typer.Option("--raw-topic", help="Topic(s) to validate, comma-separated.")
    ] = None,
    valid_topic: Annotated[str | None, typer.Option("--valid-topic")] = None,
    dlq_topic: Annotated[str | None, typer.Option("--dlq-topic")] = None,
    contracts: ContractsOpt = None,
    contracts_url: ContractsUrlOpt = None,
    store: StoreOpt = None,
    payloads: PayloadsOpt = None,
    prometheus_port: Annotated[
        int | None, typer.Option("--prometheus-port", help="Metrics/health port (0: off).")
    ] = None,
    log_level: LogLevelOpt = None,
) -> None:
    """Validate a Kafka topic continuously: valid messages to the valid topic, invalid ones to
    the DLQ topic and the quarantine store. Stops gracefully on SIGTERM / SIGINT."""
    from dataquarantine.extras import require_extra

    with exit_codes():
        require_extra("kafka", "dataquarantine stream")
        from dataquarantine.stream.worker import StreamWorker

        if log_level is not None:  # also accepted after the command, as it always was
            set_level(log_level)
        options: dict[str, Any] = {
            "kafka_bootstrap_servers": bootstrap_servers,
            "kafka_consumer_group_id": group_id,
            "kafka_raw_topic": raw_topic,
            "kafka_valid_topic": valid_topic,
            "kafka_dlq_topic": dlq_topic,
            "contracts_dir": contracts,
            # --contracts names the folder to use, over DQ_CONTRACTS_URL.
            "contracts_url": contracts_url or (f"file://{contracts}" if contracts else None),
            "store_url": store,
            "payloads_url": payloads,
            "prometheus_port": prometheus_port,
        }
        settings = StreamSettings.load(
            config, **{k: v for k, v in options.items() if v is not None}
        )
        observers = build_observers(settings)
        worker = StreamWorker(settings, observers=observers)
        run_worker(settings, worker, observers)
