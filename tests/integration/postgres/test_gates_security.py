"""A gate cannot run programs, read server files or disturb other sessions (real PostgreSQL).

Two layers are tested separately: the statement check refuses before sending, and with the
check disabled the read-only role still makes the server refuse by privilege.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from dataquarantine.db.url import PostgresTarget, parse_store_url
from dataquarantine.errors import ConfigError
from dataquarantine.gates import runner as runner_module
from dataquarantine.gates.model import gates_from_dict
from dataquarantine.gates.role import DEFAULT_GATE_ROLE, ensure_gate_role
from dataquarantine.gates.runner import GateResult, GateRunner, GateStatus


@pytest.fixture
def db(pg_schema_url: str) -> Iterator[tuple[str, psycopg.Connection[Any]]]:
    """A schema with table t (3 rows); the URL and an autocommit superuser connection to it."""
    target = parse_store_url(pg_schema_url)
    assert isinstance(target, PostgresTarget) and target.schema
    conn = psycopg.connect(target.conninfo, autocommit=True)
    conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(target.schema)))
    conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(target.schema)))
    conn.execute("CREATE TABLE t (id int PRIMARY KEY, note text)")
    conn.execute("INSERT INTO t VALUES (1, 'COPY'), (2, 'pg_read_file'), (3, NULL)")
    yield pg_schema_url, conn
    conn.close()


@pytest.fixture
def server_dir(tmp_path: Path) -> Path:
    """A folder the server's OS user can write to (the server runs on this machine in tests)."""
    folder = tmp_path / "server"
    folder.mkdir()
    folder.chmod(0o777)
    for parent in (tmp_path, *tmp_path.parents):
        if parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | 0o011)
    return folder


def run(url: str, **gate: Any) -> GateResult:
    definition = gates_from_dict({"gates": [{"name": "g", **gate}]}).gates[0]
    with GateRunner(url) as runner:
        return runner.run_gate(definition)


def rows_of(conn: psycopg.Connection[Any]) -> Any:
    return conn.execute("SELECT id, note FROM t ORDER BY id").fetchall()


def test_copy_to_program_does_not_run(
    db: tuple[str, psycopg.Connection[Any]], server_dir: Path
) -> None:
    url, conn = db
    control = server_dir / "control"
    # The premise: the superuser the tests connect as can run a program on the server.
    conn.execute(sql.SQL("COPY (SELECT 1) TO PROGRAM {}").format(sql.Literal(f"id > {control}")))
    assert control.exists()
    marker = server_dir / "marker"
    for text in (
        f"COPY (SELECT 1) TO PROGRAM 'id > {marker}'",
        f"/* */COPY (SELECT 1) TO PROGRAM 'id > {marker}'",
        f"copy (select 1) to program $$id > {marker}$$",
        f"(COPY (SELECT 1) TO PROGRAM 'id > {marker}')",
        f"SELECT 1; COPY (SELECT 1) TO PROGRAM 'id > {marker}'",
    ):
        result = run(url, kind="sql", sql=text, expect_rows=0)
        assert result.status is GateStatus.ERROR and result.blocking, text
        assert result.error_code == "unsafe_sql", text
        assert result.error is not None
        assert "COPY" in result.error or "multiple statements" in result.error
    assert not marker.exists()


@pytest.mark.parametrize(
    ("statement", "construct"),
    [
        ("COPY t TO '{dir}/copied.csv'", "COPY"),
        ("COPY (SELECT * FROM t) TO '{dir}/copied.csv' WITH (FORMAT csv)", "COPY"),
        ("SELECT pg_read_file('/etc/passwd')", "pg_read_file()"),
        ("SELECT PG_CATALOG.\"pg_read_file\"('/etc/passwd')", "pg_read_file()"),
        ("SELECT pg_read_binary_file('/etc/passwd')", "pg_read_binary_file()"),
        ("SELECT * FROM pg_ls_dir('/')", "pg_ls_dir()"),
        ("SELECT lo_export(lo_from_bytea(0, 'x'), '{dir}/copied.csv')", "lo_export()"),
        ("SELECT lo_import('/etc/passwd')", "lo_import()"),
        ("SELECT set_config('role', 'none', false)", "set_config()"),
        ("SELECT query_to_xml('DELETE FROM t RETURNING 1', true, true, '')", "query_to_xml()"),
        ("SELECT * INTO copied FROM t", "INTO"),
        ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "DELETE"),
        ("SELECT 1; DROP TABLE t", "multiple statements"),
        ("SELECT 1 --\n; DROP TABLE t", "multiple statements"),
        ("SELECT pg_sleep(1)", "pg_sleep()"),
    ],
)
def test_refused_statements_never_reach_the_server(
    db: tuple[str, psycopg.Connection[Any]], server_dir: Path, statement: str, construct: str
) -> None:
    url, conn = db
    before = rows_of(conn)
    result = run(url, kind="sql", sql=statement.format(dir=server_dir), expect_rows=0)
    assert result.status is GateStatus.ERROR
    assert result.error_code == "unsafe_sql"
    assert result.error is not None and construct.rstrip("()") in result.error
    assert not (server_dir / "copied.csv").exists()
    assert rows_of(conn) == before
    assert conn.execute("SELECT to_regclass('copied')").fetchone() == (None,)


