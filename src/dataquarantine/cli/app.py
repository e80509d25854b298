"""The ``dataquarantine`` command line.

Exit codes (every command): 0 the run completed (quarantined records are a normal outcome),
1 runtime failure (a store or file could not be used), 2 usage or contract error.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dataquarantine.cli import lineage
from dataquarantine.cli.common import (
    ContractsOpt,
    ContractsUrlOpt,
    JsonOpt,
    LogFormatOpt,
    LogLevelOpt,
    MetricsFileOpt,
    MetricsJobOpt,
    MetricsPushOpt,
    MetricsTarget,
    PayloadsOpt,
    StoreOpt,
    current_run_id,
    exit_codes,
    open_contracts,
    open_quarantine,
    settings_from,
    setup_logging,
    sub_command,
)
from dataquarantine.cli.contracts import contracts_app
from dataquarantine.cli.dlq import dlq_app
from dataquarantine.cli.fix import fix_app
from dataquarantine.cli.gates import gates_app
from dataquarantine.cli.odcs import export_command, import_command
from dataquarantine.errors import ConfigError

if TYPE_CHECKING:
    from dataquarantine.runner import RunSummary

HELP = """DataQuarantine: validate records against data contracts; quarantine the bad ones.

Exit codes: 0 completed (even with quarantined records), 1 runtime failure, 2 usage or
contract error. Settings come from options, else DQ_CONTRACTS_URL (or DQ_CONTRACTS_DIR),
DQ_STORE_URL, DQ_PAYLOADS_URL (defaults: ./contracts, sqlite:///.dataquarantine/quarantine.db,
file://.dataquarantine/payloads)."""

app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False, rich_markup_mode=None)
quarantine_app = typer.Typer(help="Browse and export quarantined records.", no_args_is_help=True)
quarantine_app.callback()(sub_command)
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(contracts_app, name="contracts")
app.add_typer(gates_app, name="gates")
app.add_typer(dlq_app, name="dlq")
contracts_app.command("import")(import_command)
contracts_app.command("export")(export_command)
app.add_typer(fix_app, name="fix")


@app.callback()
def main_options(
    ctx: typer.Context, log_format: LogFormatOpt = None, log_level: LogLevelOpt = None
) -> None:
    """Options of every command: how it logs (see docs/operating.md, "Logs")."""
    setup_logging(ctx.invoked_subcommand, log_format, log_level)


class InputFormatOpt(StrEnum):
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"


class ExportFormat(StrEnum):
    jsonl = "jsonl"


class EngineOpt(StrEnum):
    default = "default"
    spark = "spark"


