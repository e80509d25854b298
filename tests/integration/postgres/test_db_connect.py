"""Connections to PostgreSQL through :mod:`dataquarantine.db.connect`: the session is confined
to the URL's schema (quoted, case kept) for every caller, and a failed connection is
classified by the one table of :mod:`dataquarantine.db.errors`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from tests.fixtures.postgres import _free_port, drop_schema, with_schema
from tests.integration.postgres.load_db import contract_dict

from dataquarantine.db.connect import connect, translate, use_schema
from dataquarantine.db.errors import is_transient
from dataquarantine.db.url import PostgresTarget, parse_store_url
from dataquarantine.errors import (
    DatabaseUnavailableError,
    StoreUnavailableError,
    UnsafeIdentifierError,
)
from dataquarantine.gates.model import gates_from_dict
from dataquarantine.gates.runner import GateRunner
from dataquarantine.load.runner import LoadRun
from dataquarantine.quarantine.envelope import QuarantineFilter
from dataquarantine.quarantine.sql import open_store
from dataquarantine.validation.contract import Contract


def _target(url: str) -> PostgresTarget:
    target = parse_store_url(url)
    assert isinstance(target, PostgresTarget)
    return target


@pytest.fixture
def mixed_case_schema(pg_url: str) -> Iterator[str]:
    """A schema whose name needs quoting to keep its case, holding one table ``marker``."""
    schema = f"dq_test_Mixed{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("CREATE TABLE {}.marker (v text)").format(sql.Identifier(schema)))
        conn.execute(
            sql.SQL("INSERT INTO {}.marker VALUES ('here')").format(sql.Identifier(schema))
        )
    yield schema
    drop_schema(pg_url, schema)


@pytest.mark.parametrize("autocommit", [True, False])
def test_connect_sets_search_path_to_the_quoted_schema(
    pg_url: str, mixed_case_schema: str, autocommit: bool
) -> None:
    target = _target(with_schema(pg_url, mixed_case_schema))
    conn = connect(target, autocommit=autocommit, application_name="dq-test")
    try:
        # The session setting is committed, not left in an open transaction.
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert conn.execute("SHOW search_path").fetchone() == (f'"{mixed_case_schema}"',)
        assert conn.execute("SELECT v FROM marker").fetchone() == ("here",)
        assert conn.execute("SELECT current_setting('application_name')").fetchone() == ("dq-test",)
    finally:
        conn.close()


def test_connect_without_schema_keeps_the_default_search_path(pg_url: str) -> None:
    conn = connect(_target(pg_url), autocommit=True, application_name="dq-test")
    try:
        assert conn.execute("SHOW search_path").fetchone() == ('"$user", public',)
    finally:
        conn.close()


def test_store_and_gates_use_the_same_schema(pg_url: str, mixed_case_schema: str) -> None:
    url = with_schema(pg_url, mixed_case_schema)
    store = open_store(url)
    try:
        store.migrate()
        assert store.count(QuarantineFilter()) == 0
    finally:
        store.close()
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = %s AND tablename = 'dq_quarantine'",
            (mixed_case_schema,),
        ).fetchone()
    assert tables == (1,)
    gate = gates_from_dict(
        {"gates": [{"name": "path", "kind": "sql", "sql": "SELECT current_setting('search_path')"}]}
    ).gates[0]
    with GateRunner(url, allow_unrestricted_role=True) as runner:
        result = runner.run_gate(gate)
    assert result.error is None, result.error
    assert result.samples.rows == ((f'"{mixed_case_schema}"',),)


def test_use_schema_refuses_an_unsafe_name(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        with pytest.raises(UnsafeIdentifierError):
            use_schema(conn, 'x"; DROP SCHEMA public; --')
        use_schema(conn, None)  # nothing to do
        assert conn.execute("SHOW search_path").fetchone() == ('"$user", public',)


def test_a_down_server_is_transient_for_every_caller() -> None:
    url = f"postgresql://postgres@127.0.0.1:{_free_port()}/test?schema=dq_test_down"
    target = _target(url)
    with pytest.raises(psycopg.OperationalError) as raised:
        connect(target, autocommit=True, application_name="dq-test", timeout=2)
    assert is_transient(raised.value)
    assert isinstance(translate(raised.value, "metrics"), StoreUnavailableError)
    store = open_store(url)
    with pytest.raises(StoreUnavailableError):
        store.count(QuarantineFilter())
    store.close()
    with pytest.raises(DatabaseUnavailableError):
        LoadRun(Contract.from_dict(contract_dict()), url).run(None)
    with pytest.raises(DatabaseUnavailableError), GateRunner(url, connect_timeout=2):
        pass  # pragma: no cover


def test_refused_credentials_are_classified_as_unavailable(pg_url: str) -> None:
    # What every caller did before the table, kept: libpq reports a refused login with no
    # SQLSTATE, the same OperationalError as a refused connection, so it is retried.
    split = pg_url.split("@", 1)
    url = f"postgresql://dq_no_such_role_{uuid.uuid4().hex[:8]}@{split[1]}"
    target = _target(url)
    with pytest.raises(psycopg.OperationalError) as raised:
        connect(target, autocommit=True, application_name="dq-test")
    assert raised.value.sqlstate is None
    assert is_transient(raised.value)
    store = open_store(url)
    with pytest.raises(StoreUnavailableError):
        store.count(QuarantineFilter())
    store.close()
    with pytest.raises(DatabaseUnavailableError):
        LoadRun(Contract.from_dict(contract_dict()), url).run(None)
    with pytest.raises(DatabaseUnavailableError), GateRunner(url):
        pass  # pragma: no cover
