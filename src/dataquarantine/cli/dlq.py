"""``dataquarantine dlq ingest``: another tool's dead-letter topic as a quarantine inbox.

Runs like ``stream`` (settings file, signals, metrics and health) until SIGTERM / SIGINT;
exit codes are ``stream``'s. See ``docs/streaming.md``, "Other tools' DLQs".
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import typer

from dataquarantine.cli.common import (
    BootstrapServersOpt,
    ContractsOpt,
    LogLevelOpt,
    PayloadsOpt,
    StoreOpt,
    StreamConfigOpt,
    exit_codes,
    sub_command,
)
from dataquarantine.infra.logs import set_level
from dataquarantine.stream.dialects import DlqFormat

__all__ = ["dlq_app", "ingest_command"]

log = logging.getLogger("dataquarantine.stream")

dlq_app = typer.Typer(help="Read other tools' dead-letter topics.", no_args_is_help=True)
dlq_app.callback()(sub_command)

#: The consumer group of ``dlq ingest`` unless one is given.
DEFAULT_GROUP = "dataquarantine-dlq-ingest"


@dlq_app.command("ingest")
def ingest_command(
    topic: Annotated[
        str, typer.Option("--topic", help="The dead-letter topic(s) to read, comma-separated.")
    ],
    fmt: Annotated[
        DlqFormat,
        typer.Option("--format", help="The DLQ's dialect; auto detects it per message."),
    ] = DlqFormat.AUTO,
    contract: Annotated[
        str | None,
        typer.Option(
            "--contract",
            help="Validate every message against NAME[@VERSION] too (default: by _schema).",
        ),
    ] = None,
    config: StreamConfigOpt = None,
    bootstrap_servers: BootstrapServersOpt = None,
    group_id: Annotated[
        str | None, typer.Option("--group-id", help=f"Consumer group (default {DEFAULT_GROUP}).")
    ] = None,
    contracts: ContractsOpt = None,
    store: StoreOpt = None,
    payloads: PayloadsOpt = None,
    prometheus_port: Annotated[
        int | None, typer.Option("--prometheus-port", help="Metrics/health port (0: off).")
    ] = None,
    log_level: LogLevelOpt = None,
) -> None:
    """Read a dead-letter topic of Kafka Connect, a Confluent rule or Spring Kafka into the
    quarantine store: the original bytes, key and headers, the upstream error (code
    upstream_error) and our own validation. At least once; stops on SIGTERM / SIGINT."""
    from dataquarantine.extras import require_extra

    with exit_codes():
        require_extra("kafka", "dataquarantine dlq ingest")
        from dataquarantine.cli.stream import build_observers, run_worker
        from dataquarantine.stream.ingest import DlqIngestWorker
        from dataquarantine.stream.settings import StreamSettings

        if log_level is not None:  # also accepted after the command, as for `stream`
            set_level(log_level)
        topics = [t.strip() for t in topic.split(",") if t.strip()]
        options: dict[str, Any] = {
            "kafka_bootstrap_servers": bootstrap_servers,
            "kafka_consumer_group_id": group_id,
            "kafka_raw_topic": topics,
            "contracts_dir": contracts,
            "store_url": store,
            "payloads_url": payloads,
            "prometheus_port": prometheus_port,
        }
        if contract is not None:
            options["topic_contracts"] = dict.fromkeys(topics, contract)
        settings = StreamSettings.load(
            config, **{k: v for k, v in options.items() if v is not None}
        )
        if group_id is None and "kafka_consumer_group_id" not in settings.model_fields_set:
            settings = settings.model_copy(update={"kafka_consumer_group_id": DEFAULT_GROUP})
        observers = build_observers(settings, "dlq ingest")
        worker = DlqIngestWorker(
            settings, observers=observers, fmt=fmt, run_id=f"dlq-{settings.kafka_consumer_group_id}"
        )
        run_worker(settings, worker, observers)
