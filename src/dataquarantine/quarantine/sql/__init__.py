"""SQL metadata store of quarantined records: SQLite (default) and PostgreSQL.

>>> from dataquarantine.quarantine.envelope import QuarantineFilter
>>> store = open_store("sqlite:///:memory:")
>>> store.migrate()
>>> store.count(QuarantineFilter())
0
"""

from __future__ import annotations

from dataquarantine.db.url import (
    DEFAULT_STORE_URL,
    PostgresTarget,
    SqliteTarget,
    parse_store_url,
)
from dataquarantine.errors import ConfigError
from dataquarantine.quarantine.sql.base import SqlQuarantineStore
from dataquarantine.quarantine.sql.sqlite import SqliteQuarantineStore

__all__ = [
    "DEFAULT_STORE_URL",
    "SqlQuarantineStore",
    "SqliteQuarantineStore",
    "open_store",
]


def open_store(url: str) -> SqlQuarantineStore:
    """A metadata store for ``url`` (no I/O yet: the database is opened on first use).

    ``sqlite:///relative/path.db`` (relative to the working directory),
    ``sqlite:////absolute/path.db``, ``sqlite:///:memory:``, or
    ``postgresql://user@host:port/db[?schema=NAME&libpq-params]`` (also ``postgres://``).
    Raises :class:`~dataquarantine.errors.ConfigError` for an unknown scheme or a malformed
    URL. Call :meth:`~SqlQuarantineStore.migrate` before first use.
    """
    target = parse_store_url(url)
    if isinstance(target, SqliteTarget):
        return SqliteQuarantineStore(target.path)
    if isinstance(target, PostgresTarget):
        # Imported here so SQLite users never load (or install) the PostgreSQL driver.
        from dataquarantine.extras import require_extra

        require_extra("postgres", "a postgresql:// store")
        from dataquarantine.quarantine.sql.postgres import PostgresQuarantineStore

        return PostgresQuarantineStore(target)
    raise ConfigError(f"unsupported store URL {url!r}")  # pragma: no cover