@app.command()
def validate(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="JSONL, CSV or Parquet files ('-' = stdin); Spark: also globs, folders."
        ),
    ],
    contract: Annotated[
        str | None, typer.Option("--contract", help="Force NAME[@VERSION] for every record.")
    ] = None,
    contracts: ContractsOpt = None,
    contracts_url: ContractsUrlOpt = None,
    fmt: Annotated[
        InputFormatOpt | None,
        typer.Option("--format", help="Input format (default: by extension)."),
    ] = None,
    valid_out: Annotated[
        Path | None,
        typer.Option("--valid-out", help="Write valid records here (JSONL: original lines)."),
    ] = None,
    store: StoreOpt = None,
    payloads: PayloadsOpt = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1)] = None,
    as_json: JsonOpt = False,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Progress bar (default: on a TTY).")
    ] = True,
    remediate: Annotated[
        bool,
        typer.Option(
            "--remediate/--no-remediate",
            help="Apply the contracts' remediation rules to invalid records (double pass).",
        ),
    ] = True,
    metrics_push: MetricsPushOpt = None,
    metrics_file: MetricsFileOpt = None,
    metrics_job: MetricsJobOpt = None,
    engine: Annotated[
        EngineOpt,
        typer.Option("--engine", help="default (this process) or spark (extra 'spark')."),
    ] = EngineOpt.default,
    master: Annotated[
        str | None,
        typer.Option("--master", help="Spark master (default local[*]); --engine spark only."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Processes that share the inputs (default: the machine's cores; 1: this one).",
        ),
    ] = None,
) -> None:
    """Validate files; quarantine invalid records and optionally write the valid ones."""
    from dataquarantine.runner import ValidationRun
    from dataquarantine.validation.registry import Router

    target = MetricsTarget(metrics_push, metrics_file, metrics_job)
    run_id = current_run_id()
    job = "validate:" + ",".join(Path(i).name for i in inputs)
    with (
        exit_codes(),
        _exported(target, run_id) as record,
        lineage.emitting("validate", job, run_id or "") as lineage_record,
    ):
        settings = settings_from(contracts, store, payloads, contracts_url=contracts_url)
        if engine is EngineOpt.spark:
            from dataquarantine.cli.spark import validate_on_spark

            if workers is not None:
                raise ConfigError("--workers is an option of --engine default (Spark: --master)")
            summary = validate_on_spark(
                inputs,
                contract=contract,
                fmt=fmt.value if fmt else None,
                settings=settings,
                valid_out=valid_out,
                run_id=run_id,
                master=master,
                progress=progress and not as_json and sys.stderr.isatty(),
                remediate=remediate,
            )
            live = open_contracts(settings)
            try:
                report = lineage.of_validation(
                    summary, live.registry, inputs, valid_out, settings.store_url
                )
            finally:
                live.close()
            lineage_record(report)
            _report(summary, record, as_json=as_json)
            return
        if master is not None:
            raise ConfigError("--master is an option of --engine spark")
        from dataquarantine.io.readers import check_input, detect_format

        for path in inputs:
            check_input(path, detect_format(path, fmt.value if fmt else None))
        live = open_contracts(settings)
        try:
            router = Router(live.registry, contract=contract)
            quarantine = open_quarantine(settings)
        except BaseException:
            live.close()
            raise
        try:
            show = progress and not as_json and sys.stderr.isatty()
            plan = _worker_plan(inputs, fmt.value if fmt else None, workers, valid_out)
            if plan is not None:
                from dataquarantine.cli.workers import WorkerConfig, run_on_workers
                from dataquarantine.kernel.ids import new_run_id

                config = WorkerConfig(
                    settings,
                    contract,
                    run_id or new_run_id(),
                    batch_size or settings.batch_size,
                    remediate,
                    settings.max_record_bytes or None,
                )
                tasks, n = plan
                summary = _progressing(
                    show,
                    lambda tick: run_on_workers(
                        tasks,
                        config,
                        inputs=inputs,
                        workers=n,
                        valid_out=valid_out,
                        local=(router, quarantine),
                        on_task=tick,
                    ),
                )
            else:
                run = ValidationRun(
                    router,
                    quarantine,
                    valid_out=valid_out,
                    batch_size=batch_size or settings.batch_size,
                    run_id=run_id,
                    remediate=remediate,
                    max_record_bytes=settings.max_record_bytes or None,
                )
                summary = _progressing(
                    show,
                    lambda tick: run.run(inputs, fmt=fmt.value if fmt else None, on_batch=tick),
                )
        finally:
            quarantine.close()
            live.close()
        lineage_record(
            lineage.of_validation(summary, live.registry, inputs, valid_out, settings.store_url)
        )
        _report(summary, record, as_json=as_json)


def _worker_plan(
    inputs: list[str], fmt: str | None, workers: int | None, valid_out: Path | None
) -> tuple[list[Any], int] | None:
    """The tasks of a run on several processes and how many, or ``None``: this process."""
    import os

    from dataquarantine.cli.workers import EXPLICIT_MIN_RANGE_BYTES, plan_tasks
    from dataquarantine.io.ranges import MIN_RANGE_BYTES
    from dataquarantine.io.readers import detect_format

    n = workers if workers is not None else os.cpu_count() or 1
    formats = [detect_format(p, fmt) for p in inputs]
    least = MIN_RANGE_BYTES if workers is None else EXPLICIT_MIN_RANGE_BYTES
    tasks = plan_tasks(inputs, formats, n, valid_out=valid_out is not None, min_range_bytes=least)
    return (tasks, n) if tasks is not None else None


