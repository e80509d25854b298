"""Gates are read-only by construction and bounded in time, on real PostgreSQL."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from dataquarantine.db.url import PostgresTarget, parse_store_url
from dataquarantine.errors import ConfigError, DatabaseUnavailableError
from dataquarantine.gates.model import gates_from_dict
from dataquarantine.gates.runner import GateResult, GateRunner, GateStatus


@pytest.fixture
def db(pg_schema_url: str) -> Iterator[tuple[str, psycopg.Connection[Any]]]:
    """A schema with table t (10 rows) and sequence s; the URL and a connection to it."""
    target = parse_store_url(pg_schema_url)
    assert isinstance(target, PostgresTarget) and target.schema
    conn = psycopg.connect(target.conninfo, autocommit=True)
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(target.schema)))
    conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(target.schema)))
    conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    conn.execute("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 10) g")
    conn.execute("CREATE SEQUENCE s")
    conn.execute(
        "CREATE FUNCTION sneaky() RETURNS int LANGUAGE sql AS $$ DELETE FROM t RETURNING 1 $$"
    )
    yield pg_schema_url, conn
    conn.close()


def snapshot(conn: psycopg.Connection[Any]) -> Any:
    return conn.execute(
        "SELECT (SELECT count(*) FROM t), (SELECT string_agg(id || ':' || v, ',' ORDER BY id)"
        " FROM t), (SELECT count(*) FROM pg_class WHERE relnamespace ="
        " current_schema()::regnamespace), (SELECT last_value FROM s)"
    ).fetchone()


def run(url: str, **gate: Any) -> GateResult:
    definition = gates_from_dict({"gates": [{"name": "g", **gate}]}).gates[0]
    with GateRunner(url) as runner:
        return runner.run_gate(definition)


@pytest.mark.parametrize(
    ("statement", "message", "code"),
    [
        ("INSERT INTO t VALUES (99, 'x') RETURNING *", "not 'INSERT'", "unsafe_sql"),
        ("UPDATE t SET v = 'changed' RETURNING *", "not 'UPDATE'", "unsafe_sql"),
        ("DELETE FROM t", "not 'DELETE'", "unsafe_sql"),
        ("CREATE TABLE intruder (a int)", "not 'CREATE'", "unsafe_sql"),
        ("DROP TABLE t", "not 'DROP'", "unsafe_sql"),
        ("TRUNCATE t", "not 'TRUNCATE'", "unsafe_sql"),
        ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "DELETE is not", "unsafe_sql"),
        ("SELECT sneaky()", "cannot execute DELETE in a read-only", "sql_error"),
        ("SELECT nextval('s')", "function nextval() is not allowed", "unsafe_sql"),
        ("SELECT * FROM t FOR UPDATE", "UPDATE is not allowed", "unsafe_sql"),
        ("SELECT * FROM t FOR SHARE", "locking clause", "unsafe_sql"),
        ("COMMIT; DELETE FROM t", "not 'COMMIT'", "unsafe_sql"),
        ("SELECT 1; DELETE FROM t", "a gate runs exactly one statement", "unsafe_sql"),
        (
            "SELECT set_config('transaction_read_only', 'off', true)",
            "function set_config() is not allowed",
            "unsafe_sql",
        ),
        ("SET TRANSACTION READ WRITE", "not 'SET'", "unsafe_sql"),
    ],
)
def test_a_sql_gate_that_writes_fails_and_changes_nothing(
    db: tuple[str, psycopg.Connection[Any]], statement: str, message: str, code: str
) -> None:
    url, conn = db
    before = snapshot(conn)
    result = run(url, kind="sql", sql=statement, expect_rows=0)
    assert result.status is GateStatus.ERROR and result.blocking
    assert result.error is not None and message in result.error
    assert result.error_code == code
    assert result.count is None
    assert snapshot(conn) == before


def test_where_text_cannot_smuggle_a_second_statement(
    db: tuple[str, psycopg.Connection[Any]],
) -> None:
    url, conn = db
    before = snapshot(conn)
    result = run(url, kind="not_null", table="t", column="v", where="true); DELETE FROM t; --")
    assert result.status is GateStatus.ERROR
    assert snapshot(conn) == before


def test_session_changes_of_a_gate_are_rolled_back(db: tuple[str, psycopg.Connection[Any]]) -> None:
    url, _ = db
    gates = gates_from_dict(
        {
            "gates": [
                {
                    "name": "moves",
                    "kind": "sql",
                    "expect_rows": 0,
                    "sql": "SELECT set_config('search_path', 'pg_catalog', false) WHERE false",
                },
                {"name": "still_here", "kind": "row_count", "table": "t", "min": 10},
                {
                    "name": "settings",
                    "kind": "sql",
                    "sql": "SELECT current_setting('transaction_read_only') AS ro,"
                    " current_setting('transaction_isolation') AS iso, current_user AS who,"
                    " current_setting('lock_timeout') AS lock,"
                    " current_setting('idle_in_transaction_session_timeout') AS idle",
                },
            ]
        }
    )
    with GateRunner(url, statement_timeout=timedelta(seconds=7)) as runner:
        results = runner.run(gates.gates)
    assert [r.status for r in results.results] == [
        GateStatus.ERROR,  # refused: set_config
        GateStatus.PASS,
        GateStatus.INFO,
    ]
    assert results.results[2].samples.rows == (
        ("on", "repeatable read", "dataquarantine_gate_reader", "5s", "7s"),
    )


#: A query that runs until cancelled, without pg_sleep (which gates may not call).
SLOW = (
    "SELECT 1 FROM generate_series(1, 1000000) a, generate_series(1, 1000000) b"
    " LIMIT 1 OFFSET 999999999999"
)


def test_statement_timeout(db: tuple[str, psycopg.Connection[Any]]) -> None:
    url, _ = db
    gates = gates_from_dict(
        {
            "gates": [
                {
                    "name": "slow",
                    "kind": "sql",
                    "expect_rows": 0,
                    "sql": SLOW,
                    "statement_timeout": "200ms",
                },
                {
                    "name": "slow_default",
                    "kind": "sql",
                    "expect_rows": 0,
                    "sql": SLOW,
                },
                {"name": "after", "kind": "row_count", "table": "t", "min": 1},
            ]
        }
    )
    with GateRunner(url, statement_timeout=timedelta(milliseconds=300)) as runner:
        slow, slow_default, after = runner.run(gates.gates).results
    assert slow.status is GateStatus.ERROR
    assert slow.error == (
        "statement timeout (200ms) exceeded: canceling statement due to statement timeout"
    )
    assert 0.2 <= slow.duration_s < 2
    assert slow.error_code == "timeout"
    assert slow_default.error is not None and "(300ms)" in slow_default.error
    assert after.status is GateStatus.PASS  # the connection is still usable


def test_errors_of_a_gate_are_results(db: tuple[str, psycopg.Connection[Any]]) -> None:
    url, _ = db
    missing = run(url, kind="not_null", table="Nope", column="c")
    assert missing.status is GateStatus.ERROR
    assert missing.error is not None and 'relation "Nope" does not exist' in missing.error
    syntax = run(url, kind="sql", sql="SELECT 1 FROM", expect_rows=0)
    assert syntax.error is not None and syntax.error.startswith("[42601] syntax error")
    assert syntax.error_code == "sql_error"
    column = run(url, kind="not_null", table="t", column="nope", severity="informational")
    assert column.status is GateStatus.ERROR and not column.blocking


def test_schema_parameter_sets_the_search_path(
    db: tuple[str, psycopg.Connection[Any]], pg_url: str
) -> None:
    url, _ = db
    assert run(url, kind="row_count", table="t", min=10, max=10).status is GateStatus.PASS
    schema = url.rsplit("schema=", 1)[1]
    qualified = run(pg_url, kind="row_count", table=f"{schema}.t", min=10, max=10)
    assert qualified.status is GateStatus.PASS
    with pytest.raises(ConfigError, match="schema 'dq_test_missing' does not exist"):
        GateRunner(f"{pg_url}?schema=dq_test_missing").connect()


def test_connection_and_url_errors() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DatabaseUnavailableError, match="cannot connect"):
        GateRunner(f"postgresql://postgres@127.0.0.1:{port}/x", connect_timeout=2).connect()
    with pytest.raises(ConfigError, match="PostgreSQL"):
        GateRunner("sqlite:///x.db")
    with pytest.raises(ConfigError):
        GateRunner("postgresql://h/db?schema=x;drop")
