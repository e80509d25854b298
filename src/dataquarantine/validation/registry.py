"""The contract registry (the versions of a
:class:`~dataquarantine.contracts.source.ContractSource`, compiled) and the router that sends
each record to its contract.

``latest`` is the highest semantic version that is not a pre-release (a pre-release is
``latest`` only when a contract has nothing else). Contracts are compiled once, when loaded;
:meth:`ContractRegistry.refresh` reloads them when the source's revision changed (a file
added, changed or removed; a version registered), in the caller's thread, so a stream worker
switches between two batches.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from dataquarantine.contracts.folder import FolderSource
from dataquarantine.contracts.source import ContractSource, StoredContract
from dataquarantine.contracts.version import Version
from dataquarantine.errors import ContractNotFoundError, DuplicateContractError
from dataquarantine.kernel.results import BatchResult
from dataquarantine.validation.base import Retriever
from dataquarantine.validation.contract import Contract
from dataquarantine.validation.engine import Route, validate_forced, validate_routed

__all__ = ["ContractRegistry", "Router", "split_ref"]


def split_ref(ref: str) -> tuple[str, str | None]:
    """``name`` / ``name@latest`` -> (name, None); ``name@1.2.0`` -> (name, "1.2.0")."""
    name, _, version = ref.strip().partition("@")
    return name, (version or None) if version != "latest" else None


class ContractRegistry:
    """Compiled contracts by name and version, optionally kept in step with a source."""

    def __init__(
        self,
        contracts: Iterable[Contract] = (),
        *,
        source: ContractSource | None = None,
        retriever: Retriever | None = None,
    ) -> None:
        self._by_name: dict[str, dict[Version, Contract]] = {}
        self._stored: dict[str, StoredContract] = {}
        self.source = source
        self._retriever = retriever
        self._revision: str | None = None
        self._stale = False
        self._checked_at = 0.0
        #: Incremented on every reload, so routers know their caches are stale.
        self.generation = 0
        for c in contracts:
            self.add(c)

    @classmethod
    def from_directory(
        cls, directory: Path | str, *, retriever: Retriever | None = None
    ) -> ContractRegistry:
        """Load and compile every contract below ``directory``; the first bad file raises
        :class:`~dataquarantine.errors.ContractError` naming it."""
        return cls.from_source(FolderSource(directory), retriever=retriever)

    @classmethod
    def from_source(
        cls, source: ContractSource, *, retriever: Retriever | None = None
    ) -> ContractRegistry:
        """Load and compile every version of ``source`` (its errors propagate)."""
        reg = cls(source=source, retriever=retriever)
        reg.reload()
        return reg

    @property
    def directory(self) -> Path | None:
        """The folder of a ``file://`` source, else ``None``."""
        return self.source.directory if isinstance(self.source, FolderSource) else None

    @property
    def revision(self) -> str | None:
        """The source revision the compiled contracts come from (``None``: not loaded from
        the source, e.g. from a local cache)."""
        return self._revision

    def reload(self) -> None:
        """Load every version of the source now. On any error the contracts in use stay."""
        assert self.source is not None
        revision = self.source.revision()
        self.install(self.source.entries(), revision=revision)

    def install(self, entries: Iterable[StoredContract], *, revision: str | None) -> None:
        """Compile ``entries`` and make them the registry's contracts, all or nothing."""
        fresh = ContractRegistry(retriever=self._retriever)
        for entry in entries:
            fresh.add(Contract(entry.spec, retriever=self._retriever))
            fresh._stored[entry.ref] = entry
        self._by_name, self._stored = fresh._by_name, fresh._stored
        self._revision = revision
        self._checked_at = time.monotonic()
        self.generation += 1

    def mark_stale(self) -> None:
        """Make the next :meth:`refresh` ask the source, whatever its interval (called by a
        source's change notification, from any thread)."""
        self._stale = True

    def refresh(self, *, min_interval: float = 0.0) -> bool:
        """Reload when the source changed; returns True if it did. The source is asked at
        most once per ``min_interval`` seconds, unless :meth:`mark_stale` was called. A bad
        version or an unreachable source raises, and the previous contracts stay in use."""
        if self.source is None:
            return False
        now = time.monotonic()
        if not self._stale and now - self._checked_at < min_interval:
            return False
        self._checked_at = now
        self._stale = False  # a notification from now on asks again
        if self.source.revision() == self._revision:
            return False
        self.reload()
        return True

    def stored(self, ref: str) -> StoredContract | None:
        """The registration of ``name@version`` (``None`` for contracts added in Python)."""
        found = self.find(ref)
        return self._stored.get(f"{found.name}@{found.version}") if found else None

    def add(self, contract: Contract) -> None:
        versions = self._by_name.setdefault(contract.name, {})
        version = Version.parse(contract.version)
        other = versions.get(version)
        if other is not None:
            raise DuplicateContractError(
                f"{contract.ref} is also defined in {other.spec.source_path}",
                source=contract.spec.source_path,
            )
        versions[version] = contract
        self.generation += 1

    def get(self, name: str, version: str | None = None) -> Contract:
        """The contract ``name`` at ``version`` (``None``/``latest``: the latest release)."""
        found = self.find(name if version is None else f"{name}@{version}")
        if found is None:
            raise ContractNotFoundError(name, version)
        return found

    def find(self, ref: str) -> Contract | None:
        """Resolve ``name``, ``name@latest`` or ``name@1.2.0``; ``None`` when unknown."""
        name, version = split_ref(ref)
        versions = self._by_name.get(name)
        if not versions:
            return None
        if version is None:
            releases = [v for v in versions if not v.prerelease]
            return versions[max(releases or versions)]
        try:
            return versions.get(Version.parse(version))
        except ValueError:
            return None

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def versions(self, name: str) -> list[str]:
        return [str(v) for v in sorted(self._by_name.get(name, {}))]

    def __iter__(self) -> Iterator[Contract]:
        for name in sorted(self._by_name):
            versions = self._by_name[name]
            for v in sorted(versions):
                yield versions[v]

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_name.values())


