"""``dataquarantine demo``: sample events through the whole file path on embedded defaults."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from rich.table import Table

from dataquarantine.cli import render
from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR, write_jsonl
from dataquarantine.quarantine.envelope import QuarantineFilter
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.runner import ValidationRun
from dataquarantine.settings import Settings
from dataquarantine.validation.registry import ContractRegistry, Router

__all__ = ["run_demo"]


def run_demo(*, records: int, workdir: Path, seed: int) -> None:
    settings = Settings()
    folder = workdir / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    events = folder / "events.jsonl"
    expected = write_jsonl(events, records, seed=seed)
    render.console.print(
        f"Generated [bold]{records:,}[/bold] events in {events} "
        f"({records - expected.get('valid', 0):,} planted bad records)"
    )
    render.console.print(f"Contracts: {DEMO_CONTRACTS_DIR}")
    registry = ContractRegistry.from_directory(DEMO_CONTRACTS_DIR)
    quarantine = Quarantine.open(settings.store_url, settings.payloads_url)
    try:
        run = ValidationRun(Router(registry), quarantine, valid_out=folder / "valid.jsonl")
        summary = run.run([str(events)])
        render.summary(summary)

        check = Table(title="Planted by the generator vs caught", title_justify="left")
        check.add_column("kind")
        check.add_column("planted", justify="right")
        check.add_column("caught", justify="right")
        for kind, n in sorted(expected.items()):
            caught = summary.valid if kind == "valid" else summary.by_code.get(kind, 0)
            check.add_row(kind, f"{n:,}", f"{caught:,}")
        render.console.print(check)

        # A re-run stores nothing new (same records, same ids), so fall back to any record.
        latest = quarantine.list(QuarantineFilter(run_id=summary.run_id), limit=1)
        latest = latest or quarantine.list(QuarantineFilter(), limit=1)
    finally:
        quarantine.close()
    render.console.print(f"Valid records (original lines): {folder / 'valid.jsonl'}")
    render.console.print(f"Quarantine store: {settings.store_url}")
    render.console.print(f"Payloads: {settings.payloads_url}")
    cmd = _command()
    render.console.print("Browse it:")
    render.console.print(f"  {cmd} quarantine list --code schema_violation --limit 10")
    if latest:
        render.console.print(f"  {cmd} quarantine show {latest[0].id}")
    render.console.print(f"  {cmd} quarantine export --format jsonl -o quarantine.jsonl")
    render.console.print(
        f"Review, fix and replay them in the web UI: {cmd} serve --contracts "
        f"{DEMO_CONTRACTS_DIR}, then open http://127.0.0.1:8000/ (or run the demo with --serve)"
    )


def _command() -> str:
    """How to call us again: the bare name when it is on PATH, else the path that was used."""
    used = Path(sys.argv[0])
    if used.name != "dataquarantine":
        return "dataquarantine"
    found = shutil.which("dataquarantine")
    if found and Path(found).resolve() == used.resolve():
        return "dataquarantine"
    inside = not used.is_absolute() or Path.cwd() in used.parents
    return os.path.relpath(used) if inside else str(used)
