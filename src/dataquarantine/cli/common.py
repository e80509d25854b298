"""What every ``dataquarantine`` command shares: exit codes, settings, the quarantine and the
store/payloads/contracts/json options.

Exit codes: 0 the run completed (quarantined records are a normal outcome), 1 runtime failure
(a store or file could not be used), 2 usage, setting, contract error or a missing extra.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dataquarantine.errors import (
    ConfigError,
    ContractError,
    ContractNotFoundError,
    DataQuarantineError,
)
from dataquarantine.infra.logs import LogFormat, LogLevel
from dataquarantine.settings import Settings

if TYPE_CHECKING:
    from dataquarantine.quarantine.service import Quarantine
    from dataquarantine.registry import LiveRegistry

__all__ = [
    "EXIT_OK",
    "EXIT_RUNTIME",
    "EXIT_USAGE",
    "ContractsOpt",
    "ContractsUrlOpt",
    "JsonOpt",
    "LogFormatOpt",
    "LogLevelOpt",
    "MetricsFileOpt",
    "MetricsJobOpt",
    "MetricsPushOpt",
    "MetricsTarget",
    "PayloadsOpt",
    "StoreOpt",
    "current_run_id",
    "exit_codes",
    "open_contracts",
    "open_quarantine",
    "settings_from",
    "setup_logging",
    "sub_command",
]

EXIT_OK, EXIT_RUNTIME, EXIT_USAGE = 0, 1, 2
#: Commands that log at ``info`` by default: they run until stopped, and their log is their
#: only account of what they do.
LONG_RUNNING = frozenset({"stream", "serve", "demo", "dlq"})

ContractsOpt = Annotated[
    Path | None, typer.Option("--contracts", help="Contracts folder [DQ_CONTRACTS_DIR].")
]
ContractsUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--contracts-url",
        help="Contract registry: file://DIR, postgresql://..., s3://bucket/prefix "
        "[DQ_CONTRACTS_URL]; wins over --contracts.",
    ),
]
StreamConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML settings file (stream.yaml).")
]
BootstrapServersOpt = Annotated[
    str | None,
    typer.Option("--bootstrap-servers", help="Kafka brokers [DQ_KAFKA_BOOTSTRAP_SERVERS]."),
]
StoreOpt = Annotated[str | None, typer.Option("--store", help="Metadata store URL [DQ_STORE_URL].")]
PayloadsOpt = Annotated[
    str | None, typer.Option("--payloads", help="Payload store URL [DQ_PAYLOADS_URL].")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
LogFormatOpt = Annotated[
    LogFormat | None,
    typer.Option(
        "--log-format",
        envvar="DQ_LOG_FORMAT",
        case_sensitive=False,
        help="Log lines as json or text [default: text on a terminal, else json].",
    ),
]
LogLevelOpt = Annotated[
    LogLevel | None,
    typer.Option(
        "--log-level", envvar="DQ_LOG_LEVEL", case_sensitive=False, help="[default: info]"
    ),
]


MetricsPushOpt = Annotated[
    str | None,
    typer.Option(
        "--metrics-push",
        metavar="URL",
        envvar="DQ_METRICS_PUSH",
        help="Push the run's metrics to this Prometheus Pushgateway (group: job and run).",
    ),
]
MetricsFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--metrics-file",
        metavar="PATH",
        envvar="DQ_METRICS_FILE",
        help="Write the run's metrics to this node-exporter textfile (*.prom), atomically.",
    ),
]
MetricsJobOpt = Annotated[
    str | None,
    typer.Option(
        "--metrics-job",
        metavar="NAME",
        envvar="DQ_METRICS_JOB",
        help="The job label of the exported metrics [default: dataquarantine_COMMAND].",
    ),
]


@dataclass(frozen=True, slots=True)
class MetricsTarget:
    """Where a run's metrics go (nowhere when neither is set)."""

    push_url: str | None = None
    file: Path | None = None
    job: str | None = None

    @property
    def wanted(self) -> bool:
        return bool(self.push_url or self.file)

    def job_of(self, command: str) -> str:
        return self.job or f"dataquarantine_{command.split(maxsplit=1)[0]}"


