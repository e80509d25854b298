"""The contract registry (a folder of contracts, several versions each) and the router that
sends each record to its contract.

``latest`` is the highest semantic version that is not a pre-release (a pre-release is
``latest`` only when a contract has nothing else). Contracts are compiled once, when loaded;
:meth:`ContractRegistry.refresh` reloads the folder when a file was added, changed or removed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from dataquarantine.contracts.loader import discover_contract_files
from dataquarantine.contracts.version import Version
from dataquarantine.errors import ConfigError, ContractNotFoundError, DuplicateContractError
from dataquarantine.kernel.results import BatchResult
from dataquarantine.validation.base import Retriever
from dataquarantine.validation.contract import Contract
from dataquarantine.validation.engine import Route, validate_forced, validate_routed

__all__ = ["ContractRegistry", "Router", "split_ref"]

_Snapshot = tuple[tuple[str, int, int], ...]


def split_ref(ref: str) -> tuple[str, str | None]:
    """``name`` / ``name@latest`` -> (name, None); ``name@1.2.0`` -> (name, "1.2.0")."""
    name, _, version = ref.strip().partition("@")
    return name, (version or None) if version != "latest" else None


def _snapshot(directory: Path) -> _Snapshot:
    out = []
    for path in discover_contract_files(directory):
        st = path.stat()
        out.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(out)


class ContractRegistry:
    """Compiled contracts by name and version."""

    def __init__(
        self,
        contracts: Iterable[Contract] = (),
        *,
        directory: Path | None = None,
        retriever: Retriever | None = None,
    ) -> None:
        self._by_name: dict[str, dict[Version, Contract]] = {}
        self.directory = directory
        self._retriever = retriever
        self._snapshot: _Snapshot = ()
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
        path = Path(directory)
        if not path.is_dir():
            raise ConfigError(f"contracts folder {str(path)!r} does not exist")
        reg = cls(directory=path, retriever=retriever)
        reg._load()
        return reg

    def _load(self) -> None:
        assert self.directory is not None
        snap = _snapshot(self.directory)
        fresh = ContractRegistry(retriever=self._retriever)
        for path_str, _, _ in snap:
            fresh.add(Contract.from_file(path_str, retriever=self._retriever))
        self._by_name = fresh._by_name
        self._snapshot = snap
        self._checked_at = time.monotonic()
        self.generation += 1

    def refresh(self, *, min_interval: float = 0.0) -> bool:
        """Reload when the folder changed; returns True if it did. At most once per
        ``min_interval`` seconds. A bad file raises and the previous contracts stay in use."""
        if self.directory is None:
            return False
        now = time.monotonic()
        if now - self._checked_at < min_interval:
            return False
        self._checked_at = now
        if _snapshot(self.directory) == self._snapshot:
            return False
        self._load()
        return True

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