class Router:
    """Validates batches, picking each record's contract by its ``_schema`` field
    (``name`` or ``name@version``), or one forced contract for every record."""

    _CACHE_LIMIT = 10_000

    def __init__(
        self,
        registry: ContractRegistry,
        *,
        contract: str | None = None,
        field: str = "_schema",
    ) -> None:
        self.registry = registry
        self.field = field
        self._routes: dict[str, Route[Contract]] = {}
        self._unknown: set[str] = set()
        self._generation = registry.generation
        self.forced: Contract | None = None
        if contract is not None:
            name, version = split_ref(contract)
            self.forced = registry.get(name, version)

    def _sync(self) -> None:
        if self._generation != self.registry.generation:
            self._routes.clear()
            self._unknown.clear()
            self._generation = self.registry.generation

    def lookup(self, ref: str) -> Contract | None:
        """Resolve a contract reference (cached)."""
        self._sync()
        route = self._routes.get(ref) or self._resolve(ref)
        return route[0] if route is not None else None

    def _resolve(self, ref: str) -> Route[Contract] | None:
        if ref in self._unknown:
            return None
        found = self.registry.find(ref)
        if found is None:
            if len(self._unknown) >= self._CACHE_LIMIT:
                self._unknown.clear()
            self._unknown.add(ref)
            return None
        route: Route[Contract] = (found, found.is_valid_fn, found.rules_check, found.ref)
        self._routes[ref] = route
        return route

    def validate_batch(
        self, items: Sequence[Any], *, text: bool = False, keep_values: bool = True
    ) -> BatchResult:
        """Validate raw ``bytes`` (or decoded values); ``text=True`` types text rows (CSV);
        ``keep_values=False`` drops the decoded values of valid records (faster)."""
        if self.forced is not None:
            return validate_forced(self.forced, items, text=text, keep_values=keep_values)
        self._sync()
        return validate_routed(
            items, self._routes, self._resolve, field=self.field, text=text, keep_values=keep_values
        )
