"""Where contract versions are kept: the :class:`ContractSource` port, the versions it holds
(:class:`StoredContract`) and the registry URLs (``file://``, ``postgresql://``, ``s3://``).

A source holds immutable versions: :meth:`ContractSource.add` stores a new ``name@version``,
is a no-op for the same body and refuses a different one. Its :meth:`~ContractSource.revision`
changes whenever a version is added, so a process reloads only when something changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from dataquarantine.contracts.model import ContractSpec
from dataquarantine.errors import ConfigError, DuplicateContractError

__all__ = [
    "ContractSource",
    "ContractsUrl",
    "RegistryKind",
    "StoredContract",
    "Verdict",
    "definition_of",
    "fingerprint_of",
    "parse_contracts_url",
    "same_version",
]

RegistryKind = Literal["file", "postgresql", "s3"]
#: The compatibility check's verdict against the previous version, as recorded.
Verdict = Literal["first", "compatible", "incompatible", "unchecked"]


def definition_of(spec: ContractSpec) -> dict[str, Any]:
    """The contract as plain JSON data (what a registry stores), defaults left out."""
    data = spec.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
    data["name"], data["version"] = spec.name, str(spec.version)
    return data


def fingerprint_of(definition: Mapping[str, Any]) -> str:
    """SHA-256 of the definition's canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredContract:
    """One registered version: the contract, its fingerprint and its registration."""

    spec: ContractSpec
    fingerprint: str
    registered_by: str | None = None
    registered_at: datetime | None = None
    verdict: Verdict = "unchecked"
    #: Why the version is not backward compatible with the previous one (verdict
    #: ``incompatible``, registered with ``--compatibility none``).
    reasons: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        spec: ContractSpec,
        *,
        registered_by: str | None = None,
        registered_at: datetime | None = None,
        verdict: Verdict = "unchecked",
        reasons: Sequence[str] = (),
    ) -> StoredContract:
        return cls(
            spec,
            fingerprint_of(definition_of(spec)),
            registered_by,
            registered_at,
            verdict,
            tuple(reasons),
        )

    @property
    def ref(self) -> str:
        return f"{self.spec.name}@{self.spec.version}"

    @property
    def definition(self) -> dict[str, Any]:
        return definition_of(self.spec)


def same_version(existing: StoredContract | None, new: StoredContract) -> bool:
    """Whether ``new`` is already stored as ``existing``: ``True`` for the same body (a no-op),
    ``False`` when nothing is stored; a different body raises DuplicateContractError
    (versions are immutable)."""
    if existing is None:
        return False
    if existing.fingerprint != new.fingerprint:
        raise DuplicateContractError(
            f"{new.ref} is registered already with a different body: versions are immutable, "
            "register a new version instead"
        )
    return True


class ContractSource(Protocol):
    """A place that keeps contract versions (a folder, a database, a bucket)."""

    @property
    def location(self) -> str:
        """The source's URL, credentials masked (for messages)."""
        ...

    def revision(self) -> str:
        """A token that changes whenever a version is added (cheap: polled)."""
        ...

    def entries(self) -> list[StoredContract]:
        """Every stored version."""
        ...

    def add(self, entry: StoredContract) -> bool:
        """Store a new version: ``True`` when stored, ``False`` when the same body is stored
        already; a different body under that ``name@version`` raises DuplicateContractError."""
        ...

    def watch(self, on_change: Callable[[], None]) -> Callable[[], None] | None:
        """Call ``on_change`` (from another thread) when a version is added; returns the
        function that stops watching, or ``None`` when the source cannot push changes (it is
        then polled through :meth:`revision`)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ContractsUrl:
    """A parsed registry URL: its kind, the URL itself and, for ``file://``, the folder."""

    kind: RegistryKind
    url: str
    directory: Path | None = None


def parse_contracts_url(url: str) -> ContractsUrl:
    """``file://DIR`` (relative or absolute), ``postgresql://...`` or ``s3://bucket/prefix``;
    a bare path is a folder. Raises ConfigError for anything else."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        if not url.strip():
            raise ConfigError("the contracts URL is empty")
        return ContractsUrl("file", f"file://{url}", Path(url))
    scheme = scheme.lower()
    if scheme == "file":
        if not rest:
            raise ConfigError(f"malformed contracts URL {url!r}: file://DIR needs a folder")
        return ContractsUrl("file", url, Path(rest))
    if scheme in ("postgresql", "postgres"):
        return ContractsUrl("postgresql", url)
    if scheme == "s3":
        if not rest.split("/", 1)[0]:
            raise ConfigError(f"malformed contracts URL {url!r}: use s3://bucket/prefix")
        return ContractsUrl("s3", url)
    raise ConfigError(
        f"unknown contracts URL scheme {scheme!r}: use file://DIR, postgresql://HOST/DB or "
        "s3://bucket/prefix"
    )
