"""One transient/terminal table for every caller that translates database driver errors.

Each row is a driver error and what each caller turns it into: the SQLite store, the
PostgreSQL store, :func:`dataquarantine.db.connect.translate` (gate history, validation
metrics) and the load runner. ``T`` is the caller's transient error, ``X`` its terminal one,
``-`` a driver the caller never sees. The table pins the behaviour each caller had before the
table existed, with one decision: ``connect.translate`` used to call every
``sqlite3.OperationalError`` transient, and now follows the store's rule by result code (a
missing table, ``SQLITE_ERROR``, is terminal; so is an error without a code whose message
names no busy, locked, unopenable or full database).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg import errors as pg_errors

from dataquarantine.db.connect import translate
from dataquarantine.db.errors import classify, driver_errors, is_transient
from dataquarantine.errors import (
    DatabaseUnavailableError,
    DataQuarantineError,
    LoadError,
    StoreIntegrityError,
    StoreUnavailableError,
)
from dataquarantine.load.connection import translated
from dataquarantine.quarantine.sql.base import store_error


def _sqlite(code: int | None, message: str, cls: type[sqlite3.Error]) -> sqlite3.Error:
    exc = cls(message)
    if code is not None:
        exc.sqlite_errorcode = code  # type: ignore[attr-defined]
    return exc


def _missing_table() -> sqlite3.Error:
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("SELECT * FROM no_such_table")
    except sqlite3.Error as exc:
        return exc
    finally:
        conn.close()
    raise AssertionError("no error")  # pragma: no cover


def _cannot_open() -> sqlite3.Error:
    try:
        sqlite3.connect(str(Path(__file__).parent))  # a folder is no database file
    except sqlite3.Error as exc:
        return exc
    raise AssertionError("no error")  # pragma: no cover


def _closed() -> sqlite3.Error:
    conn = sqlite3.connect(":memory:")
    conn.close()
    try:
        conn.execute("SELECT 1")
    except sqlite3.Error as exc:
        return exc
    raise AssertionError("no error")  # pragma: no cover


# (id, error, SQLite store, PostgreSQL store, connect.translate, load runner)
ROWS: list[tuple[str, Callable[[], BaseException], str, str, str, str]] = [
    (
        "sqlite busy",
        lambda: _sqlite(5, "database is locked", sqlite3.OperationalError),
        "T",
        "-",
        "T",
        "-",
    ),
    (
        "sqlite locked (extended code)",
        lambda: _sqlite(6 | 256, "table locked", sqlite3.OperationalError),
        "T",
        "-",
        "T",
        "-",
    ),
    (
        "sqlite nomem",
        lambda: _sqlite(7, "out of memory", sqlite3.OperationalError),
        "T",
        "-",
        "T",
        "-",
    ),
    (
        "sqlite ioerr",
        lambda: _sqlite(10, "disk I/O error", sqlite3.OperationalError),
        "T",
        "-",
        "T",
        "-",
    ),
    (
        "sqlite full",
        lambda: _sqlite(13, "database or disk is full", sqlite3.OperationalError),
        "T",
        "-",
        "T",
        "-",
    ),
    ("sqlite cantopen", _cannot_open, "T", "-", "T", "-"),
    (
        "sqlite protocol",
        lambda: _sqlite(15, "locking protocol", sqlite3.OperationalError),
        "T",
        "-",
        "T",
        "-",
    ),
    # The decision: connect.translate called this and "no code, other" transient before.
    ("sqlite missing table", _missing_table, "X", "-", "X", "-"),
    (
        "sqlite constraint",
        lambda: _sqlite(19, "UNIQUE constraint failed", sqlite3.IntegrityError),
        "X",
        "-",
        "X",
        "-",
    ),
    ("sqlite corrupt", lambda: _sqlite(11, "malformed", sqlite3.DatabaseError), "X", "-", "X", "-"),
    (
        "sqlite no code, locked",
        lambda: _sqlite(None, "database is locked", sqlite3.OperationalError),
        "T",
        "-",
        "T",
        "-",
    ),
    (
        "sqlite no code, disk full",
        lambda: _sqlite(None, "Database or disk is full", sqlite3.OperationalError),
        "T",
        "-",
        "T",
        "-",
    ),
    (
        "sqlite no code, other",
        lambda: _sqlite(None, "something else", sqlite3.OperationalError),
        "X",
        "-",
        "X",
        "-",
    ),
    ("sqlite closed connection", _closed, "X", "-", "X", "-"),
    ("os error", lambda: PermissionError("cannot create folder"), "-", "-", "T", "-"),
    ("pg operational", lambda: psycopg.OperationalError("connection refused"), "-", "T", "T", "T"),
    ("pg interface", lambda: psycopg.InterfaceError("connection is closed"), "-", "T", "T", "T"),
    ("pg admin shutdown", lambda: pg_errors.AdminShutdown("terminating"), "-", "T", "T", "T"),
    ("pg query canceled", lambda: pg_errors.QueryCanceled("statement timeout"), "-", "T", "T", "T"),
    (
        "pg lock not available",
        lambda: pg_errors.LockNotAvailable("lock timeout"),
        "-",
        "T",
        "T",
        "T",
    ),
    ("pg serialization", lambda: pg_errors.SerializationFailure("retry"), "-", "T", "T", "T"),
    ("pg disk full", lambda: pg_errors.DiskFull("no space"), "-", "T", "T", "T"),
    ("pg unique violation", lambda: pg_errors.UniqueViolation("duplicate key"), "-", "X", "X", "X"),
    ("pg undefined table", lambda: pg_errors.UndefinedTable("no relation"), "-", "X", "X", "X"),
    ("pg syntax", lambda: pg_errors.SyntaxError("syntax error"), "-", "X", "X", "X"),
    (
        "pg insufficient privilege",
        lambda: pg_errors.InsufficientPrivilege("denied"),
        "-",
        "X",
        "X",
        "X",
    ),
    ("pg data error", lambda: pg_errors.InvalidTextRepresentation("bad"), "-", "X", "X", "X"),
    ("pg base error", lambda: psycopg.Error("unknown"), "-", "X", "X", "X"),
]
IDS = [row[0] for row in ROWS]


def _kind(caller: Callable[[BaseException], DataQuarantineError], exc: BaseException) -> str:
    error = caller(exc)
    assert error.transient is isinstance(error, StoreUnavailableError | DatabaseUnavailableError), (
        error
    )
    return "T" if error.transient else "X"


def _load(exc: BaseException) -> DataQuarantineError:
    try:
        with translated("loading"):
            raise exc
    except DataQuarantineError as error:
        return error
    raise AssertionError("not translated")  # pragma: no cover


@pytest.mark.parametrize(("name", "make", "sqlite_store", "pg", "conn", "load"), ROWS, ids=IDS)
def test_each_caller_classifies_by_the_one_table(
    name: str, make: Callable[[], BaseException], sqlite_store: str, pg: str, conn: str, load: str
) -> None:
    exc = make()
    table = "T" if is_transient(exc) else "X"
    assert classify(exc) == ("transient" if table == "T" else "terminal")
    assert isinstance(exc, driver_errors())
    if sqlite_store != "-":
        assert isinstance(exc, sqlite3.Error)
        assert _kind(lambda e: store_error(e, "w"), exc) == sqlite_store == table
    if pg != "-":
        assert isinstance(exc, psycopg.Error)
        assert _kind(lambda e: store_error(e, "w"), exc) == pg == table
    assert _kind(lambda e: translate(e, "w"), exc) == conn == table
    if load != "-":
        error = _load(exc)
        expected = DatabaseUnavailableError if load == "T" else LoadError
        assert type(error) is expected
        assert load == table


@pytest.mark.parametrize("exc", [ValueError("x"), KeyError("k"), RuntimeError("r")])
def test_other_exceptions_are_no_driver_errors(exc: BaseException) -> None:
    assert classify(exc) is None
    assert not is_transient(exc)


def test_translations_keep_the_message_and_pass_our_errors_through() -> None:
    error = translate(psycopg.OperationalError("server closed"), "db: flush")
    assert isinstance(error, StoreUnavailableError)
    assert str(error) == "db: flush: server closed"
    ours = StoreIntegrityError("already ours")
    assert translate(ours, "ignored") is ours
    with pytest.raises(StoreIntegrityError) as raised, translated("loading"):
        raise ours
    assert raised.value is ours
