"""Gate history in a SQLite store database (PostgreSQL: tests/integration/postgres)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dataquarantine.errors import ConfigError, StoreError
from dataquarantine.gates.history import GateHistory
from dataquarantine.gates.model import GateSeverity
from dataquarantine.gates.runner import GateResult, GateRun, GateStatus, Samples
from dataquarantine.quarantine.sql import open_store

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make_run(i: int, statuses: dict[str, tuple[GateStatus, int | None]]) -> GateRun:
    results = tuple(
        GateResult(
            name=name,
            kind="not_null",
            severity=GateSeverity.REQUIRED,
            status=status,
            count=count,
            samples=Samples(),
            sql="SELECT 1",
            duration_s=0.5 + i,
            error="boom" if status is GateStatus.ERROR else None,
        )
        for name, (status, count) in statuses.items()
    )
    return GateRun(f"run-{i}", "crm", "postgresql://h/db", T0 + timedelta(hours=i), 1.0, results)


def check_history(url: str) -> None:
    history = GateHistory(url)
    assert history.recent() == []
    history.record(make_run(0, {"a": (GateStatus.PASS, 0), "b": (GateStatus.FAIL, 3)}))
    history.record(make_run(1, {"a": (GateStatus.FAIL, 2), "b": (GateStatus.ERROR, None)}))
    assert history.record(make_run(2, {"a": (GateStatus.PASS, 0)})) == 1

    entries = history.recent()
    assert [(e.gate, e.run_id, e.status, e.count) for e in entries] == [
        ("a", "run-2", "PASS", 0),
        ("a", "run-1", "FAIL", 2),
        ("a", "run-0", "PASS", 0),
        ("b", "run-1", "ERROR", None),
        ("b", "run-0", "FAIL", 3),
    ]
    newest = entries[0]
    assert newest.run_at == T0 + timedelta(hours=2)
    assert newest.duration_s == 2.5 and newest.suite == "crm" and newest.kind == "not_null"
    assert entries[3].error == "boom"
    assert [e.run_id for e in history.recent(limit=1)] == ["run-2", "run-1"]
    assert [e.run_id for e in history.recent(gates=["b"], limit=5)] == ["run-1", "run-0"]
    assert history.recent(gates=["zzz"]) == []
    with pytest.raises(StoreError):
        history.recent(limit=0)
    assert history.recent()[0].to_dict()["run_at"] == "2024-05-01T14:00:00+00:00"


def test_history_in_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store' / 'quarantine.db'}"
    check_history(url)
    # It lives beside the quarantine tables, created by the store's migration 2.
    store = open_store(url)
    assert (2, "quality gate run history") in store.applied_migrations()
    store.close()


def test_history_refuses_in_memory_and_bad_urls() -> None:
    with pytest.raises(ConfigError, match="memory"):
        GateHistory("sqlite:///:memory:")
    with pytest.raises(ConfigError):
        GateHistory("mysql://nope")


def test_unreachable_history_database_is_a_store_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port once the socket is closed.
    with pytest.raises(StoreError):
        GateHistory(f"postgresql://postgres@127.0.0.1:{port}/x?connect_timeout=2")
