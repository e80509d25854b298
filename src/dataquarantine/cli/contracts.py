"""``dataquarantine contracts``: list, check, show and diff the registry's contracts, push
versions to it and pull them back into a folder.

Every command works against any registry (``--contracts-url`` / ``DQ_CONTRACTS_URL``:
``file://DIR``, ``postgresql://...``, ``s3://bucket/prefix``; default the ``--contracts``
folder). Exit codes as everywhere: 0 done, 1 the registry could not be used, 2 a contract or
usage error (an incompatible or conflicting version included).
"""

from __future__ import annotations

import difflib
import getpass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dataquarantine.cli.common import (
    ContractsOpt,
    ContractsUrlOpt,
    JsonOpt,
    exit_codes,
    open_contracts,
    settings_from,
    sub_command,
)
from dataquarantine.errors import ConfigError

if TYPE_CHECKING:
    from dataquarantine.contracts.source import StoredContract
    from dataquarantine.validation.registry import ContractRegistry

__all__ = ["contracts_app"]

contracts_app = typer.Typer(
    help="Inspect, check, push and pull data contracts.", no_args_is_help=True
)
contracts_app.callback()(sub_command)


class CompatibilityOpt(StrEnum):
    backward = "backward"
    none = "none"


def _stored(registry: ContractRegistry, ref: str) -> StoredContract:
    from dataquarantine.contracts.source import StoredContract
    from dataquarantine.validation.registry import split_ref

    name, version = split_ref(ref)
    contract = registry.get(name, version)
    found = registry.stored(f"{contract.name}@{contract.version}")
    return found if found is not None else StoredContract.of(contract.spec)


def _yaml(entry: StoredContract) -> str:
    import yaml

    return yaml.safe_dump(entry.definition, sort_keys=False, allow_unicode=True)


@contracts_app.command("list")
def contracts_list(
    contracts: ContractsOpt = None, contracts_url: ContractsUrlOpt = None, as_json: JsonOpt = False
) -> None:
    """List the contracts and versions of the registry."""
    from dataquarantine.cli import render

    with exit_codes():
        live = open_contracts(settings_from(contracts, None, None, contracts_url=contracts_url))
        try:
            registry = live.registry
            rows: list[dict[str, Any]] = []
            for c in registry:
                stored = registry.stored(f"{c.name}@{c.version}")
                rows.append(
                    {
                        "name": c.name,
                        "version": c.version,
                        "latest": registry.find(c.name) is c,
                        "kind": c.kind,
                        "rules": len(c.spec.rules),
                        "file": str(c.spec.source_path) if c.spec.source_path else None,
                        "registered_by": stored.registered_by if stored else None,
                        "verdict": stored.verdict if stored else "unchecked",
                    }
                )
        finally:
            live.close()
        if as_json:
            render.print_json(rows)
            return
        from rich.table import Table

        table = Table(title=f"Contracts ({live.source.location})", title_justify="left")
        for col in ("name", "version", "kind", "rules", "registered by", "file"):
            table.add_column(col, overflow="fold")
        for r in rows:
            version = f"{r['version']} (latest)" if r["latest"] else str(r["version"])
            table.add_row(
                str(r["name"]),
                version,
                str(r["kind"]),
                str(r["rules"]),
                r["registered_by"] or "",
                r["file"] or "",
            )
        render.console.print(table)


@contracts_app.command("check")
def contracts_check(contracts: ContractsOpt = None, contracts_url: ContractsUrlOpt = None) -> None:
    """Compile every contract; exit 2 naming the first bad one."""
    from dataquarantine.cli import render

    with exit_codes():
        live = open_contracts(settings_from(contracts, None, None, contracts_url=contracts_url))
        live.close()
        count = len(live.registry)
        render.console.print(f"[green]ok[/green]: {count} contract version(s) compile")