def test_a_where_condition_is_checked_too(db: tuple[str, psycopg.Connection[Any]]) -> None:
    url, _ = db
    for where in (
        "pg_read_file('/etc/passwd') IS NOT NULL",
        "true) OR (SELECT pg_terminate_backend(1)) IS NULL OR (true",
        "id IN (SELECT lo_import('/etc/passwd'))",
    ):
        result = run(url, kind="not_null", table="t", column="note", where=where)
        assert result.error_code == "unsafe_sql", where


def test_another_session_is_not_terminated_or_locked(
    db: tuple[str, psycopg.Connection[Any]], pg_schema_url: str
) -> None:
    url, _ = db
    with psycopg.connect(parse_target(pg_schema_url), autocommit=True) as victim:
        pid = victim.info.backend_pid
        for text in (
            f"SELECT pg_terminate_backend({pid})",
            f"SELECT pg_cancel_backend({pid})",
            f"SELECT pg_catalog.PG_TERMINATE_BACKEND /**/ ({pid})",
        ):
            assert run(url, kind="sql", sql=text).error_code == "unsafe_sql"
        assert victim.execute("SELECT 1").fetchone() == (1,)
        for text in ("SELECT pg_advisory_lock(4242)", "SELECT pg_try_advisory_lock(4242)"):
            assert run(url, kind="sql", sql=text).error_code == "unsafe_sql"
        # Nobody holds the lock: another session gets it at once.
        assert victim.execute("SELECT pg_try_advisory_lock(4242)").fetchone() == (True,)
        victim.execute("SELECT pg_advisory_unlock(4242)")


def parse_target(url: str) -> str:
    target = parse_store_url(url)
    assert isinstance(target, PostgresTarget)
    return target.conninfo


def test_strings_and_names_that_look_dangerous_still_run(
    db: tuple[str, psycopg.Connection[Any]],
) -> None:
    url, _ = db
    result = run(
        url,
        kind="sql",
        sql="SELECT 'COPY (SELECT 1) TO PROGRAM ''id''; ' AS \"copy\", $$pg_read_file('x')$$ AS d,"
        " note AS \"into\" FROM t -- ; DROP TABLE t\nWHERE note IN ('COPY', 'pg_read_file')"
        " /* COPY */ ORDER BY id",
    )
    assert result.status is GateStatus.INFO, result.error
    assert result.samples.columns == ("copy", "d", "into")
    assert [r[2] for r in result.samples.rows] == ["COPY", "pg_read_file"]
    where = run(url, kind="not_null", table="t", column="note", where="'; COPY' <> 'x'")
    assert where.status is GateStatus.FAIL and where.count == 1


