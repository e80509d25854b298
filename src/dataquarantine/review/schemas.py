"""Contract registration: list the registry's contracts, add a version to it.

A version goes to the registry's source (a folder, PostgreSQL or S3) after the checks: inline
schema only, within the size and complexity limits, newer than every existing version and,
with ``backward`` compatibility, accepting whatever the latest version accepted. Versions are
immutable: registering an existing ``name@version`` again with the same body is a no-op, with
another body it is refused. Each registration records its actor, its time and the
compatibility verdict against the previous version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from dataquarantine.contracts.loader import resolve_schema, spec_from_dict
from dataquarantine.contracts.model import ContractSpec
from dataquarantine.contracts.source import StoredContract, Verdict, definition_of, same_version
from dataquarantine.contracts.version import Version
from dataquarantine.errors import ConfigError, DuplicateContractError, IncompatibleContractError
from dataquarantine.review.compat import backward_incompatibilities
from dataquarantine.review.models import SchemaInfo, SchemaVersion
from dataquarantine.safe_yaml import MAX_YAML_BYTES
from dataquarantine.validation.contract import Contract
from dataquarantine.validation.registry import ContractRegistry

__all__ = [
    "Compatibility",
    "Registration",
    "inline_spec",
    "list_schemas",
    "register_schema",
    "register_version",
]

Compatibility = Literal["backward", "none"]


@dataclass(frozen=True, slots=True)
class Registration:
    """The outcome of one registration: the stored version, and whether it is new."""

    entry: StoredContract
    created: bool


def _version(registry: ContractRegistry, name: str, version: str) -> SchemaVersion:
    c = registry.get(name, version)
    stored = registry.stored(f"{name}@{version}")
    return SchemaVersion(
        version=version,
        kind=c.kind,
        source=c.spec.source_path.name if c.spec.source_path else None,
        registered_by=stored.registered_by if stored else None,
        registered_at=stored.registered_at if stored else None,
        verdict=stored.verdict if stored else "unchecked",
        fingerprint=stored.fingerprint if stored else None,
    )


def list_schemas(registry: ContractRegistry) -> list[SchemaInfo]:
    """Every contract with its versions and their registrations (as loaded: the caller
    refreshes the registry)."""
    out = []
    for name in registry.names():
        versions = tuple(_version(registry, name, v) for v in registry.versions(name))
        out.append(SchemaInfo(name, registry.get(name).version, versions))
    return out


def inline_spec(spec: ContractSpec) -> ContractSpec:
    """``spec`` with its ``schema_file`` read into an inline ``schema`` (a registry keeps one
    self-contained document per version); other specs unchanged."""
    if spec.schema_file is None:
        return spec
    data = {**definition_of(spec), "schema": resolve_schema(spec)}
    data.pop("schema_file", None)
    return spec_from_dict(data)


def _verdict(
    registry: ContractRegistry, spec: ContractSpec, contract: Contract, mode: Compatibility
) -> tuple[Verdict, list[str]]:
    previous = registry.find(spec.name)
    if previous is None:
        return "first", []
    existing = {Version.parse(v) for v in registry.versions(spec.name)}
    if spec.version < max(existing):
        raise DuplicateContractError(f"{spec.ref} is older than the latest version {max(existing)}")
    reasons = backward_incompatibilities(previous.spec, spec, (previous.schema, contract.schema))
    if reasons and mode == "backward":
        raise IncompatibleContractError(
            f"{spec.ref} is not backward compatible with {previous.ref}: " + "; ".join(reasons),
            reasons=tuple(reasons),
        )
    return ("incompatible" if reasons else "compatible"), reasons


def register_version(
    registry: ContractRegistry,
    document: Mapping[str, Any] | ContractSpec,
    *,
    compatibility: Compatibility = "backward",
    actor: str | None = None,
) -> Registration:
    """Add a contract version (its YAML fields, or a spec) to the registry's source.

    The schema must be inline (``schema``; a request never names files or Python code) and
    its canonical JSON at most ``MAX_YAML_BYTES``; it must compile within the schema cost
    limit. With ``backward`` compatibility the new version must accept whatever the latest
    existing version accepted (:mod:`~dataquarantine.review.compat`), else
    :class:`IncompatibleContractError` lists the reasons.
    """
    source = registry.source
    if source is None:
        raise ConfigError("the contract registry has no source to register into")
    spec = document if isinstance(document, ContractSpec) else spec_from_dict(document)
    if spec.schema_ is None:
        raise ConfigError("register a contract with an inline 'schema' (no schema_file/model)")
    entry = StoredContract.of(spec)
    size = len(json.dumps(entry.definition, separators=(",", ":")).encode())
    if size > MAX_YAML_BYTES:
        raise ConfigError(f"{spec.ref} is {size} bytes; a version is at most {MAX_YAML_BYTES}")
    contract = Contract(spec)  # compiles: a broken or too costly schema raises
    registry.refresh()
    if same_version(registry.stored(entry.ref), entry):
        return Registration(registry.stored(entry.ref) or entry, created=False)
    if registry.find(entry.ref) is not None:  # added in Python, not from the source
        raise DuplicateContractError(f"{entry.ref} exists already")
    verdict, reasons = _verdict(registry, spec, contract, compatibility)
    entry = StoredContract.of(
        spec,
        registered_by=actor,
        registered_at=datetime.now(UTC),
        verdict=verdict,
        reasons=reasons,
    )
    created = source.add(entry)
    registry.refresh()
    return Registration(registry.stored(entry.ref) or entry, created=created)


def register_schema(
    registry: ContractRegistry,
    document: Mapping[str, Any],
    *,
    compatibility: Compatibility = "backward",
    actor: str | None = None,
) -> SchemaInfo:
    """:func:`register_version`, answered with the contract's versions."""
    spec = register_version(registry, document, compatibility=compatibility, actor=actor)
    name = spec.entry.spec.name
    found = [s for s in list_schemas(registry) if s.name == name]
    if not found:  # cannot happen with a valid name
        raise ConfigError(f"{spec.entry.ref} was stored but is not found by the registry")
    return found[0]
