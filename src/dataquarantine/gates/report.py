"""Gate results for people (rich text), for machines (JSON) and for CI (JUnit XML)."""

from __future__ import annotations

import io
import re
import socket
import xml.etree.ElementTree as ET
from typing import Any

import orjson
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dataquarantine.gates.runner import GateResult, GateRun, GateStatus, Samples

__all__ = ["print_result", "print_summary", "render_text", "to_json", "to_junit"]

_STYLE = {
    GateStatus.PASS: "green",
    GateStatus.FAIL: "red bold",
    GateStatus.INFO: "cyan",
    GateStatus.ERROR: "magenta bold",
}
#: What one violation is, per kind (row_count and freshness describe their one row instead).
_UNIT = {
    "not_null": "violating row",
    "relationship": "violating row",
    "sql": "violating row",
    "max_per_key": "key over the limit",
    "unique": "duplicated value",
}
_CELL_WIDTH = 60
# Characters XML 1.0 cannot carry at all (most C0 controls, surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    text = text.replace("\n", "\\n")
    return text if len(text) <= _CELL_WIDTH else text[: _CELL_WIDTH - 1] + "…"


def _plural(count: int, unit: str) -> str:
    if count == 1:
        return f"1 {unit}"
    head, sep, tail = unit.partition(" ")
    word = f"{head}s{sep}{tail}" if tail.startswith(("over", "in")) else f"{unit}s"
    return f"{count:,} {word}"


def _headline(result: GateResult) -> str:
    """What the count means: ``3 violating rows``, ``row count 0``, ``no rows``..."""
    if result.status is GateStatus.ERROR:
        return "error"
    count = result.count or 0
    first = result.samples.rows[0] if result.samples.rows else ()
    row = dict(zip(result.samples.columns, first, strict=False))
    if result.kind == "row_count":
        return f"row count {row.get('row_count')}" if count else "row count within bounds"
    if result.kind == "freshness":
        if not count:
            return "fresh"
        if row.get("latest") is None:
            return "no rows: nothing is fresh"
        return f"newest {row.get('latest')} is {row.get('age')} old"
    if result.kind == "sql" and result.status is GateStatus.INFO:
        return _plural(count, "result row")
    return _plural(count, _UNIT.get(result.kind, "row"))


def samples_table(samples: Samples, count: int | None = None) -> Table:
    """A small table of sample rows."""
    shown = len(samples.rows)
    title = None
    if count is not None and count > shown:
        title = f"{shown} of {count:,}"
    table = Table(
        box=box.SIMPLE_HEAD, show_edge=False, title=title, title_justify="left", padding=(0, 1)
    )
    for column in samples.columns:
        table.add_column(escape(column), overflow="fold", max_width=_CELL_WIDTH)
    for row in samples.rows:
        table.add_row(*(escape(_cell(v)) for v in row))
    return table


def print_result(result: GateResult, console: Console, *, verbose: bool = False) -> None:
    """One gate: status, name, count, duration; samples or the result table; SQL if verbose."""
    style = _STYLE[result.status]
    console.print(
        f"[{style}]{result.status.value:<5}[/{style}] [bold]{escape(result.name)}[/bold]  "
        f"{_headline(result)}  [dim]{result.duration_s:.3f}s  "
        f"{result.kind} · {result.severity.value}[/dim]"
    )
    indent = "      "
    if result.description:
        console.print(f"{indent}[dim]{escape(result.description)}[/dim]")
    if result.error:
        console.print(f"{indent}[{style}]{escape(result.error)}[/{style}]")
    if result.samples.rows:
        from rich.padding import Padding

        table = samples_table(result.samples, result.count)
        console.print(Padding(table, (0, 0, 0, 6), expand=False))
    if verbose:
        console.print(f"{indent}[dim]SQL:[/dim] {escape(result.sql)}")


