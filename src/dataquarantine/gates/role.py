"""The role gates run as: one that may only read, so a gate cannot do more even if it tried.

Every gate transaction does ``SET LOCAL ROLE`` to :data:`DEFAULT_GATE_ROLE` (``NOLOGIN``, no
superuser or other attributes, member of ``pg_read_all_data`` only; PostgreSQL 14+). Functions
that need a superuser or a server-file role (``pg_read_file``, ``COPY ... TO PROGRAM``,
``lo_export``, signalling other sessions) then fail by privilege. How the role is chosen when a
run starts (:func:`choose_role`):

1. the configured role exists: it must be restricted (see :func:`restriction_problems`) and
   the connecting user must be able to ``SET ROLE`` to it;
2. it does not exist and the connecting user may create roles: it is created (idempotent,
   :func:`ensure_gate_role`, also ``dataquarantine gates setup-role``);
3. otherwise, a connecting user that is itself restricted runs the gates as itself;
4. otherwise the run is refused (ConfigError), unless the caller allows an unrestricted role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from dataquarantine.db.url import validate_identifier
from dataquarantine.errors import ConfigError

__all__ = [
    "DANGEROUS_ROLES",
    "DEFAULT_GATE_ROLE",
    "GateRole",
    "choose_role",
    "ensure_gate_role",
    "restriction_problems",
]

DEFAULT_GATE_ROLE = "dataquarantine_gate_reader"
#: Predefined roles that reach beyond reading the database (files, programs, other sessions).
DANGEROUS_ROLES = (
    "pg_execute_server_program",
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_signal_backend",
    "pg_write_all_data",
)

Connection = psycopg.Connection[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class GateRole:
    """How gates run: as ``role`` after ``SET LOCAL ROLE`` (None: as the connecting user),
    and whether that is restricted (False only when the caller allowed it)."""

    role: str | None
    restricted: bool
    #: Why the run is not restricted (shown as a warning), else empty.
    problems: tuple[str, ...] = ()


def restriction_problems(conn: Connection, role: str) -> list[str]:
    """What makes ``role`` more than a reader (empty when it is restricted)."""
    row = conn.execute(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls"
        " FROM pg_roles WHERE rolname = %s",
        (role,),
    ).fetchone()
    if row is None:
        return [f"role {role!r} does not exist"]
    names = ("SUPERUSER", "CREATEROLE", "CREATEDB", "REPLICATION", "BYPASSRLS")
    problems = [f"role {role!r} has {n}" for n, on in zip(names, row, strict=True) if on]
    for dangerous in DANGEROUS_ROLES:
        member = conn.execute(
            "SELECT to_regrole(%s) IS NOT NULL AND pg_has_role(%s, %s, 'USAGE')",
            (dangerous, role, dangerous),
        ).fetchone()
        if member and member[0]:
            problems.append(f"role {role!r} has the privileges of {dangerous}")
    return problems


def _may_create_roles(conn: Connection) -> bool:
    row = conn.execute(
        "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    return bool(row and row[0])


def ensure_gate_role(conn: Connection, role: str = DEFAULT_GATE_ROLE) -> None:
    """Create ``role`` (``NOLOGIN``, member of ``pg_read_all_data`` only) if it is missing and
    let the connecting user ``SET ROLE`` to it; idempotent, committed. ConfigError when the
    user may not, or when an existing role of that name is not restricted."""
    validate_identifier(role)
    name = sql.Identifier(role)
    try:
        with conn.transaction():
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            if not exists:
                try:
                    with conn.transaction():
                        conn.execute(
                            sql.SQL(
                                "CREATE ROLE {} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"
                                " NOREPLICATION NOBYPASSRLS INHERIT"
                            ).format(name)
                        )
                except pg_errors.DuplicateObject:
                    pass  # created by a concurrent run
            conn.execute(sql.SQL("GRANT pg_read_all_data TO {}").format(name))
            member = conn.execute(
                "SELECT pg_has_role(current_user, %s, 'MEMBER')", (role,)
            ).fetchone()
            if not (member and member[0]):
                conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(name))
    except pg_errors.InsufficientPrivilege as exc:
        raise ConfigError(
            f"cannot create or grant the gate role {role!r}: {exc.diag.message_primary}; "
            "a database administrator can run `dataquarantine gates setup-role`"
        ) from exc
    except pg_errors.UndefinedObject as exc:
        raise ConfigError(
            f"cannot set up the gate role {role!r}: {exc.diag.message_primary} "
            "(pg_read_all_data needs PostgreSQL 14 or later)"
        ) from exc
    problems = restriction_problems(conn, role)
    conn.rollback()
    if problems:
        raise ConfigError("the gate role is not restricted: " + "; ".join(problems))


def choose_role(conn: Connection, role: str, *, allow_unrestricted: bool) -> GateRole:
    """The role gates run as on ``conn`` (see the module's docstring). Leaves ``conn`` idle."""
    validate_identifier(role)
    try:
        problems: list[str] = []
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if exists is None and _may_create_roles(conn):
            conn.rollback()
            try:
                ensure_gate_role(conn, role)
                exists = (1,)
            except ConfigError as exc:
                conn.rollback()
                problems.append(str(exc))
        if exists is not None:
            problems = restriction_problems(conn, role)
            member = conn.execute(
                "SELECT pg_has_role(current_user, %s, 'MEMBER')", (role,)
            ).fetchone()
            if not (member and member[0]):
                problems.append(f"the connecting user may not SET ROLE {role}")
            if not problems:
                return GateRole(role, restricted=True)
        own = conn.execute("SELECT current_user").fetchone()
        user = str(own[0]) if own else "?"
        own_problems = restriction_problems(conn, user)
        if not own_problems:
            return GateRole(None, restricted=True)
    finally:
        if not conn.closed:
            conn.rollback()
    reasons = tuple(problems + own_problems) or (f"role {role!r} does not exist",)
    if allow_unrestricted:
        return GateRole(None, restricted=False, problems=reasons)
    raise ConfigError(
        f"gates refuse to run unrestricted: {'; '.join(reasons)}. Run `dataquarantine gates "
        f"setup-role` as an administrator (creates {role!r}, a member of pg_read_all_data only, "
        "and grants it to the connecting user), connect as a user with only read privileges, "
        "or pass --allow-unrestricted-role to rely on the statement check alone"
    )
