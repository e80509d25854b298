"""Settings shared by every command. Environment variables take the ``DQ_`` prefix
(``DQ_CONTRACTS_DIR``, ``DQ_STORE_URL``, ``DQ_PAYLOADS_URL``, ...); command-line options win."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from dataquarantine.db.url import DEFAULT_STORE_URL
from dataquarantine.infra.retry import DEFAULT_RETRY_SECONDS
from dataquarantine.io.records import DEFAULT_MAX_RECORD_BYTES

__all__ = [
    "DEFAULT_CONTRACTS_CACHE",
    "DEFAULT_PAYLOADS_URL",
    "DEFAULT_POLL_SECONDS",
    "DEFAULT_STORE_URL",
    "Settings",
    "contracts_location",
]

DEFAULT_PAYLOADS_URL = "file://.dataquarantine/payloads"
DEFAULT_CONTRACTS_CACHE = ".dataquarantine/contracts-cache"
DEFAULT_POLL_SECONDS = 5.0


def contracts_location(url: str | None, directory: Path) -> str:
    """The registry URL: ``url`` when given, else the folder as ``file://DIR``."""
    return url if url else f"file://{directory}"


class Settings(BaseSettings):
    """Embedded defaults: SQLite metadata and a local payload folder, no server needed."""

    model_config = SettingsConfigDict(env_prefix="DQ_", extra="ignore")

    contracts_dir: Path = Path("contracts")
    #: The contract registry (``DQ_CONTRACTS_URL``): ``file://DIR``, ``postgresql://...`` or
    #: ``s3://bucket/prefix``; unset, the folder ``contracts_dir``.
    contracts_url: str | None = None
    #: How often a long-running process asks the registry for changes (PostgreSQL also
    #: pushes them at once through LISTEN/NOTIFY).
    contracts_poll_seconds: float = Field(default=DEFAULT_POLL_SECONDS, gt=0, le=3600)
    #: The local cache of a remote registry's contracts, used when it is down at start;
    #: empty turns it off.
    contracts_cache: str = DEFAULT_CONTRACTS_CACHE
    store_url: str = DEFAULT_STORE_URL
    payloads_url: str = DEFAULT_PAYLOADS_URL
    #: Records validated (and quarantined) per batch.
    batch_size: int = Field(default=10_000, ge=1, le=1_000_000)
    #: Seconds a store (metadata or payloads) may stay unreachable while a write or read is
    #: retried with backoff, before the command fails (``DQ_RETRY_SECONDS``).
    retry_seconds: float = Field(default=DEFAULT_RETRY_SECONDS, gt=0, le=86_400)
    #: A JSONL line longer than this many bytes is quarantined as ``parse_error`` without being
    #: parsed (parsing takes up to ~20x a line's size in memory); 0 means no limit.
    max_record_bytes: int = Field(default=DEFAULT_MAX_RECORD_BYTES, ge=0)

    @property
    def contracts(self) -> str:
        """The contract registry's URL (``DQ_CONTRACTS_URL``, else ``file://`` the folder)."""
        return contracts_location(self.contracts_url, self.contracts_dir)