def print_summary(run: GateRun, console: Console) -> None:
    """The closing lines: counts per status, what failed, the verdict."""
    counts = run.counts()
    console.print()
    console.print(
        f"[bold]{len(run.results)} gate(s)[/bold] in {run.duration_s:.2f}s on "
        f"{escape(run.database)}: "
        f"[green]{counts['PASS']} passed[/green], [red]{counts['FAIL']} failed[/red], "
        f"[cyan]{counts['INFO']} informational[/cyan], "
        f"[magenta]{counts['ERROR']} error(s)[/magenta]"
    )
    blocking = run.blocking
    if blocking:
        names = ", ".join(
            f"{r.name} ({r.status.value}{'' if r.count is None else f', {r.count:,}'})"
            for r in blocking
        )
        console.print(f"[red]Required gates not passing:[/red] {escape(names)}")
    soft = [r for r in run.results if not r.blocking and r.status is GateStatus.ERROR]
    if soft:
        names = ", ".join(r.name for r in soft)
        console.print(f"[magenta]Informational gates that errored:[/magenta] {escape(names)}")
    verdict = "[green bold]PASS[/green bold]" if run.passed else "[red bold]FAIL[/red bold]"
    console.print(f"Result: {verdict}  [dim]run {run.run_id}[/dim]")


def render_text(run: GateRun, console: Console, *, verbose: bool = False) -> None:
    """Every result, then the summary."""
    for result in run.results:
        print_result(result, console, verbose=verbose)
    print_summary(run, console)


def to_json(run: GateRun) -> bytes:
    """The run as one indented JSON document."""
    return orjson.dumps(run.to_dict(), option=orjson.OPT_INDENT_2) + b"\n"


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _plain(result: GateResult, *, sql: bool = True) -> str:
    """Samples (or the report) and SQL as plain text for JUnit bodies."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, no_color=True, highlight=False, soft_wrap=True)
    if result.description:
        console.print(result.description, markup=False)
    if result.error:
        console.print(result.error, markup=False)
    if result.samples.rows:
        console.print(samples_table(result.samples, result.count))
    if sql:
        console.print(f"SQL: {result.sql}", markup=False)
    return buffer.getvalue()


def to_junit(run: GateRun) -> bytes:
    """JUnit XML: one testcase per gate. A failing required gate is a ``failure``, an errored
    one an ``error``; informational gates pass and carry their rows in ``system-out`` (an
    errored informational gate is ``skipped``)."""
    failures = sum(1 for r in run.blocking if r.status is GateStatus.FAIL)
    errors = sum(1 for r in run.blocking if r.status is GateStatus.ERROR)
    skipped = sum(1 for r in run.results if not r.blocking and r.status is GateStatus.ERROR)
    totals = {
        "tests": str(len(run.results)),
        "failures": str(failures),
        "errors": str(errors),
        "skipped": str(skipped),
        "time": f"{run.duration_s:.3f}",
    }
    root = ET.Element("testsuites", {"name": "dataquarantine gates", **totals})
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": _xml(run.suite),
            **totals,
            "timestamp": run.started_at.replace(microsecond=0, tzinfo=None).isoformat(),
            "hostname": _xml(socket.gethostname()),
        },
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (("run_id", run.run_id), ("database", run.database)):
        ET.SubElement(props, "property", {"name": name, "value": _xml(value)})
    for result in run.results:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "name": _xml(result.name),
                "classname": _xml(f"gates.{run.suite}.{result.kind}"),
                "time": f"{result.duration_s:.3f}",
            },
        )
        if result.blocking:
            tag = "failure" if result.status is GateStatus.FAIL else "error"
            message = result.error or f"{_headline(result)} ({result.severity.value} gate)"
            node = ET.SubElement(case, tag, {"message": _xml(message), "type": result.kind})
            node.text = _xml(_plain(result))
        elif result.status is GateStatus.ERROR:
            ET.SubElement(
                case,
                "skipped",
                {"message": _xml(f"informational gate errored: {result.error}")},
            )
        elif result.status is GateStatus.INFO:
            out = ET.SubElement(case, "system-out")
            out.text = _xml(f"{_headline(result)}\n{_plain(result)}")
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"
