"""``dataquarantine gates``: run read-only quality gates on PostgreSQL; show their history.

Exit codes of ``gates run``: 0 every required gate passed, 1 a required gate failed or
errored, 2 a bad gates file, option or URL, or a database that cannot be reached.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dataquarantine.cli.common import (
    MetricsFileOpt,
    MetricsJobOpt,
    MetricsPushOpt,
    MetricsTarget,
    current_run_id,
    sub_command,
)
from dataquarantine.errors import ConfigError, DataQuarantineError

if TYPE_CHECKING:
    from dataquarantine.gates.history import HistoryEntry
    from dataquarantine.gates.runner import GateRun

__all__ = ["gates_app"]

EXIT_PASS, EXIT_FAIL, EXIT_ERROR = 0, 1, 2

gates_app = typer.Typer(
    help=(
        "Quality gates: declarative read-only SQL assertions on a PostgreSQL database. "
        "Exit codes of `run`: 0 every required gate passed, 1 a required gate failed, "
        "2 config or connection error."
    ),
    no_args_is_help=True,
)
gates_app.callback()(sub_command)


class GateFormat(StrEnum):
    text = "text"
    json = "json"
    junit = "junit"


class HistoryFormat(StrEnum):
    text = "text"
    json = "json"


DEFAULT_ROLE = "dataquarantine_gate_reader"
RoleOpt = Annotated[
    str,
    typer.Option(
        "--role",
        envvar="DQ_GATES_ROLE",
        help="The read-only role gates run as (NOLOGIN, member of pg_read_all_data only).",
    ),
]

HistoryDbOpt = Annotated[
    str | None,
    typer.Option(
        "--history-db",
        help="Where gate history lives: a store URL [default: DQ_STORE_URL, the quarantine store].",
    ),
]


@contextmanager
def _exit_on_errors() -> Iterator[None]:
    """Every error of ours (bad file, option, URL, unreachable database) exits 2."""
    from rich.markup import escape

    from dataquarantine.cli.render import err_console

    try:
        yield
    except (DataQuarantineError, OSError) as exc:
        # Escaped: a message's brackets (a pip extra, a SQL array) are text, not Rich markup.
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", markup=True, highlight=False)
        raise typer.Exit(EXIT_ERROR) from None


@contextmanager
def _exported(target: MetricsTarget, run_id: str) -> Iterator[Callable[[GateRun], None]]:
    """Export the run's metrics when asked (the metrics extra: prometheus-client)."""
    if not target.wanted:
        yield lambda run: None
        return
    from dataquarantine.extras import require_extra

    require_extra("metrics", "--metrics-push / --metrics-file")
    from dataquarantine.cli.run_metrics import exporting, report_of_gates

    with exporting(target, "gates run", run_id, report_of_gates) as record:
        yield record


def _require_postgres(command: str) -> None:
    """Exit 2 naming the extra when the PostgreSQL driver is not installed (the gates' modules
    import it)."""
    from dataquarantine.extras import require_extra

    with _exit_on_errors():
        require_extra("postgres", command)


def _history_url(history_db: str | None) -> str:
    from dataquarantine.settings import Settings

    return history_db or Settings().store_url


