"""The load's connections to PostgreSQL, and its translation of driver errors.

Every statement of a load runs under :func:`translated`, which turns psycopg errors into
:mod:`dataquarantine.errors` by the one table of :mod:`dataquarantine.db.errors`: an
unreachable or busy database is a :class:`DatabaseUnavailableError` (transient), anything else
a :class:`LoadError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from dataquarantine.db.connect import Connection
from dataquarantine.db.errors import is_transient
from dataquarantine.db.url import PostgresTarget
from dataquarantine.errors import DatabaseUnavailableError, DataQuarantineError, LoadError

__all__ = ["APPLICATION_NAME", "Connection", "connect", "first_row", "translated"]

#: The ``application_name`` of the load's sessions.
APPLICATION_NAME = "dataquarantine-load"


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    """psycopg errors as ours: unreachable -> DatabaseUnavailableError, else LoadError
    (prefixed with ``what``); errors of this package pass through."""
    import psycopg

    try:
        yield
    except DataQuarantineError:
        raise
    except psycopg.Error as exc:
        cls = DatabaseUnavailableError if is_transient(exc) else LoadError
        raise cls(f"{what}: {exc}") from exc


def connect(target: PostgresTarget, *, autocommit: bool) -> Connection:
    """A new connection of the load to ``target`` (the caller closes it), errors translated."""
    from dataquarantine.db.connect import connect_postgres

    with translated(f"cannot connect to {target.display}"):
        return connect_postgres(target, autocommit=autocommit, application_name=APPLICATION_NAME)


def first_row(row: tuple[Any, ...] | None, what: str) -> tuple[Any, ...]:
    """``row``, the result of a query that always returns one (LoadError if it did not)."""
    if row is None:
        raise LoadError(f"{what}: the query returned no row")
    return row