def _progressing(
    show: bool, work: Callable[[Callable[[int], None] | None], RunSummary]
) -> RunSummary:
    """``work(tick)``, with a progress bar on stderr that ``tick(n)`` advances when ``show``."""
    if not show:
        return work(None)
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from dataquarantine.cli import render

    columns = (SpinnerColumn(), TextColumn("{task.completed:,} records"), TimeElapsedColumn())
    with Progress(*columns, console=render.err_console, transient=True) as bar:
        task = bar.add_task("validate", total=None)
        return work(lambda n: bar.advance(task, n))


def _report(summary: RunSummary, record: Callable[[RunSummary], None], *, as_json: bool) -> None:
    from dataquarantine.cli import render

    record(summary)
    if as_json:
        render.print_json(summary.to_dict())
    else:
        render.summary(summary)


@contextlib.contextmanager
def _exported(target: MetricsTarget, run_id: str | None) -> Iterator[Callable[[RunSummary], None]]:
    """Export the run's metrics when asked (the metrics extra: prometheus-client)."""
    if not target.wanted:
        yield lambda summary: None
        return
    from dataquarantine.extras import require_extra

    require_extra("metrics", "--metrics-push / --metrics-file")
    from dataquarantine.cli.run_metrics import exporting, report_of_validation

    with exporting(target, "validate", run_id or "", report_of_validation) as record:
        yield record


def _parse_since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--since {text!r} is not an ISO date or date-time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _filter(
    contract: str | None,
    code: str | None,
    status: str | None,
    since: str | None,
    source: str | None,
    path: str | None = None,
    text: str | None = None,
) -> Any:
    from dataquarantine.kernel.lifecycle import Status
    from dataquarantine.kernel.results import ErrorCode
    from dataquarantine.quarantine.envelope import QuarantineFilter

    try:
        return QuarantineFilter(
            contract=contract,
            code=ErrorCode(code) if code else None,
            status=Status(status) if status else None,
            since=_parse_since(since),
            source_name=source,
            path=path or None,
            text=text or None,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


FilterContract = Annotated[str | None, typer.Option("--contract", help="Contract name.")]
FilterCode = Annotated[str | None, typer.Option("--code", help="Error code, e.g. parse_error.")]
FilterStatus = Annotated[str | None, typer.Option("--status", help="e.g. quarantined.")]
FilterSince = Annotated[str | None, typer.Option("--since", help="ISO date or date-time (UTC).")]
FilterSource = Annotated[
    str | None, typer.Option("--source", help="Topic, file URI or table (exact).")
]
FilterPath = Annotated[
    str | None, typer.Option("--path", help="Path of any violation (exact), e.g. /status.")
]
FilterText = Annotated[
    str | None, typer.Option("--search", help="Substring of an error message (any case).")
]


@quarantine_app.command("list")
def quarantine_list(
    contract: FilterContract = None,
    code: FilterCode = None,
    status: FilterStatus = None,
    since: FilterSince = None,
    source: FilterSource = None,
    path: FilterPath = None,
    search: FilterText = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0)] = 0,
    store: StoreOpt = None,
    payloads: PayloadsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List quarantined records, newest first."""
    from dataquarantine.cli import render

    with exit_codes():
        settings = settings_from(None, store, payloads)
        flt = _filter(contract, code, status, since, source, path, search)
        q = open_quarantine(settings)
        try:
            records = q.list(flt, limit=limit, offset=offset)
            total = q.count(flt)
        finally:
            q.close()
        if as_json:
            render.print_json({"total": total, "items": [r.to_dict() for r in records]})
        else:
            render.records_table(records, total)


def _payload_view(payload: bytes) -> tuple[Any, bool]:
    from dataquarantine.validation.base import DecodeFailure
    from dataquarantine.validation.parsing import parse_json

    try:
        return parse_json(payload), True
    except DecodeFailure:
        return None, False


@quarantine_app.command("show")
def quarantine_show(
    record_id: Annotated[str, typer.Argument(metavar="ID", help="Quarantine record id (UUID).")],
    store: StoreOpt = None,
    payloads: PayloadsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one quarantined record: the envelope and the original payload."""
    import base64
    import uuid

    from dataquarantine.cli import render
    from dataquarantine.errors import RecordNotFoundError

    with exit_codes():
        try:
            rid = uuid.UUID(record_id)
        except ValueError:
            raise ConfigError(f"{record_id!r} is not a record id (UUID)") from None
        q = open_quarantine(settings_from(None, store, payloads))
        try:
            rec = q.get(rid)
            if rec is None:
                raise RecordNotFoundError(f"no quarantined record {rid}")
            payload = q.payload(rec)
        finally:
            q.close()
        parsed, parses = _payload_view(payload)
        if as_json:
            out = rec.to_dict()
            out["payload_b64"] = base64.b64encode(payload).decode()
            if parses:
                out["payload_json"] = parsed
            render.print_json(out)
        else:
            render.record_detail(rec, payload, parsed, parses)