@gates_app.command("run")
def gates_run(
    file: Annotated[Path, typer.Argument(help="The gates YAML file.")],
    db: Annotated[
        str,
        typer.Option(
            "--db",
            envvar="DQ_GATES_DB",
            help="postgresql://USER@HOST:PORT/DB[?schema=NAME]; schema= sets search_path.",
        ),
    ],
    fmt: Annotated[GateFormat, typer.Option("--format", help="Report format.")] = GateFormat.text,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write the report here; the text report then goes to stdout."
        ),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only", metavar="NAME", help="Run only this gate (repeat, or comma-separate names)."
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show each gate's SQL.")] = False,
    samples: Annotated[
        int, typer.Option("--samples", min=0, max=1000, help="Sample rows shown per gate.")
    ] = 5,
    statement_timeout: Annotated[
        str,
        typer.Option(
            "--statement-timeout",
            metavar="DURATION",
            help="Per-gate statement timeout, e.g. 30s, 5m (a gate's own statement_timeout wins).",
        ),
    ] = "60s",
    record: Annotated[
        bool, typer.Option("--record", help="Store each gate's result in the history.")
    ] = False,
    history_db: HistoryDbOpt = None,
    role: RoleOpt = DEFAULT_ROLE,
    allow_unrestricted_role: Annotated[
        bool,
        typer.Option(
            "--allow-unrestricted-role",
            envvar="DQ_GATES_ALLOW_UNRESTRICTED_ROLE",
            help="Run even when no read-only role can be assumed (the statement check alone "
            "then protects the database; a warning says so).",
        ),
    ] = False,
    metrics_push: MetricsPushOpt = None,
    metrics_file: MetricsFileOpt = None,
    metrics_job: MetricsJobOpt = None,
) -> None:
    """Run the gates of FILE on --db: PASS, FAIL or INFO per gate, with samples.

    Every gate runs as a role that may only read (--role, created when the connecting user
    may, else see `gates setup-role`); see docs/gates.md, "Security model"."""
    _require_postgres("dataquarantine gates run")
    from rich.console import Console

    from dataquarantine.cli.render import console, err_console
    from dataquarantine.gates.duration import parse_statement_timeout
    from dataquarantine.gates.history import GateHistory
    from dataquarantine.gates.model import load_gates
    from dataquarantine.gates.report import (
        print_result,
        print_summary,
        render_text,
        to_json,
        to_junit,
    )
    from dataquarantine.gates.runner import refuse_unsafe_gates, run_gates

    target = MetricsTarget(metrics_push, metrics_file, metrics_job)
    from dataquarantine.cli import lineage

    rid = current_run_id() or ""
    with (
        _exit_on_errors(),
        _exported(target, rid) as report,
        lineage.emitting("gates run", f"gates:{file.stem}", rid) as lineage_record,
    ):
        suite = load_gates(file)
        names = [n.strip() for item in only or [] for n in item.split(",") if n.strip()]
        # Unknown names and SQL the statement check refuses exit 2 before connecting: a file
        # holding an unsafe gate is refused whole, whatever the gate's severity.
        refuse_unsafe_gates(suite.select(names))
        try:
            timeout = parse_statement_timeout(statement_timeout)
        except ValueError as exc:
            raise ConfigError(f"--statement-timeout: {exc}") from None
        # Opened (and migrated) first: an unusable history database fails before any gate runs.
        history = GateHistory(_history_url(history_db)) if record else None
        text_to_stdout = output is not None or fmt is GateFormat.text

        def warn(problems: tuple[str, ...]) -> None:
            err_console.print(
                "[yellow]warning:[/yellow] gates run WITHOUT a read-only role "
                f"({'; '.join(problems)}): only the statement check protects the database",
                markup=True,
                highlight=False,
            )

        run = run_gates(
            suite,
            db,
            only=names,
            statement_timeout=timeout,
            sample_size=samples,
            role=role,
            allow_unrestricted_role=allow_unrestricted_role,
            on_unrestricted=warn,
            on_result=(lambda r: print_result(r, console, verbose=verbose))
            if text_to_stdout
            else None,
        )
        report(run)
        lineage_record(lineage.of_gates(run, suite, db))
        if text_to_stdout:
            print_summary(run, console)
        if fmt is GateFormat.text:
            if output is not None:
                with output.open("w", encoding="utf-8") as fh:
                    plain = Console(
                        file=fh, width=120, no_color=True, highlight=False, soft_wrap=True
                    )
                    render_text(run, plain, verbose=verbose)
        else:
            document = to_json(run) if fmt is GateFormat.json else to_junit(run)
            if output is not None:
                output.write_bytes(document)
            else:
                sys.stdout.buffer.write(document)
                sys.stdout.flush()
        if history is not None:
            stored = history.record(run)
            err_console.print(
                f"recorded {stored} gate result(s) of run {run.run_id} in {history.url}",
                highlight=False,
            )
    raise typer.Exit(EXIT_PASS if run.passed else EXIT_FAIL)


