"""A process's registry kept live: changes followed, outages ridden out, a local cache.

:meth:`LiveRegistry.refresh` is called by the process between two units of work (a stream
worker between batches, the review server per request): it asks the source at most once per
``poll_seconds``, at once after a change notification (PostgreSQL ``LISTEN/NOTIFY``), and
recompiles only when the source's revision moved. When the source is unreachable, the
contracts in use stay, the failure is logged and counted, and the next attempt waits for a
backoff (:class:`~dataquarantine.infra.retry.RetryPolicy`), growing until the source answers.

At start, an unreachable remote source fails the start with a clear message, unless a local
cache of its last known contracts exists (``DQ_CONTRACTS_CACHE``, written after every load of
a ``postgresql://`` or ``s3://`` registry): the process then starts on the cache and keeps
trying the source.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from dataquarantine.contracts.folder import FolderSource, write_folder
from dataquarantine.contracts.source import ContractSource, StoredContract
from dataquarantine.errors import DataQuarantineError, RegistryUnavailableError, is_transient
from dataquarantine.infra.retry import RetryPolicy
from dataquarantine.validation.registry import ContractRegistry

__all__ = ["DEFAULT_BACKOFF", "LiveRegistry", "RegistryObserver", "cache_folder"]

log = logging.getLogger("dataquarantine.registry")

#: Backoff between attempts while the source is unreachable (only its schedule is used:
#: the attempts are the process's own refreshes, never a blocking retry loop).
DEFAULT_BACKOFF = RetryPolicy(initial_backoff=0.5, max_backoff=30.0, max_attempts=1, deadline=None)


@runtime_checkable
class RegistryObserver(Protocol):
    """Told about every attempt to reach the registry (a metrics exporter)."""

    def registry_checked(self, up: bool) -> None: ...


def cache_folder(cache_dir: Path, location: str) -> Path:
    """The cache of one registry: a folder per registry URL (credentials masked)."""
    return cache_dir / hashlib.sha256(location.encode()).hexdigest()[:16]


def _read_cache(folder: Path) -> list[StoredContract] | None:
    if not folder.is_dir():
        return None
    return FolderSource(folder).entries()


def _write_cache(folder: Path, entries: list[StoredContract]) -> None:
    """Replace the cache with ``entries`` (a fresh folder renamed into place)."""
    tmp = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}")
    try:
        write_folder(tmp, entries)
        old = folder.with_name(f".{folder.name}.old.{uuid.uuid4().hex[:8]}")
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    except (OSError, DataQuarantineError) as exc:
        log.warning("the local contracts cache %s was not written: %s", folder, exc)
        shutil.rmtree(tmp, ignore_errors=True)


class LiveRegistry:
    """A :class:`ContractRegistry` over a source, reloaded when the source changes.

    ``follow=False`` (one-shot commands) loads it without listening for notifications."""

    def __init__(
        self,
        source: ContractSource,
        *,
        poll_seconds: float,
        cache_dir: Path | None = None,
        backoff: RetryPolicy = DEFAULT_BACKOFF,
        observers: Sequence[RegistryObserver] = (),
        clock: Callable[[], float] = time.monotonic,
        follow: bool = True,
    ) -> None:
        self.source = source
        self.poll_seconds = poll_seconds
        remote = not isinstance(source, FolderSource)
        self.cache = cache_folder(cache_dir, source.location) if cache_dir and remote else None
        self.backoff = backoff
        self.observers = list(observers)
        self._clock = clock
        #: Consecutive failed attempts (0 while the source answers).
        self.failures = 0
        #: Failed attempts since start.
        self.errors_total = 0
        self._retry_at = 0.0
        self.registry = self._start()
        #: Change notifications (PostgreSQL); a one-shot command does not follow changes.
        self._unwatch = source.watch(self.registry.mark_stale) if follow else None

    def _start(self) -> ContractRegistry:
        try:
            registry = ContractRegistry.from_source(self.source)
        except DataQuarantineError as exc:
            if not is_transient(exc):
                raise
            cached = _read_cache(self.cache) if self.cache is not None else None
            if cached is None:
                where = f" at {self.cache}" if self.cache is not None else ""
                raise RegistryUnavailableError(
                    f"the contract registry {self.source.location} is unreachable and there "
                    f"is no local cache of its contracts{where}: {exc}"
                ) from exc
            registry = ContractRegistry(source=self.source)
            registry.install(cached, revision=None)
            log.warning(
                "the contract registry %s is unreachable (%s); starting on the local cache "
                "(%d contract version(s)) and retrying",
                self.source.location,
                exc,
                len(registry),
            )
            self._count_failure()
            return registry
        self._save(registry)
        self._tell(up=True)
        return registry

    def _save(self, registry: ContractRegistry) -> None:
        if self.cache is not None:
            refs = (f"{c.name}@{c.version}" for c in registry)
            entries = [s for ref in refs if (s := registry.stored(ref)) is not None]
            _write_cache(self.cache, entries)

    def _tell(self, *, up: bool) -> None:
        for observer in self.observers:
            observer.registry_checked(up)

    def _count_failure(self) -> float:
        """Count a failed attempt and schedule the next one; returns the pause."""
        self.failures += 1
        self.errors_total += 1
        pause = self.backoff.backoff(self.failures)
        self._retry_at = self._clock() + pause
        self._tell(up=False)
        return pause

    def _failed(self, exc: Exception) -> None:
        pause = self._count_failure()
        log.warning(
            "contract registry %s unreachable (%s): keeping the %d contract version(s) in "
            "use; retry %d in %.1fs",
            self.source.location,
            exc,
            len(self.registry),
            self.failures,
            pause,
        )

    @property
    def up(self) -> bool:
        return self.failures == 0

    def refresh(self) -> bool:
        """Reload when the source changed (see the module); True when the contracts changed.
        Never raises for a source problem: the contracts in use stay."""
        if self._clock() < self._retry_at:
            return False
        try:
            changed = self.registry.refresh(
                min_interval=0.0 if self.failures else self.poll_seconds
            )
        except DataQuarantineError as exc:
            if is_transient(exc):
                self._failed(exc)
            else:  # a bad version: reported, the contracts in use stay
                self.errors_total += 1
                log.error("contracts not reloaded, the previous ones stay in use: %s", exc)
            return False
        except OSError as exc:  # a folder that went away
            self._failed(exc)
            return False
        if self.failures:
            log.info(
                "contract registry %s reachable again after %d failed attempt(s)",
                self.source.location,
                self.failures,
            )
            self.failures = 0
            self._retry_at = 0.0
            self._tell(up=True)
        if changed:
            log.info(
                "contracts reloaded from %s: %d contract version(s)",
                self.source.location,
                len(self.registry),
            )
            self._save(self.registry)
        return changed

    def close(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        self.source.close()
