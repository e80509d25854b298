"""Presentation of CLI output (rich tables for people, JSON for machines)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson
from rich.console import Console
from rich.table import Table

from dataquarantine.quarantine.envelope import QuarantineRecord

if TYPE_CHECKING:  # the file runner (and what it imports) is not needed to print
    from dataquarantine.runner import RunSummary

__all__ = ["console", "err_console", "print_json", "record_detail", "records_table", "summary"]

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """One JSON document on stdout (bypassing rich, so it is byte-clean)."""
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()


def summary(s: RunSummary) -> None:
    head = Table(title=f"Validation run {s.run_id}", show_header=False, title_justify="left")
    head.add_column(style="bold")
    head.add_column(justify="right")
    head.add_row("total", f"{s.total:,}")
    head.add_row("valid", f"[green]{s.valid:,}[/green]")
    if s.remediated:
        head.add_row("  of which remediated", f"[cyan]{s.remediated:,}[/cyan]")
    head.add_row("quarantined", f"[red]{s.quarantined:,}[/red]" if s.quarantined else "0")
    if s.warned:
        head.add_row("valid with warnings", f"[yellow]{s.warned:,}[/yellow]")
    head.add_row("records/s", f"{s.records_per_second:,.0f}")
    head.add_row("seconds", f"{s.seconds:.2f}")
    check = "[green]yes[/green]" if s.reconciles else "[red bold]NO[/red bold]"
    head.add_row("total = valid + quarantined", check)
    console.print(head)
    if s.by_code:
        codes = Table(title="Quarantined by error code", title_justify="left")
        codes.add_column("code")
        codes.add_column("records", justify="right")
        codes.add_column("violations", justify="right")
        for code, n in sorted(s.by_code.items(), key=lambda kv: -kv[1]):
            codes.add_row(code, f"{n:,}", f"{s.violations_by_code.get(code, 0):,}")
        console.print(codes)
    if s.by_contract:
        per = Table(title="By contract", title_justify="left")
        per.add_column("contract")
        for col in ("total", "valid", "quarantined"):
            per.add_column(col, justify="right")
        for name, c in sorted(s.by_contract.items()):
            per.add_row(name, f"{c.total:,}", f"{c.valid:,}", f"{c.quarantined:,}")
        console.print(per)
    actions = s.remediation.get("actions") if s.remediation else None
    if actions:
        fixes = Table(title="Remediation (double pass)", title_justify="left")
        fixes.add_column("action")
        fixes.add_column("applied", justify="right")
        fixes.add_column("failed", justify="right")
        for action, n in sorted(actions.items()):
            fixes.add_row(action, f"{n.get('applied', 0):,}", f"{n.get('failed', 0):,}")
        console.print(fixes)
        records = s.remediation.get("records", {})
        console.print(
            "records: " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in records.items())
        )


def _headline(rec: QuarantineRecord) -> str:
    if not rec.errors:
        return ""
    first = rec.errors[0]
    more = f" (+{len(rec.errors) - 1} more)" if len(rec.errors) > 1 else ""
    where = f"{first.path} " if first.path else ""
    return f"{where}{first.message}{more}"


def _source(rec: QuarantineRecord) -> str:
    src = rec.source
    if src.kind == "file":
        return f"{src.uri.rsplit('/', 1)[-1]}{src.position}"
    if src.kind == "table":
        return f"{src.table}:{src.key}"
    return f"{src.topic}[{src.partition}]@{src.offset}"


def records_table(records: Sequence[QuarantineRecord], total: int) -> None:
    table = Table(title=f"Quarantined records ({len(records)} of {total:,})", title_justify="left")
    for col in ("id", "quarantined at", "contract", "code", "source", "status", "first error"):
        table.add_column(col, overflow="fold")
    for r in records:
        contract = f"{r.contract}@{r.contract_version}" if r.contract else "-"
        table.add_row(
            str(r.id),
            r.quarantined_at.strftime("%Y-%m-%d %H:%M:%S"),
            contract,
            r.error_code.value,
            _source(r),
            r.status.value,
            _headline(r),
        )
    console.print(table)


def record_detail(rec: QuarantineRecord, payload: bytes, parsed: Any, parses: bool) -> None:
    info = Table(title=f"Quarantined record {rec.id}", show_header=False, title_justify="left")
    info.add_column(style="bold")
    info.add_column(overflow="fold")
    contract = f"{rec.contract}@{rec.contract_version}" if rec.contract else "-"
    info.add_row("contract", contract)
    info.add_row("source", orjson.dumps(rec.source.to_dict()).decode())
    info.add_row("status", rec.status.value)
    info.add_row("attempts", str(rec.attempts))
    info.add_row("quarantined at", rec.quarantined_at.isoformat())
    info.add_row("run", rec.run_id)
    info.add_row("payload", f"{rec.payload.length} bytes, sha256 {rec.payload.sha256}")
    console.print(info)
    errs = Table(title="Violations", title_justify="left")
    for col in ("code", "path", "rule/keyword", "message"):
        errs.add_column(col, overflow="fold")
    for v in rec.errors:
        errs.add_row(v.code.value, v.path or "(record)", v.rule or v.keyword or "", v.message)
    console.print(errs)
    note = "" if parses else " (not valid JSON; shown raw)"
    console.print(f"[bold]Original payload[/bold]{note}")
    if parses:
        console.print_json(orjson.dumps(parsed).decode())
    else:
        console.print(repr(payload))
