"""The SQL of a batch load, built from a resolved :class:`LoadPlan`.

Every name comes from the contract (checked by ``IDENTIFIER_RE`` there, and again here) or from
the catalog, and goes into SQL as a quoted :class:`psycopg.sql.Identifier`; every value is a
bind parameter. Type names come from ``format_type()`` in the catalog, never from the contract.

A batch is a range of heap pages of the staging table (``ctid >= '(lo,0)' AND ctid <
'(hi,0)'``, a TID range scan): no sort, no index, and the same rows on a resumed run.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from psycopg import sql

from dataquarantine.contracts.model import ReferenceSpec
from dataquarantine.db.url import validate_identifier

__all__ = [
    "CHECKPOINTS_TABLE",
    "QUARANTINE_TABLE",
    "Column",
    "ColumnKind",
    "LoadPlan",
    "RefPlan",
    "RowColumn",
    "base_type",
    "checkpoints_ddl",
    "ident",
    "quarantine_ddl",
]

QUARANTINE_TABLE = "data_quality_quarantine"
CHECKPOINTS_TABLE = "dq_load_checkpoints"
#: Target columns the load maintains itself (never copied from staging).
CREATED_AT, LAST_UPDATED_AT = "created_at", "last_updated_at"


def ident(name: str) -> sql.Identifier:
    """A possibly schema-qualified name as a quoted identifier (each part validated)."""
    return sql.Identifier(*(validate_identifier(part) for part in name.split(".")))


_TEXT_TYPES = frozenset({"text", "character varying", "character", "name"})
#: Types psycopg returns as the Python value their JSON rendering decodes to.
_NATIVE_TYPES = frozenset({"smallint", "integer", "bigint", "double precision", "real", "boolean"})
#: Types whose JSON rendering is a string (ISO dates and times, uuids).
_STRING_TYPES = frozenset(
    {
        "timestamp with time zone",
        "timestamp without time zone",
        "date",
        "time without time zone",
        "time with time zone",
        "uuid",
    }
)


def base_type(typ: str) -> str:
    """``character varying(20)`` -> ``character varying``; ``timestamp(3) with time zone`` ->
    ``timestamp with time zone``."""
    head, _, rest = typ.partition("(")
    if not rest:
        return typ
    return (head + rest.partition(")")[2]).strip()


class ColumnKind(StrEnum):
    NATIVE = "native"
    STRING = "string"
    JSON = "json"


@dataclass(frozen=True, slots=True)
class RowColumn:
    name: str
    kind: ColumnKind


@dataclass(frozen=True, slots=True)
class Column:
    """A target column filled from the staging column of the same name."""

    name: str
    #: The target's type (``format_type``), used to cast when staging's type differs.
    type: str
    cast: bool


@dataclass(frozen=True, slots=True)
class RefPlan:
    """One ``references:`` entry resolved against the catalog."""

    spec: ReferenceSpec
    #: The staging column holding the reference (the spec's field, a top-level column).
    column: str
    #: Compare as ``text`` (the staging and parent types differ).
    as_text: bool
    #: The parent column is not known to be unique: join its DISTINCT values.
    distinct: bool


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """Names and columns of one load, resolved against the catalog."""

    staging: str
    target: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    update: tuple[str, ...]
    track: tuple[str, ...]
    refs: tuple[RefPlan, ...]
    has_created_at: bool
    has_last_updated_at: bool
    #: Every staging column with its type, in column order: what a row looks like.
    staging_columns: tuple[tuple[str, str], ...] = ()

    @property
    def history(self) -> str:
        return f"{self.target}_history"

    @property
    def staging_text(self) -> tuple[str, ...]:
        """Staging columns of a text type (their values reach the engine as strings)."""
        return tuple(n for n, t in self.staging_columns if base_type(t) in _TEXT_TYPES)

    def row_columns(self) -> tuple[RowColumn, ...]:
        """How each staging column reaches Python: as the driver's value, as an ISO string,
        or as JSON text to decode (the JSON value ``row_to_json`` would give)."""
        out: list[RowColumn] = []
        for name, typ in self.staging_columns:
            base = base_type(typ)
            if base in _NATIVE_TYPES or base in _TEXT_TYPES:
                out.append(RowColumn(name, ColumnKind.NATIVE))
            elif base in _STRING_TYPES:
                out.append(RowColumn(name, ColumnKind.STRING))
            else:
                out.append(RowColumn(name, ColumnKind.JSON))
        return tuple(out)

    # -- the check pass (reader side) ---------------------------------------------------------

    def size(self) -> sql.SQL:
        """Heap pages of the staging table now, and its pages and rows at its last ``ANALYZE``
        or ``VACUUM`` (parameter: its oid); the batches are cut from these."""
        return sql.SQL(
            "SELECT pg_relation_size(c.oid) / current_setting('block_size')::bigint,"
            " c.relpages, c.reltuples FROM pg_class c WHERE c.oid = %s::oid"
        )

    def row_count(self) -> sql.Composed:
        """Rows of the staging table, for a table never analyzed (one scan; per-page counts
        would cost a ctid-to-text cast per row)."""
        return sql.SQL("SELECT count(*) FROM {}").format(ident(self.staging))

    def check(self, surely_valid: sql.Composable | None = None) -> sql.Composed:
        """One pass over a batch: the staging columns as :meth:`row_columns` says, then ctid,
        key text, "some parent missing", and one "parent missing" flag per reference
        (``LEFT JOIN parent ...`` with ``parent IS NULL``).

        With ``surely_valid`` (a predicate from :mod:`.pushdown`), only the suspects are
        returned (a parent missing, a null key, or the predicate not true), with the
        predicate's verdict as a last column."""
        joins: list[sql.Composable] = []
        flags: list[sql.Composable] = []
        for i, ref in enumerate(self.refs):
            alias = sql.Identifier(f"dq_p{i}")
            col = sql.Identifier(ref.spec.column)
            parent: sql.Composable = ident(ref.spec.table)
            if ref.distinct:
                parent = sql.SQL("(SELECT DISTINCT {} FROM {})").format(col, parent)
            field = sql.SQL("s.{}").format(sql.Identifier(ref.column))
            pcol = sql.SQL("{}.{}").format(alias, col)
            on = (
                sql.SQL("{}::text = {}::text").format(pcol, field)
                if ref.as_text
                else sql.SQL("{} = {}").format(pcol, field)
            )
            joins.append(sql.SQL(" LEFT JOIN {} {} ON {}").format(parent, alias, on))
            flags.append(sql.SQL("({} IS NOT NULL AND {} IS NULL)").format(field, pcol))
        cols: list[sql.Composable] = []
        for rc in self.row_columns():
            expr: sql.Composable = sql.SQL("s.{}").format(sql.Identifier(rc.name))
            if rc.kind is ColumnKind.STRING:
                expr = sql.SQL("to_json({}) #>> '{{}}'").format(expr)
            elif rc.kind is ColumnKind.JSON:
                expr = sql.SQL("to_json({})::text").format(expr)
            cols.append(expr)
        any_flag = sql.SQL(" OR ").join(flags) if flags else sql.SQL("false")
        suspects: sql.Composable = sql.SQL("")
        if surely_valid is not None:
            # The predicate's verdict goes last: the engine can skip the rows it proves valid.
            flags.append(sql.SQL("({}) IS TRUE").format(surely_valid))
            suspects = sql.SQL(" AND ({} OR {} IS NULL OR ({}) IS NOT TRUE)").format(
                any_flag, self._key_text(), surely_valid
            )
        return sql.SQL(
            "SELECT {cols}, s.ctid::text, {key}, {any_flag}{flags} FROM {staging} s{joins} "
            "WHERE s.ctid >= %s::tid AND s.ctid < %s::tid{suspects}"
        ).format(
            suspects=suspects,
            key=self._key_text(),
            any_flag=any_flag,
            flags=sql.SQL("").join(sql.SQL(", ") + f for f in flags),
            cols=sql.SQL(", ").join(cols),
            staging=ident(self.staging),
            joins=sql.SQL("").join(joins),
        )

    def _key_text(self) -> sql.Composable:
        cols = [sql.SQL("s.{}").format(sql.Identifier(k)) for k in self.key]
        if len(cols) == 1:
            return sql.SQL("{}::text").format(cols[0])
        any_null = sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(c) for c in cols)
        return sql.SQL("CASE WHEN {} THEN NULL ELSE json_build_array({})::text END").format(
            any_null, sql.SQL(", ").join(cols)
        )

    # -- the write pass (writer side) ---------------------------------------------------------

    def count(self) -> sql.Composed:
        """Rows of pages ``[%s, %s)``: the writer's side of the read = loaded + quarantined
        reconciliation after an upsert (a TID range scan, cheap); a plain insert's row count
        serves otherwise."""
        return sql.SQL("SELECT count(*) FROM {} WHERE ctid >= %s::tid AND ctid < %s::tid").format(
            ident(self.staging)
        )

    def _insert_head(self) -> tuple[list[sql.Composable], list[sql.Composable]]:
        """The target's columns and the staging expressions that fill them (casts, stamps)."""
        src_cols = sql.SQL(", ").join(
            sql.SQL("CAST(s.{} AS {})").format(sql.Identifier(c.name), sql.SQL(c.type))
            if c.cast
            else sql.SQL("s.{}").format(sql.Identifier(c.name))
            for c in self.columns
        )
        insert_cols: list[sql.Composable] = [sql.Identifier(c.name) for c in self.columns]
        values: list[sql.Composable] = [src_cols]
        if self.has_created_at:
            insert_cols.append(sql.Identifier(CREATED_AT))
            values.append(sql.SQL("now()"))
        if self.has_last_updated_at:
            insert_cols.append(sql.Identifier(LAST_UPDATED_AT))
            values.append(sql.SQL("now()"))
        return insert_cols, values

    def insert_new(self) -> sql.Composed:
        """The optimistic write of a batch: a plain ``INSERT … SELECT`` of the rows not in
        ``dq_bad`` (parameters: page range). It fails with a unique violation as soon as one
        key is already in the target (or twice in the batch); the caller then rolls back to a
        savepoint and upserts instead. A plain insert costs about 0.6 of the upsert, which
        inserts speculatively and confirms every row."""
        insert_cols, values = self._insert_head()
        return sql.SQL(
            "INSERT INTO {target} ({insert_cols}) SELECT {values} FROM {staging} s"
            " WHERE s.ctid >= %s::tid AND s.ctid < %s::tid"
            " AND NOT EXISTS (SELECT 1 FROM dq_bad b WHERE b.rid = s.ctid)"
        ).format(
            target=ident(self.target),
            insert_cols=sql.SQL(", ").join(insert_cols),
            values=sql.SQL(", ").join(values),
            staging=ident(self.staging),
        )

    def supersede(self) -> sql.Composed:
        """Add to ``dq_bad`` every row of the batch (not already there) whose key comes again
        later in it, so that the last one is upserted (parameters: page range). Only
        needed when the check pass did not see every key (see :mod:`.pushdown`)."""
        key = sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(k)) for k in self.key)
        not_null = sql.SQL(" AND ").join(
            sql.SQL("s.{} IS NOT NULL").format(sql.Identifier(k)) for k in self.key
        )
        return sql.SQL(
            "INSERT INTO dq_bad (rid) SELECT d.rid FROM ("
            " SELECT s.ctid AS rid, row_number() OVER (PARTITION BY {key} ORDER BY s.ctid DESC)"
            " AS dq_n FROM {staging} s WHERE s.ctid >= %s::tid AND s.ctid < %s::tid AND {not_null}"
            " AND NOT EXISTS (SELECT 1 FROM dq_bad b WHERE b.rid = s.ctid)"
            ") d WHERE d.dq_n > 1"
        ).format(key=key, staging=ident(self.staging), not_null=not_null)

    def upsert(self) -> sql.Composed:
        """Upsert the rows of a batch that are not in the temp table ``dq_bad``, and write
        history, in one statement.

        Parameters: page range (lo, hi), then run_id when columns are tracked. Returns one
        row: inserted, updated, history rows. A row whose updated columns are all equal is
        left alone (``IS DISTINCT FROM`` in the conflict's WHERE) and not returned.
        """
        key = [sql.Identifier(k) for k in self.key]
        insert_cols, values = self._insert_head()
        sets = [
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c))
            for c in (*self.update, *((LAST_UPDATED_AT,) if self.has_last_updated_at else ()))
        ]
        conflict: sql.Composable
        if self.update:
            t_row = sql.SQL(", ").join(
                sql.SQL("t.{}").format(sql.Identifier(c)) for c in self.update
            )
            e_row = sql.SQL(", ").join(
                sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in self.update
            )
            conflict = sql.SQL("DO UPDATE SET {} WHERE ROW({}) IS DISTINCT FROM ROW({})").format(
                sql.SQL(", ").join(sets), t_row, e_row
            )
        else:
            conflict = sql.SQL("DO NOTHING")
        returning: list[sql.Composable] = []
        if self.track:  # the history needs the key and the new values
            returning += [sql.SQL("t.{}").format(k) for k in key]
            returning += [sql.SQL("t.{}").format(sql.Identifier(c)) for c in self.track]
        returning.append(sql.SQL("(t.xmax = 0) AS dq_inserted"))
        query = sql.SQL(
            "WITH up AS ("
            " INSERT INTO {target} AS t ({insert_cols}) SELECT {values} FROM {staging} s"
            " WHERE s.ctid >= %s::tid AND s.ctid < %s::tid"
            " AND NOT EXISTS (SELECT 1 FROM dq_bad b WHERE b.rid = s.ctid)"
            " ON CONFLICT ({key}) {conflict}"
            " RETURNING {returning}"
            "){history} "
            "SELECT count(*) FILTER (WHERE dq_inserted), count(*) FILTER (WHERE NOT dq_inserted),"
            " {history_count} FROM up"
        )
        return query.format(
            staging=ident(self.staging),
            key=sql.SQL(", ").join(key),
            target=ident(self.target),
            insert_cols=sql.SQL(", ").join(insert_cols),
            values=sql.SQL(", ").join(values),
            conflict=conflict,
            returning=sql.SQL(", ").join(returning),
            history=self._history_cte(),
            history_count=sql.SQL("(SELECT count(*) FROM hist)" if self.track else "0"),
        )

    def _history_cte(self) -> sql.Composable:
        if not self.track:
            return sql.SQL("")
        key = [sql.Identifier(k) for k in self.key]
        on = sql.SQL(" AND ").join(sql.SQL("o.{0} = up.{0}").format(k) for k in key)
        old_cols = sql.SQL(", ").join(
            sql.SQL("o.{0} AS {1}").format(sql.Identifier(c), sql.Identifier(f"dq_old_{i}"))
            for i, c in enumerate(self.track)
        )
        changes = sql.SQL(", ").join(
            sql.SQL("({}, old.{}::text, old.{}::text)").format(
                sql.Literal(c), sql.Identifier(f"dq_old_{i}"), sql.Identifier(c)
            )
            for i, c in enumerate(self.track)
        )
        return sql.SQL(
            ", old AS ("
            " SELECT up.*, {old_cols} FROM up JOIN {target} o ON {on} WHERE NOT up.dq_inserted"
            "), hist AS ("
            " INSERT INTO {history} ({key}, column_name, old_value, new_value, changed_at, run_id)"
            " SELECT {old_key}, v.col, v.old_value, v.new_value, now(), %s"
            " FROM old CROSS JOIN LATERAL (VALUES {changes}) AS v(col, old_value, new_value)"
            " WHERE v.old_value IS DISTINCT FROM v.new_value RETURNING 1"
            ")"
        ).format(
            old_cols=old_cols,
            target=ident(self.target),
            on=on,
            history=ident(self.history),
            key=sql.SQL(", ").join(key),
            old_key=sql.SQL(", ").join(sql.SQL("old.{}").format(k) for k in key),
            changes=changes,
        )

    def history_ddl(self) -> sql.Composed:
        """``<target>_history``: key columns (target types), column, old, new, when, run."""
        by_name = {c.name: c for c in self.columns}
        key_defs = sql.SQL(", ").join(
            sql.SQL("{} {} NOT NULL").format(sql.Identifier(k), sql.SQL(by_name[k].type))
            for k in self.key
        )
        return sql.SQL(
            "CREATE TABLE IF NOT EXISTS {history} ("
            " history_id bigserial PRIMARY KEY, {key_defs}, column_name text NOT NULL,"
            " old_value text, new_value text, changed_at timestamptz NOT NULL DEFAULT now(),"
            " run_id text NOT NULL)"
        ).format(history=ident(self.history), key_defs=key_defs)