def setup_logging(
    command: str | None, log_format: LogFormat | None, log_level: LogLevel | None
) -> str:
    """The one logging setup of every command (see :mod:`dataquarantine.infra.logs`): it
    names the command and a fresh run id on every line, and returns the run id. The
    long-running commands log at ``info`` by default, the others at ``warning`` (their
    summary is their output)."""
    from dataquarantine.infra import logs
    from dataquarantine.kernel.ids import new_run_id

    run_id = new_run_id()
    default = LogLevel.INFO if command in LONG_RUNNING else LogLevel.WARNING
    logs.configure(log_format, log_level, default_level=default, command=command, run_id=run_id)
    return run_id


def sub_command(ctx: typer.Context) -> None:
    """Name ``group sub`` (``gates run``) as the command of the log lines."""
    from dataquarantine.infra.logs import bind

    if ctx.invoked_subcommand and ctx.info_name:
        bind(command=f"{ctx.info_name} {ctx.invoked_subcommand}")


def current_run_id() -> str | None:
    """The run id :func:`setup_logging` bound (``None`` outside a command)."""
    from dataquarantine.infra.logs import bound

    value = bound("run_id")
    return value if isinstance(value, str) else None


def _shown(exc: BaseException) -> str:
    """An error's text for the terminal: credentials masked, no Rich markup inside."""
    from rich.markup import escape

    from dataquarantine.masking import mask_secrets

    return escape(mask_secrets(exc))


@contextmanager
def exit_codes() -> Iterator[None]:
    """Map our exceptions to exit codes with a one-line message on stderr: a usage, setting or
    contract error (a missing extra included) exits 2, any other error of ours or an OSError 1."""
    from dataquarantine.cli.render import err_console

    try:
        yield
    except (ContractError, ContractNotFoundError, ConfigError) as exc:
        err_console.print(f"[red]error:[/red] {_shown(exc)}")
        raise typer.Exit(EXIT_USAGE) from None
    except (DataQuarantineError, OSError) as exc:
        err_console.print(f"[red]error:[/red] {_shown(exc)}")
        raise typer.Exit(EXIT_RUNTIME) from None


def settings_from(
    contracts: Path | None,
    store: str | None,
    payloads: str | None,
    *,
    contracts_url: str | None = None,
) -> Settings:
    """The environment's settings (``DQ_*``), overridden by the options that were given."""
    from pydantic import ValidationError

    try:
        base = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"DQ_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid setting: {problems}") from None
    updates: dict[str, Any] = {}
    if contracts is not None:
        updates["contracts_dir"] = contracts
        updates["contracts_url"] = None  # --contracts names the folder to use
    if contracts_url is not None:
        updates["contracts_url"] = contracts_url
    if store is not None:
        updates["store_url"] = store
    if payloads is not None:
        updates["payloads_url"] = payloads
    return base.model_copy(update=updates)


def open_quarantine(settings: Settings) -> Quarantine:
    """The quarantine of ``settings``, retrying transient store errors for ``retry_seconds``."""
    from dataquarantine.infra.retry import RetryPolicy
    from dataquarantine.quarantine.service import Quarantine

    retry = RetryPolicy.for_window(settings.retry_seconds)
    return Quarantine.open(settings.store_url, settings.payloads_url, retry=retry)


def open_contracts(settings: Settings) -> LiveRegistry:
    """The contract registry of ``settings`` (``DQ_CONTRACTS_URL``, else the folder), loaded
    for a one-shot command (no change notifications)."""
    from dataquarantine.registry import open_registry

    return open_registry(
        settings.contracts,
        poll_seconds=settings.contracts_poll_seconds,
        cache=settings.contracts_cache,
        follow=False,
    )
