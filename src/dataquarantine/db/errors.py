"""Which database driver errors are transient and which are terminal: one table for every
caller (the quarantine store, gate history, validation metrics, loads, gates).

Like httpx's exception mapping, :data:`DRIVER_ERRORS` lists driver exception classes in
order, most specific first; the first class that matches decides. SQLite errors are decided
by their primary result code (or, when the driver gives none, by the message). Each caller
keeps its own error class (StoreUnavailableError, DatabaseUnavailableError, LoadError, ...)
and asks only :func:`is_transient`.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from typing import Any, Final, Literal

__all__ = [
    "DRIVER_ERRORS",
    "SQLITE_TRANSIENT_CODES",
    "Kind",
    "Rule",
    "classify",
    "driver_errors",
    "is_transient",
]

Kind = Literal["transient", "terminal"]
#: A kind, or a function of the exception that decides it.
Rule = Kind | Callable[[Any], Kind]

#: Primary SQLite result codes (the low byte of extended codes): "not now", not "wrong".
SQLITE_TRANSIENT_CODES: Final = frozenset(
    {
        5,  # SQLITE_BUSY: database is locked
        6,  # SQLITE_LOCKED: a table is locked
        7,  # SQLITE_NOMEM
        10,  # SQLITE_IOERR
        13,  # SQLITE_FULL: disk full
        14,  # SQLITE_CANTOPEN: unable to open database file
        15,  # SQLITE_PROTOCOL: WAL lock protocol race
    }
)
# Only for an error without a result code (raised by the driver itself, not by SQLite).
_SQLITE_TRANSIENT_MESSAGES: Final = ("locked", "unable to open", "disk i/o", "disk is full")


def _sqlite_kind(exc: sqlite3.Error) -> Kind:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return "transient" if (code & 0xFF) in SQLITE_TRANSIENT_CODES else "terminal"
    message = str(exc).lower()
    if isinstance(exc, sqlite3.OperationalError) and any(
        m in message for m in _SQLITE_TRANSIENT_MESSAGES
    ):
        return "transient"
    return "terminal"


#: Driver exception class -> kind, first match wins (psycopg's rows follow, see _table).
DRIVER_ERRORS: Final[tuple[tuple[type[BaseException], Rule], ...]] = (
    (sqlite3.Error, _sqlite_kind),  # by result code
    (OSError, "transient"),  # creating a SQLite file's folder, a refused socket
)


def _psycopg_rows() -> tuple[tuple[type[BaseException], Rule], ...]:
    # Read from sys.modules, never imported here: without psycopg loaded no psycopg error
    # can exist, and SQLite users never load the driver.
    psycopg = sys.modules.get("psycopg")
    if psycopg is None:
        return ()
    # OperationalError covers refused/lost connections, admin shutdown, lock and statement
    # timeouts, serialization failures and a full disk: all may succeed when retried.
    return (
        (psycopg.OperationalError, "transient"),
        (psycopg.InterfaceError, "transient"),
        (psycopg.Error, "terminal"),
    )


def _table() -> tuple[tuple[type[BaseException], Rule], ...]:
    return DRIVER_ERRORS + _psycopg_rows()


def driver_errors() -> tuple[type[BaseException], ...]:
    """Every driver exception class of the table (psycopg's once it is loaded)."""
    return tuple(cls for cls, _ in _table())


def classify(exc: BaseException) -> Kind | None:
    """``exc``'s kind by the table, or None when it is no driver error."""
    for cls, rule in _table():
        if isinstance(exc, cls):
            return rule(exc) if callable(rule) else rule
    return None


def is_transient(exc: BaseException) -> bool:
    """True when the same call may succeed later (the database is down, busy or locked)."""
    return classify(exc) == "transient"
