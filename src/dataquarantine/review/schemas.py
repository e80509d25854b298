"""Contract registration for review: list the contracts folder, add a version to it.

A registered version is written as a YAML file next to the others (never replacing one), after
the checks: inline schema only, newer than every existing version, and, with ``backward``
compatibility, accepting whatever the latest version accepted.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from typing import Any, Literal

import yaml

from dataquarantine.contracts.loader import spec_from_dict
from dataquarantine.contracts.version import Version
from dataquarantine.errors import ConfigError, DuplicateContractError, IncompatibleContractError
from dataquarantine.review.compat import backward_incompatibilities
from dataquarantine.review.models import SchemaInfo, SchemaVersion
from dataquarantine.validation.contract import Contract
from dataquarantine.validation.registry import ContractRegistry

__all__ = ["Compatibility", "list_schemas", "register_schema"]

Compatibility = Literal["backward", "none"]


def list_schemas(registry: ContractRegistry) -> list[SchemaInfo]:
    """Every contract with its versions."""
    registry.refresh(min_interval=1.0)
    out = []
    for name in registry.names():
        versions = tuple(
            SchemaVersion(
                version=v,
                kind=(c := registry.get(name, v)).kind,
                source=c.spec.source_path.name if c.spec.source_path else None,
            )
            for v in registry.versions(name)
        )
        out.append(SchemaInfo(name, registry.get(name).version, versions))
    return out


def register_schema(
    registry: ContractRegistry,
    document: Mapping[str, Any],
    *,
    compatibility: Compatibility = "backward",
) -> SchemaInfo:
    """Add a contract version (the YAML fields as a mapping) to the registry's folder.

    The schema must be inline (``schema``; no ``schema_file`` or ``model``: a request never
    names files or Python code). With ``backward`` compatibility the new version must accept
    whatever the latest existing version accepted (:mod:`~dataquarantine.review.compat`),
    else :class:`IncompatibleContractError` lists the reasons.
    """
    directory = registry.directory
    if directory is None:
        raise ConfigError("the contract registry has no folder to register into")
    spec = spec_from_dict(document)
    if spec.schema_ is None:
        raise ConfigError("register a contract with an inline 'schema' (no schema_file/model)")
    contract = Contract(spec)  # compiles: a broken schema raises SchemaCompileError
    registry.refresh()
    previous = registry.find(spec.name)
    if previous is not None:
        existing = {Version.parse(v) for v in registry.versions(spec.name)}
        if spec.version in existing:
            raise DuplicateContractError(f"{spec.ref} exists already")
        if spec.version < max(existing):
            raise DuplicateContractError(
                f"{spec.ref} is older than the latest version {previous.version}"
            )
        if compatibility == "backward":
            reasons = backward_incompatibilities(
                previous.spec, spec, (previous.schema, contract.schema)
            )
            if reasons:
                raise IncompatibleContractError(
                    f"{spec.ref} is not backward compatible with {previous.ref}: "
                    + "; ".join(reasons),
                    reasons=tuple(reasons),
                )
    data = spec.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
    data["name"], data["version"] = spec.name, str(spec.version)
    path = directory / spec.file_name
    # A hidden temporary file (never discovered), then a hard link: the link fails when
    # the name is taken, so a registration never replaces a file.
    tmp = directory / f".{uuid.uuid4().hex}.tmp"
    try:
        tmp.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        os.link(tmp, path)
    except FileExistsError:
        raise DuplicateContractError(f"{spec.ref}: {path.name} exists already") from None
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    registry.refresh()
    found = [s for s in list_schemas(registry) if s.name == spec.name]
    if not found:  # cannot happen with a valid name; never leave a file nobody reads
        path.unlink(missing_ok=True)
        raise ConfigError(f"{path.name} was written but is not found by the registry")
    return found[0]