@contracts_app.command("show")
def contracts_show(
    ref: Annotated[str, typer.Argument(metavar="NAME[@VERSION]", help="Default: latest.")],
    contracts: ContractsOpt = None,
    contracts_url: ContractsUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one version: its definition and its registration."""
    from dataquarantine.cli import render

    with exit_codes():
        live = open_contracts(settings_from(contracts, None, None, contracts_url=contracts_url))
        try:
            entry = _stored(live.registry, ref)
        finally:
            live.close()
        meta = {
            "ref": entry.ref,
            "fingerprint": entry.fingerprint,
            "registered_by": entry.registered_by,
            "registered_at": entry.registered_at.isoformat() if entry.registered_at else None,
            "verdict": entry.verdict,
            "reasons": list(entry.reasons),
        }
        if as_json:
            render.print_json({**meta, "definition": entry.definition})
            return
        for key, value in meta.items():
            if value not in (None, []):
                render.console.print(f"# {key}: {value}", markup=False)
        render.console.print(_yaml(entry), markup=False, end="")


@contracts_app.command("diff")
def contracts_diff(
    name: Annotated[str, typer.Argument(help="Contract name.")],
    a: Annotated[str, typer.Argument(metavar="A", help="The older version.")],
    b: Annotated[str, typer.Argument(metavar="B", help="The newer version.")],
    contracts: ContractsOpt = None,
    contracts_url: ContractsUrlOpt = None,
) -> None:
    """What changed from version A to version B: a unified diff of the definitions, then
    whatever B may reject that A accepted (the backward compatibility check)."""
    from dataquarantine.cli import render
    from dataquarantine.review.compat import backward_incompatibilities

    with exit_codes():
        live = open_contracts(settings_from(contracts, None, None, contracts_url=contracts_url))
        try:
            registry = live.registry
            old, new = _stored(registry, f"{name}@{a}"), _stored(registry, f"{name}@{b}")
            schemas = (registry.get(name, a).schema, registry.get(name, b).schema)
        finally:
            live.close()
        lines = difflib.unified_diff(
            _yaml(old).splitlines(keepends=True),
            _yaml(new).splitlines(keepends=True),
            fromfile=old.ref,
            tofile=new.ref,
        )
        render.console.print("".join(lines) or "(identical definitions)\n", markup=False, end="")
        reasons = backward_incompatibilities(old.spec, new.spec, schemas)
        if reasons:
            render.console.print(f"{new.ref} is not backward compatible with {old.ref}:")
            for reason in reasons:
                render.console.print(f"  - {reason}", markup=False)
        else:
            render.console.print(f"{new.ref} is backward compatible with {old.ref}")


def _files(path: Path) -> list[Path]:
    from dataquarantine.contracts.loader import discover_contract_files

    if path.is_dir():
        return list(discover_contract_files(path))
    if path.is_file():
        return [path]
    raise ConfigError(f"{str(path)!r} is neither a contract file nor a folder")


@contracts_app.command("push")
def contracts_push(
    path: Annotated[Path, typer.Argument(metavar="FILE|DIR", help="Contract file(s) to register.")],
    compatibility: Annotated[
        CompatibilityOpt,
        typer.Option(
            "--compatibility",
            help="backward: refuse a version that may reject "
            "records the latest one accepted; none: record the verdict only.",
        ),
    ] = CompatibilityOpt.backward,
    actor: Annotated[
        str | None, typer.Option("--actor", help="Recorded as the registrant (default: cli:USER).")
    ] = None,
    contracts: ContractsOpt = None,
    contracts_url: ContractsUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register contract versions (a file, or every file of a folder, oldest version first).
    A version already registered with the same body is left as it is, so pushes are
    idempotent; one registered with another body is refused (exit 2)."""
    from dataquarantine.cli import render
    from dataquarantine.contracts.loader import load_spec
    from dataquarantine.review.schemas import inline_spec, register_version

    with exit_codes():
        specs = sorted(
            (inline_spec(load_spec(f)) for f in _files(path)),
            key=lambda s: (s.name, s.version),
        )
        who = actor or f"cli:{getpass.getuser()}"
        live = open_contracts(settings_from(contracts, None, None, contracts_url=contracts_url))
        results = []
        try:
            for spec in specs:
                done = register_version(
                    live.registry, spec, compatibility=compatibility.value, actor=who
                )
                outcome = "registered" if done.created else "unchanged"
                results.append(
                    {"ref": done.entry.ref, "outcome": outcome, "verdict": done.entry.verdict}
                )
                if not as_json:
                    render.console.print(f"{outcome}: {done.entry.ref} ({done.entry.verdict})")
        finally:
            live.close()
        if as_json:
            render.print_json(results)


@contracts_app.command("pull")
def contracts_pull(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Folder to write into.")],
    contracts: ContractsOpt = None,
    contracts_url: ContractsUrlOpt = None,
) -> None:
    """Write every registered version into DIR as NAME@VERSION.yaml (files already there are
    left alone), for git workflows."""
    from dataquarantine.cli import render
    from dataquarantine.contracts.folder import write_folder

    with exit_codes():
        live = open_contracts(settings_from(contracts, None, None, contracts_url=contracts_url))
        try:
            registry = live.registry
            entries = [_stored(registry, f"{c.name}@{c.version}") for c in registry]
        finally:
            live.close()
        written = write_folder(directory, entries)
        render.console.print(f"{written} new version(s) written to {directory}")
