"""``dataquarantine contracts import`` and ``contracts export --format odcs``: ODCS v3 documents
to our contracts and gates, and back (mapping in ``docs/contracts.md``)."""

from __future__ import annotations

import logging
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from dataquarantine.cli.common import ContractsOpt, exit_codes, settings_from
from dataquarantine.errors import ConfigError, ContractSyntaxError

__all__ = ["ExportFormat", "export_command", "import_command"]

log = logging.getLogger("dataquarantine.cli")


class ExportFormat(StrEnum):
    odcs = "odcs"


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _write(path: Path, text: str, force: bool) -> None:
    if path.exists() and not force:
        raise ConfigError(f"{path} exists (give --force to overwrite it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".yaml", ".yml", ".odcs"):
        name = name.removesuffix(suffix)
    return name


def import_command(
    file: Annotated[Path, typer.Argument(help="The ODCS v3 document (YAML).")],
    contracts: ContractsOpt = None,
    gates_out: Annotated[
        Path | None,
        typer.Option(
            "--gates-out",
            help="Where the set-level checks go as a gates file "
            "(default: STEM.gates.yaml in the current folder).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Import an ODCS document: one contract per schema object, written to the contracts
    folder as NAME@VERSION.yaml, and its set-level checks as gates. Every part not mapped is
    listed as a warning with its path."""
    from dataquarantine.contracts.odcs import import_odcs
    from dataquarantine.gates.model import gates_from_dict
    from dataquarantine.safe_yaml import read_yaml
    from dataquarantine.validation.contract import Contract

    with exit_codes():
        folder = settings_from(contracts, None, None).contracts_dir
        try:
            doc = read_yaml(file)
        except (OSError, UnicodeDecodeError) as exc:
            raise ContractSyntaxError(f"cannot read: {exc}", source=file) from None
        except yaml.YAMLError as exc:
            raise ContractSyntaxError(f"invalid YAML: {exc}", source=file) from None
        result = import_odcs(doc, source=file)
        for spec in result.contracts:  # compile first: nothing is written when one is bad
            Contract(spec.model_copy(update={"source_path": folder.resolve() / spec.file_name}))
        suite = None
        if result.gates:
            gates_path = gates_out or Path(f"{_stem(file)}.gates.yaml")
            suite = gates_from_dict({"gates": list(result.gates)}, source=gates_path)
        for item in result.unmapped:
            log.warning("ODCS part not mapped: %s", item)
        files: list[tuple[Path, str]] = []
        for spec in result.contracts:
            data = spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)
            data["version"] = str(spec.version)
            files.append((folder / spec.file_name, _dump(data)))
        if suite is not None and suite.source is not None:
            header = f"# Set-level checks imported from {file.name} (ODCS).\n"
            files.append((suite.source, header + _dump({"gates": list(result.gates)})))
        if not force:  # all or nothing: check every file before writing one
            for path, _ in files:
                if path.exists():
                    raise ConfigError(f"{path} exists (give --force to overwrite it)")
        for path, text in files:
            _write(path, text, force=True)
        for spec in result.contracts:
            typer.echo(f"contract {spec.ref} -> {folder / spec.file_name}")
        if suite is not None:
            typer.echo(f"{len(result.gates)} gate(s) -> {suite.source}")


def export_command(
    names: Annotated[
        list[str] | None, typer.Argument(help="NAME or NAME@VERSION (default: every contract).")
    ] = None,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="The document format.")] = (
        ExportFormat.odcs
    ),
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for NAME@VERSION.odcs.yaml (default: print)."),
    ] = None,
    contracts: ContractsOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Export contracts as ODCS v3.1.0 documents, one per contract version."""
    from dataquarantine.contracts.loader import resolve_schema
    from dataquarantine.contracts.odcs import export_odcs
    from dataquarantine.validation.registry import ContractRegistry

    with exit_codes():
        folder = settings_from(contracts, None, None).contracts_dir
        registry = ContractRegistry.from_directory(folder)
        chosen = list(registry)
        if names:
            chosen = []
            for wanted in names:
                name, _, version = wanted.partition("@")
                chosen.append(registry.get(name, version or None))
        for contract in chosen:
            spec = contract.spec
            doc = export_odcs(spec, resolve_schema(spec))
            text = _dump(doc)
            if out is None:
                typer.echo("---\n" + text if len(chosen) > 1 else text, nl=False)
                continue
            path = out / f"{spec.name}@{spec.version}.{fmt.value}.yaml"
            _write(path, text, force)
            typer.echo(f"contract {spec.ref} -> {path}")
