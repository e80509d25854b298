"""Parsing of metadata-store URLs (``sqlite:///...`` and ``postgresql://...``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dataquarantine.errors import ConfigError, UnsafeIdentifierError
from dataquarantine.masking import mask_secrets

__all__ = [
    "DEFAULT_STORE_URL",
    "PostgresTarget",
    "SqliteTarget",
    "StoreTarget",
    "parse_store_url",
    "quote_identifier",
    "validate_identifier",
]

#: The metadata store used when none is configured.
DEFAULT_STORE_URL = "sqlite:///.dataquarantine/quarantine.db"

_SQLITE_PREFIX = "sqlite:///"
_PG_SCHEMES = ("postgresql", "postgres")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PG_MAX_IDENTIFIER_BYTES = 63
_UNPARSED = "the host or port does not parse (percent-encode '/', '?', '#' and '@' in a password)"


@dataclass(frozen=True, slots=True)
class SqliteTarget:
    """A SQLite database file; ``path`` is ``None`` for ``sqlite:///:memory:``."""

    path: Path | None

    @property
    def display(self) -> str:
        return f"sqlite:///{self.path}" if self.path is not None else "sqlite:///:memory:"


@dataclass(frozen=True, slots=True)
class PostgresTarget:
    """A PostgreSQL database: a libpq URL without ``schema``, and the schema to work in."""

    conninfo: str
    schema: str | None
    #: The URL with every credential masked (:func:`~dataquarantine.masking.mask_secrets`).
    display: str


StoreTarget = SqliteTarget | PostgresTarget


def validate_identifier(name: str) -> str:
    """Return ``name`` if it is a plain SQL identifier, else raise UnsafeIdentifierError."""
    if not _IDENTIFIER.fullmatch(name) or len(name.encode()) > _PG_MAX_IDENTIFIER_BYTES:
        raise UnsafeIdentifierError(
            f"{name!r} is not a plain SQL identifier (letters, digits and _, at most 63 bytes)"
        )
    return name


def quote_identifier(name: str) -> str:
    """Validate ``name`` and return it double-quoted (case is kept)."""
    return f'"{validate_identifier(name)}"'


def parse_store_url(url: str) -> StoreTarget:
    """Parse a metadata-store URL; raise ConfigError when it is unknown or malformed."""
    scheme, sep, _ = url.partition(":")
    if not sep:
        raise ConfigError(f"not a store URL (no scheme): {mask_secrets(url)!r}")
    scheme = scheme.lower()
    if scheme == "sqlite":
        return _parse_sqlite(url)
    if scheme in _PG_SCHEMES:
        return _parse_postgres(url)
    raise ConfigError(
        f"unknown store URL scheme {scheme!r}: use sqlite:///PATH or postgresql://HOST/DB"
    )


def _parse_sqlite(url: str) -> SqliteTarget:
    if url[: len(_SQLITE_PREFIX)].lower() != _SQLITE_PREFIX:
        raise ConfigError(
            f"malformed SQLite URL {url!r}: use sqlite:///relative/path.db, "
            "sqlite:////absolute/path.db or sqlite:///:memory:"
        )
    rest = url[len(_SQLITE_PREFIX) :]
    if not rest:
        raise ConfigError(f"malformed SQLite URL {url!r}: no database path")
    if "?" in rest or "#" in rest:
        raise ConfigError(f"malformed SQLite URL {url!r}: query parameters are not supported")
    if rest == ":memory:":
        return SqliteTarget(path=None)
    return SqliteTarget(path=Path(rest))


def _parse_postgres(url: str) -> PostgresTarget:
    display = mask_secrets(url)
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a non-numeric or out-of-range port
    except ValueError:
        # Not the parser's text: it quotes the would-be port, which may be part of a password.
        raise ConfigError(f"malformed PostgreSQL URL {display!r}: {_UNPARSED}") from None
    if parts.fragment:
        raise ConfigError(f"malformed PostgreSQL URL {display!r}: unexpected '#' fragment")
    schema: str | None = None
    kept: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key != "schema":
            kept.append((key, value))
        elif schema is not None:
            raise ConfigError(f"malformed PostgreSQL URL {display!r}: 'schema' given twice")
        else:
            schema = validate_identifier(value)
    conninfo = urlunsplit(parts._replace(query=urlencode(kept)))
    return PostgresTarget(conninfo=conninfo, schema=schema, display=display)
