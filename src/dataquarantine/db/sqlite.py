"""SQLite settings shared by the quarantine store and the migrations' own connections."""

from __future__ import annotations

import sqlite3
import time

__all__ = ["enter_wal"]


def enter_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Put the SQLite database in WAL mode (it stays so), waiting up to ``timeout`` seconds
    for other connections' locks."""
    # Switching to WAL needs an exclusive lock, and SQLite answers "database is locked"
    # at once, without the busy handler, while another connection holds any lock: retry
    # for as long as the timeout allows.
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
