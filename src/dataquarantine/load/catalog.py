"""Resolving a contract's ``load:`` section against the PostgreSQL catalog into a LoadPlan.

Everything that can be wrong before a row moves is found here and raised as
:class:`~dataquarantine.errors.ConfigError`: a missing table or column, a conflict key without
a unique index, a reference field that is not a staging column.
"""

from __future__ import annotations

from dataquarantine.contracts.model import ContractSpec, LoadSpec
from dataquarantine.db.connect import Connection
from dataquarantine.errors import ConfigError
from dataquarantine.load.plan import CREATED_AT, LAST_UPDATED_AT, Column, LoadPlan, RefPlan

__all__ = ["columns_of", "regclass", "resolve_plan"]

_MANAGED = (CREATED_AT, LAST_UPDATED_AT)


def regclass(conn: Connection, name: str) -> int | None:
    """The oid of table ``name`` (search_path applies to unqualified names), or ``None``."""
    from dataquarantine.db.url import quote_identifier

    quoted = ".".join(quote_identifier(p) for p in name.split("."))
    row = conn.execute("SELECT to_regclass(%s)::oid", (quoted,)).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def columns_of(conn: Connection, oid: int) -> dict[str, str]:
    """Column name -> ``format_type`` of a table, in column order."""
    rows = conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (oid,),
    ).fetchall()
    return {str(name): str(typ) for name, typ in rows}


def _unique_on(conn: Connection, oid: int, columns: tuple[str, ...]) -> bool:
    """Whether a unique index (non-partial) covers exactly ``columns``."""
    rows = conn.execute(
        "SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_index i "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = %s AND i.indisunique AND i.indpred IS NULL "
        "GROUP BY i.indexrelid",
        (oid,),
    ).fetchall()
    wanted = sorted(columns)
    return any(list(r[0]) == wanted for r in rows)


def _require(conn: Connection, name: str, what: str) -> int:
    oid = regclass(conn, name)
    if oid is None:
        raise ConfigError(f"{what} table {name!r} does not exist (check the schema in --db)")
    return oid


def resolve_plan(conn: Connection, spec: ContractSpec, staging: str) -> LoadPlan:
    """Check the ``load:`` section of ``spec`` against the database; ``staging`` is the table
    rows are read from (the contract's, or the scratch table of a staging file)."""
    load: LoadSpec | None = spec.load
    if load is None:
        raise ConfigError(f"contract {spec.name!r} has no 'load:' section")
    staging_cols = columns_of(conn, _require(conn, staging, "staging"))
    target_oid = _require(conn, load.target, "target")
    target_cols = columns_of(conn, target_oid)

    for k in load.conflict_key:
        for cols, where in ((staging_cols, "staging"), (target_cols, "target")):
            if k not in cols:
                raise ConfigError(f"conflict_key column {k!r} is not a column of the {where}")
    if not _unique_on(conn, target_oid, load.conflict_key):
        raise ConfigError(
            f"target {load.target!r} has no unique index on ({', '.join(load.conflict_key)}): "
            "ON CONFLICT needs one"
        )
    common = [c for c in target_cols if c in staging_cols and c not in _MANAGED]
    non_key = [c for c in common if c not in load.conflict_key]
    update = load.update_columns if load.update_columns is not None else tuple(non_key)
    for c in (*update, *load.track_changes):
        if c not in non_key:
            raise ConfigError(
                f"column {c!r} of update_columns/track_changes is not a non-key column of both "
                "the staging and the target"
            )
    track = load.track_changes
    if track and not set(track) <= set(update):
        raise ConfigError("track_changes columns must be among the updated columns")
    columns = tuple(
        Column(name=c, type=target_cols[c], cast=target_cols[c] != staging_cols[c]) for c in common
    )
    refs: list[RefPlan] = []
    for ref in spec.references:
        field = ref.field.lstrip("/")
        if field not in staging_cols:
            raise ConfigError(
                f"reference field {ref.field!r} is not a column of the staging table {staging!r}"
            )
        parent_oid = _require(conn, ref.table, "referenced")
        parent_cols = columns_of(conn, parent_oid)
        if ref.column not in parent_cols:
            raise ConfigError(f"referenced column {ref.table}.{ref.column} does not exist")
        refs.append(
            RefPlan(
                spec=ref,
                column=field,
                as_text=parent_cols[ref.column] != staging_cols[field],
                distinct=not _unique_on(conn, parent_oid, (ref.column,)),
            )
        )
    return LoadPlan(
        staging=staging,
        target=load.target,
        key=load.conflict_key,
        columns=columns,
        update=tuple(update),
        track=tuple(track),
        refs=tuple(refs),
        has_created_at=CREATED_AT in target_cols,
        has_last_updated_at=LAST_UPDATED_AT in target_cols,
        staging_columns=tuple(staging_cols.items()),
    )