@quarantine_app.command("export")
def quarantine_export(
    fmt: Annotated[ExportFormat, typer.Option("--format")] = ExportFormat.jsonl,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default: stdout).")
    ] = None,
    contract: FilterContract = None,
    code: FilterCode = None,
    status: FilterStatus = None,
    since: FilterSince = None,
    source: FilterSource = None,
    store: StoreOpt = None,
    payloads: PayloadsOpt = None,
) -> None:
    """Export envelopes as JSONL: one per line, with payload_b64 and payload_json."""
    import base64

    import orjson

    from dataquarantine.io.targets import open_target, write_error

    with exit_codes():
        q = open_quarantine(settings_from(None, store, payloads))
        flt = _filter(contract, code, status, since, source)
        # A file is written like --valid-out: atomically, links followed, FIFOs in place.
        target = open_target(output) if output else None
        out = target.open_file() if target else sys.stdout.buffer
        name = str(output) if output else "standard output"
        done = False
        try:
            for rec, payload in q.iter_payloads(flt):
                row = rec.to_dict()
                row["payload_b64"] = base64.b64encode(payload).decode()
                parsed, parses = _payload_view(payload)
                if parses:
                    row["payload_json"] = parsed
                out.write(orjson.dumps(row) + b"\n")
            if target:
                out.close()
                target.commit()
            else:
                out.flush()
            done = True
        except OSError as exc:
            raise write_error(name, exc) from exc
        finally:
            q.close()
            if target and not done:
                with contextlib.suppress(OSError):
                    out.close()
                target.discard()


@app.command()
def demo(
    records: Annotated[
        int | None,
        typer.Option("--records", min=100, help="Events to generate (20,000; --stream 5,000)."),
    ] = None,
    workdir: Annotated[
        Path, typer.Option("--workdir", help="Where the demo writes its files and store.")
    ] = Path(".dataquarantine"),
    seed: Annotated[int, typer.Option("--seed")] = 42,
    stream: Annotated[
        bool,
        typer.Option("--stream", help="The Kafka path instead: embedded broker, stream worker."),
    ] = False,
    serve: Annotated[
        bool,
        typer.Option("--serve", help="Then serve the review API and web UI on the result."),
    ] = False,
) -> None:
    """Generate sample events (~5% bad of every kind), validate them, print the summary."""
    from dataquarantine.extras import require_extra

    with exit_codes():
        if serve:  # checked before the demo runs, not after
            require_extra("server", "dataquarantine demo --serve")
        if stream:
            require_extra("demo", "dataquarantine demo --stream")
            from dataquarantine.cli.demo_stream import run_stream_demo

            run_stream_demo(records=records or 5_000, workdir=workdir, seed=seed)
            return
        from dataquarantine.cli.demo import run_demo

        run_demo(records=records or 20_000, workdir=workdir, seed=seed)
    if serve:
        from dataquarantine.cli.serve import serve_command
        from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR

        serve_command(contracts=DEMO_CONTRACTS_DIR)


def _register_stream() -> None:
    from dataquarantine.cli.stream import stream_command

    app.command("stream")(stream_command)


_register_stream()


def _register_load() -> None:
    from dataquarantine.cli.load import load_command

    app.command("load")(load_command)


_register_load()


def _register_serve() -> None:
    from dataquarantine.cli.serve import serve_command

    app.command("serve")(serve_command)


_register_serve()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