def quarantine_ddl(table: str = QUARANTINE_TABLE) -> sql.Composed:
    """The seed's quarantine table, plus ``detail`` (errors, missing references), the source
    key, the contract and the run. ``id`` is the envelope's deterministic id: idempotent."""
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {} ("
        " id uuid PRIMARY KEY, table_name text NOT NULL, issue_type text NOT NULL,"
        " record_data jsonb NOT NULL, quarantined_at timestamptz NOT NULL DEFAULT now(),"
        " resolved boolean NOT NULL DEFAULT false, detail jsonb NOT NULL DEFAULT '{{}}',"
        " source_table text, source_key text, contract text, run_id text)"
    ).format(ident(table))


def checkpoints_ddl(table: str = CHECKPOINTS_TABLE) -> sql.Composed:
    """One row per committed batch (and a final ``done`` row per completed run)."""
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {} ("
        " run_id text NOT NULL, batch_no integer NOT NULL, contract text NOT NULL,"
        " contract_version text NOT NULL, staging text NOT NULL, target text NOT NULL,"
        " page_start bigint NOT NULL, page_end bigint NOT NULL,"
        " rows_read bigint NOT NULL DEFAULT 0, inserted bigint NOT NULL DEFAULT 0,"
        " updated bigint NOT NULL DEFAULT 0, unchanged bigint NOT NULL DEFAULT 0,"
        " superseded bigint NOT NULL DEFAULT 0, quarantined jsonb NOT NULL DEFAULT '{{}}',"
        " history_rows bigint NOT NULL DEFAULT 0, done boolean NOT NULL DEFAULT false,"
        " committed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (run_id, batch_no))"
    ).format(ident(table))
