"""Reading contract files: YAML to :class:`ContractSpec`, schema files, folder discovery.

Every problem raises a :class:`~dataquarantine.errors.ContractError` subclass whose message
names the file and the problem (with the line for YAML syntax errors).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from dataquarantine.contracts.model import ContractSpec
from dataquarantine.errors import ContractSyntaxError
from dataquarantine.safe_yaml import read_yaml

__all__ = [
    "CONTRACT_SUFFIXES",
    "discover_contract_files",
    "inside_folder",
    "load_spec",
    "resolve_schema",
    "spec_from_dict",
]

CONTRACT_SUFFIXES = (".yaml", ".yml")


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"] if p != "schema_")
        loc = loc.replace("schema_", "schema")
        msg = e["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def spec_from_dict(data: Mapping[str, Any], *, source: Path | None = None) -> ContractSpec:
    """Build a spec from a mapping (already parsed YAML or a dict written in Python)."""
    if not isinstance(data, Mapping):
        raise ContractSyntaxError(
            f"a contract must be a mapping, got {type(data).__name__}", source=source
        )
    try:
        return ContractSpec.model_validate({**data, "source_path": source})
    except ValidationError as exc:
        raise ContractSyntaxError(_describe(exc), source=source) from None


def load_spec(path: Path | str) -> ContractSpec:
    """Read and check one contract file (YAML within the limits of
    :mod:`dataquarantine.safe_yaml`)."""
    path = Path(path)
    try:
        data = read_yaml(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractSyntaxError(f"cannot read: {exc}", source=path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ContractSyntaxError(f"invalid YAML{where}: {problem}", source=path) from None
    return spec_from_dict(data, source=path.resolve())


def inside_folder(root: Path, target: Path) -> Path | None:
    """``target`` with symlinks resolved, when it lies inside ``root`` (resolved too), else
    ``None``. The one containment rule for files a contract names (``schema_file``, ``$ref``)."""
    resolved = target.resolve()
    return resolved if resolved.is_relative_to(root.resolve()) else None


def resolve_schema(spec: ContractSpec) -> Any:
    """The schema document of a contract: the inline one, or ``schema_file`` read as JSON
    (``.avsc`` files are JSON too). ``None`` for model contracts."""
    if spec.schema_file is None:
        return spec.schema_
    base = spec.base_dir or Path.cwd()
    path = inside_folder(base, base / spec.schema_file)
    if path is None or Path(spec.schema_file).is_absolute():
        raise ContractSyntaxError(
            f"schema_file {spec.schema_file!r} is outside the contract's folder: give a path "
            "relative to the contract that stays inside its folder",
            source=spec.source_path,
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ContractSyntaxError(
            f"schema_file {spec.schema_file!r} cannot be read: {exc.strerror or exc}",
            source=spec.source_path,
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ContractSyntaxError(
            f"schema_file {spec.schema_file!r} is not valid JSON: {exc}", source=spec.source_path
        ) from None


def discover_contract_files(directory: Path | str) -> Iterator[Path]:
    """Every ``*.yaml`` / ``*.yml`` below ``directory`` (sorted; hidden folders skipped)."""
    root = Path(directory)
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).parts
        if any(p.startswith(".") for p in rel):
            continue
        if path.suffix in CONTRACT_SUFFIXES and path.is_file():
            yield path