@pytest.fixture
def unchecked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Turn the statement check off: what remains is the role and the transaction."""
    monkeypatch.setattr(runner_module, "check_query", lambda text: None)
    monkeypatch.setattr(runner_module, "check_gate", lambda gate: None)


@pytest.mark.usefixtures("unchecked")
def test_without_the_statement_check_the_role_refuses_by_privilege(
    db: tuple[str, psycopg.Connection[Any]], server_dir: Path, pg_schema_url: str
) -> None:
    url, conn = db
    marker = server_dir / "marker"
    oid = conn.execute("SELECT lo_from_bytea(0, 'secret')").fetchone()
    assert oid is not None
    try:
        with psycopg.connect(parse_target(pg_schema_url), autocommit=True) as victim:
            for text, message in (
                (f"COPY (SELECT 1) TO PROGRAM 'id > {marker}'", "pg_execute_server_program"),
                (f"COPY t TO '{marker}'", "pg_write_server_files"),
                ("SELECT pg_read_file('/etc/passwd')", "function pg_read_file"),
                ("SELECT * FROM pg_ls_dir('/')", "function pg_ls_dir"),
                (f"SELECT lo_export({oid[0]}, '{marker}')", "function lo_export"),
                (f"SELECT pg_terminate_backend({victim.info.backend_pid})", "terminate"),
                ("SELECT pg_reload_conf()", "function pg_reload_conf"),
            ):
                result = run(url, kind="sql", sql=text, expect_rows=0)
                assert result.status is GateStatus.ERROR, text
                assert result.error_code == "permission_denied", (text, result.error)
                assert result.error is not None and message in result.error
                assert f"role {DEFAULT_GATE_ROLE}" in result.error
            assert victim.execute("SELECT 1").fetchone() == (1,)
        assert not marker.exists()
        # A write still meets the read-only transaction.
        wrote = run(url, kind="sql", sql="DELETE FROM t RETURNING *", expect_rows=0)
        assert wrote.error is not None and "read-only transaction" in wrote.error
        assert len(rows_of(conn)) == 3
    finally:
        conn.execute("SELECT lo_unlink(%s)", (oid[0],))


# -- choosing the role -----------------------------------------------------------------------


@pytest.fixture
def make_role(pg_url: str) -> Iterator[Any]:
    """Create cluster roles for one test (uniquely named) and drop them afterwards."""
    made: list[str] = []
    admin = psycopg.connect(pg_url, autocommit=True)

    def make(options: str | None = None) -> str:
        name = f"dq_test_role_{uuid.uuid4().hex[:12]}"
        made.append(name)
        if options is not None:
            admin.execute(sql.SQL("CREATE ROLE {} " + options).format(sql.Identifier(name)))
        return name

    yield make
    for name in reversed(made):
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
    admin.close()


def as_user(url: str, user: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


def test_the_role_is_created_when_missing_and_used(
    db: tuple[str, psycopg.Connection[Any]], make_role: Any
) -> None:
    url, conn = db
    role = make_role()
    definition = gates_from_dict(
        {"gates": [{"name": "who", "kind": "sql", "sql": "SELECT current_user"}]}
    ).gates[0]
    with GateRunner(url, role=role) as runner:
        assert runner.gate_role is not None and runner.gate_role.role == role
        assert runner.run_gate(definition).samples.rows == ((role,),)
        assert runner.run_gate(definition).samples.rows == ((role,),)  # not undone
    attributes = conn.execute(
        "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolinherit,"
        " ARRAY(SELECT b.rolname FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid"
        "       WHERE m.member = r.oid)"
        " FROM pg_roles r WHERE rolname = %s",
        (role,),
    ).fetchone()
    assert attributes == (False, False, False, False, True, ["pg_read_all_data"])
    ensure_gate_role(conn, role)  # idempotent


def test_an_unrestricted_existing_role_is_refused(
    db: tuple[str, psycopg.Connection[Any]], make_role: Any
) -> None:
    url, _ = db
    for options in ("NOLOGIN CREATEDB", "NOLOGIN IN ROLE pg_read_server_files"):
        role = make_role(options)
        with pytest.raises(ConfigError, match="refuse to run unrestricted"):
            GateRunner(url, role=role).connect()


def test_a_user_that_may_not_create_roles(
    db: tuple[str, psycopg.Connection[Any]], make_role: Any
) -> None:
    url, conn = db
    schema = url.rsplit("schema=", 1)[1]
    missing = make_role()
    # A login that can signal other sessions, and no way to the gate role: refused...
    risky = make_role("LOGIN IN ROLE pg_read_all_data, pg_signal_backend")
    with pytest.raises(ConfigError, match="pg_signal_backend") as info:
        GateRunner(as_user(url, risky), role=missing).connect()
    assert "gates setup-role" in str(info.value)
    # ...unless allowed, and then it says so.
    with GateRunner(as_user(url, risky), role=missing, allow_unrestricted_role=True) as runner:
        assert runner.gate_role is not None and not runner.gate_role.restricted
        assert runner.gate_role.problems
        result = runner.run_gate(
            gates_from_dict(
                {"gates": [{"name": "n", "kind": "row_count", "table": "t", "min": 3}]}
            ).gates[0]
        )
        assert result.status is GateStatus.PASS
    # A login that may only read runs the gates as itself.
    reader = make_role("LOGIN IN ROLE pg_read_all_data")
    with GateRunner(as_user(url, reader), role=missing) as runner:
        assert runner.gate_role is not None
        assert runner.gate_role.restricted and runner.gate_role.role is None
    # An administrator's setup lets the risky login use the gate role.
    ensure_gate_role(conn, missing)
    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(missing), sql.Identifier(risky)))
    with GateRunner(as_user(url, risky), role=missing) as runner:
        assert runner.gate_role is not None and runner.gate_role.role == missing
    assert schema


def test_the_cli_refuses_without_a_role_and_warns_when_allowed(
    db: tuple[str, psycopg.Connection[Any]], make_role: Any, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from dataquarantine.cli.app import app

    url, _ = db
    risky = make_role("LOGIN IN ROLE pg_read_all_data, pg_signal_backend")
    missing = make_role()
    gates = tmp_path / "gates.yaml"
    gates.write_text("gates:\n  - {name: n, kind: row_count, table: t, min: 1}\n")
    env = {"COLUMNS": "200", "DQ_GATES_ROLE": missing}
    args = ["gates", "run", str(gates), "--db", as_user(url, risky)]
    refused = CliRunner().invoke(app, args, env=env)
    assert refused.exit_code == 2, refused.output
    assert "refuse to run unrestricted" in refused.output
    allowed = CliRunner().invoke(app, [*args, "--allow-unrestricted-role"], env=env)
    assert allowed.exit_code == 0, allowed.output
    assert "WITHOUT a read-only role" in allowed.output


def test_setup_role_command(db: tuple[str, psycopg.Connection[Any]], make_role: Any) -> None:
    from typer.testing import CliRunner

    from dataquarantine.cli.app import app

    url, conn = db
    role = make_role()
    user = make_role("LOGIN")
    args = ["gates", "setup-role", "--db", url, "--role", role, "--grant-to", user]
    for _ in range(2):  # idempotent
        result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert f"gate role {role} is ready" in result.output
    member = conn.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", (user, role)).fetchone()
    assert member == (True,)
    with GateRunner(as_user(url, user), role=role) as runner:
        assert runner.gate_role is not None and runner.gate_role.role == role
    # A user who may not create roles gets a clear refusal.
    denied = CliRunner().invoke(
        app, ["gates", "setup-role", "--db", as_user(url, user), "--role", make_role()]
    )
    assert denied.exit_code == 2
    assert "cannot create or grant the gate role" in denied.output


@pytest.mark.parametrize("value", ["99999999999d", "25d", "9" * 40 + "ms", "0.1ms", "-1s"])
def test_cli_statement_timeout_out_of_range_exits_2(
    db: tuple[str, psycopg.Connection[Any]], tmp_path: Path, value: str
) -> None:
    from typer.testing import CliRunner

    from dataquarantine.cli.app import app

    url, _ = db
    gates = tmp_path / "gates.yaml"
    gates.write_text("gates:\n  - {name: n, kind: row_count, table: t, min: 1}\n")
    result = CliRunner().invoke(
        app, ["gates", "run", str(gates), "--db", url, f"--statement-timeout={value}"]
    )
    assert result.exit_code == 2, result.output
    assert "--statement-timeout" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    gates.write_text(
        "gates:\n  - {name: n, kind: row_count, table: t, min: 1, "
        f"statement_timeout: '{value}'}}\n"
    )
    in_file = CliRunner().invoke(app, ["gates", "run", str(gates), "--db", url])
    assert in_file.exit_code == 2, in_file.output
    assert "statement_timeout" in in_file.output


def test_the_default_role_name_is_the_clis() -> None:
    from dataquarantine.cli.gates import DEFAULT_ROLE

    assert DEFAULT_ROLE == DEFAULT_GATE_ROLE
    assert os.environ.get("DQ_GATES_ROLE") is None


@pytest.mark.parametrize("role", ["x; DROP ROLE postgres", 'x"y', "pg_read_all_data' --", ""])
def test_an_unsafe_role_name_is_refused(db: tuple[str, psycopg.Connection[Any]], role: str) -> None:
    from typer.testing import CliRunner

    from dataquarantine.cli.app import app

    url, _ = db
    with pytest.raises(ConfigError):
        GateRunner(url, role=role).connect()
    result = CliRunner().invoke(app, ["gates", "setup-role", "--db", url, "--role", role])
    assert result.exit_code == 2, result.output
    result = CliRunner().invoke(
        app, ["gates", "setup-role", "--db", url, "--role", "ok_name", "--grant-to", role]
    )
    assert result.exit_code == 2, result.output