@gates_app.command("setup-role")
def gates_setup_role(
    db: Annotated[
        str,
        typer.Option("--db", envvar="DQ_GATES_DB", help="postgresql://ADMIN@HOST:PORT/DB"),
    ],
    role: RoleOpt = DEFAULT_ROLE,
    grant_to: Annotated[
        list[str] | None,
        typer.Option(
            "--grant-to",
            metavar="USER",
            help="Also let this login user SET ROLE to it (repeatable).",
        ),
    ] = None,
) -> None:
    """Create the read-only gate role (idempotent): NOLOGIN, member of pg_read_all_data only,
    granted to the connecting user and to each --grant-to user. Needs CREATEROLE or superuser."""
    _require_postgres("dataquarantine gates setup-role")
    import psycopg
    from psycopg import sql

    from dataquarantine.cli.render import console
    from dataquarantine.db.url import (
        PostgresTarget,
        parse_store_url,
        validate_identifier,
    )
    from dataquarantine.gates.role import ensure_gate_role

    with _exit_on_errors():
        target = parse_store_url(db)
        if not isinstance(target, PostgresTarget):
            raise ConfigError("--db must be a postgresql:// URL")
        for user in grant_to or []:
            validate_identifier(user)
        try:
            with psycopg.connect(target.conninfo, connect_timeout=10) as conn:
                ensure_gate_role(conn, role)
                for user in grant_to or []:
                    conn.execute(
                        sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), sql.Identifier(user))
                    )
                conn.commit()
        except psycopg.Error as exc:
            raise ConfigError(f"{target.display}: {exc}") from exc
    console.print(f"gate role {role} is ready (member of pg_read_all_data only)", highlight=False)


_MARK = {"PASS": "[green]✓[/green]", "FAIL": "[red]✗[/red]", "INFO": "[cyan]i[/cyan]"}


def _trend(entries: list[HistoryEntry]) -> tuple[str, str]:
    """Statuses and counts, oldest to newest."""
    oldest_first = entries[::-1]
    marks = " ".join(_MARK.get(e.status, "[magenta]![/magenta]") for e in oldest_first)
    counts = " → ".join("-" if e.count is None else f"{e.count:,}" for e in oldest_first)
    return marks, counts


@gates_app.command("history")
def gates_history(
    gate: Annotated[
        list[str] | None,
        typer.Option("--gate", metavar="NAME", help="Only this gate (repeatable)."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=10_000, help="Recent runs per gate.")
    ] = 10,
    history_db: HistoryDbOpt = None,
    fmt: Annotated[HistoryFormat, typer.Option("--format")] = HistoryFormat.text,
) -> None:
    """Recent recorded runs per gate: status, count, duration, when (trend oldest → newest)."""
    # A PostgreSQL history needs the postgres extra (the store's own check says so); a SQLite
    # one does not.
    from rich.markup import escape
    from rich.table import Table

    from dataquarantine.cli.render import console, print_json
    from dataquarantine.gates.history import GateHistory

    with _exit_on_errors():
        history = GateHistory(_history_url(history_db))
        entries = history.recent(gates=gate or [], limit=limit)
    by_gate: dict[str, list[HistoryEntry]] = {}
    for entry in entries:
        by_gate.setdefault(entry.gate, []).append(entry)
    if fmt is HistoryFormat.json:
        print_json(
            {
                "history_db": history.url,
                "gates": {name: [e.to_dict() for e in runs] for name, runs in by_gate.items()},
            }
        )
        return
    if not entries:
        console.print(f"no recorded gate runs in {history.url}", highlight=False)
        return
    if len(by_gate) == 1:
        ((name, runs),) = by_gate.items()
        table = Table(title=f"Gate {escape(name)}: last {len(runs)} run(s)", title_justify="left")
        for column in ("at (UTC)", "status", "count", "seconds", "run", "error"):
            table.add_column(column, overflow="fold")
        for e in runs:
            table.add_row(
                e.run_at.strftime("%Y-%m-%d %H:%M:%S"),
                _MARK.get(e.status, "[magenta]![/magenta]") + f" {e.status}",
                "-" if e.count is None else f"{e.count:,}",
                f"{e.duration_s:.3f}",
                e.run_id,
                escape(e.error or ""),
            )
        console.print(table)
        return
    table = Table(title=f"Gate history ({history.url})", title_justify="left")
    for column in ("gate", "runs", "last", "trend (old → new)", "counts", "last s", "last at"):
        table.add_column(column, overflow="fold")
    for name, runs in by_gate.items():
        marks, counts = _trend(runs)
        last = runs[0]
        table.add_row(
            escape(name),
            str(len(runs)),
            last.status,
            marks,
            counts,
            f"{last.duration_s:.3f}",
            last.run_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    console.print(table)
