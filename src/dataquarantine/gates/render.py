"""Gates to SQL: the query of a gate's violating rows, and the one query that counts them.

Identifiers are validated by the model and quoted here with :class:`psycopg.sql.Identifier`
(so ``Lead`` stays ``"Lead"``, case kept); numbers are literals. The only text pasted as is
is the user's own SQL: ``where:`` (in parentheses, on its own line so a trailing ``--``
comment cannot swallow ours) and ``sql:``.
"""

from __future__ import annotations

from psycopg import sql

from dataquarantine.gates.model import (
    FreshnessGate,
    Gate,
    MaxPerKeyGate,
    NotNullGate,
    RelationshipGate,
    RowCountGate,
    SqlGate,
    UniqueGate,
)

__all__ = [
    "SAMPLE_INDEX_COLUMN",
    "RowGate",
    "as_text",
    "checked_query",
    "count_query",
    "fetch_query",
    "probe_query",
    "row_table",
    "sample_query",
    "violations_query",
]

#: Numbers the sampled rows; removed from the samples before anyone sees them.
SAMPLE_INDEX_COLUMN = "dq_sample_index"


def _table(name: str) -> sql.Identifier:
    return sql.Identifier(*name.split("."))


def _col(alias: str, column: str) -> sql.Composed:
    # Aliases are our own constants (t, c, p, ...); only the column comes from the file.
    return sql.SQL("{}.{}").format(sql.SQL(alias), sql.Identifier(column))


def _user(text: str) -> sql.Composed:
    return sql.SQL("(") + sql.SQL(text) + sql.SQL("\n)")


def _where(conditions: list[sql.Composable]) -> sql.Composable:
    if not conditions:
        return sql.SQL("")
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions)


#: Gates whose violations are rows of one table: counted first, sampled after (see runner).
RowGate = NotNullGate | RelationshipGate


def _row_parts(gate: RowGate) -> tuple[str, str, list[sql.Composable]]:
    """``(table, alias, conditions)``: the violating rows are ``alias`` rows meeting them all."""
    if isinstance(gate, NotNullGate):
        conditions: list[sql.Composable] = [sql.SQL("{} IS NULL").format(_col("t", gate.column))]
        if gate.where:
            conditions.append(_user(gate.where))
        return gate.table, "t", conditions
    child = _col("c", gate.child.column)
    conditions = [sql.SQL("{} IS NOT NULL").format(child)]
    if gate.where:
        conditions.append(_user(gate.where))
    conditions.append(
        sql.SQL("NOT EXISTS (SELECT 1 FROM {} AS p WHERE {} = {})").format(
            _table(gate.parent.table), _col("p", gate.parent.column), child
        )
    )
    return gate.child.table, "c", conditions


def _rows(gate: RowGate, extra: list[sql.Composable] | None = None) -> sql.Composed:
    table, alias, conditions = _row_parts(gate)
    return sql.SQL("SELECT {}.* FROM {} AS {}").format(
        sql.SQL(alias), _table(table), sql.SQL(alias)
    ) + _where(conditions + (extra or []))


def row_table(gate: RowGate) -> str:
    """The table whose rows the gate checks, quoted (for ``to_regclass``)."""
    return as_text(_table(_row_parts(gate)[0]))


def _block(number: int) -> sql.Composable:
    """The ``ctid`` where block ``number`` starts."""
    return sql.SQL("{}::tid").format(sql.Literal(f"({number},0)"))


def count_query(gate: RowGate, *, after_block: int | None = None) -> sql.Composed:
    """``count(*)`` of the violating rows; with ``after_block`` also the first violating
    ``ctid`` at or after that block and the last one.

    Plain aggregates, so PostgreSQL counts in parallel exactly as a hand-written
    ``SELECT count(*)`` does (``min``/``max`` of ``tid`` combine in parallel from 14 on).
    """
    table, alias, conditions = _row_parts(gate)
    a = sql.SQL(alias)
    if after_block is None:
        what: sql.Composable = sql.SQL("count(*)")
    else:
        what = sql.SQL(
            "count(*), min({a}.ctid) FILTER (WHERE {a}.ctid >= {b}), max({a}.ctid)"
        ).format(a=a, b=_block(after_block))
    return sql.SQL("SELECT {} FROM {} AS {}").format(what, _table(table), a) + _where(conditions)


def _json_rows(rows: sql.Composed) -> sql.Composed:
    return sql.SQL("SELECT json_agg(s) FROM ({}) AS s").format(rows)


def probe_query(
    gate: RowGate, sample_size: int, *, before_block: int, from_tid: str | None = None
) -> sql.Composed:
    """A JSON array of up to ``sample_size`` violating rows from ``from_tid`` (default: the
    start) up to block ``before_block``: a TID range scan reads only that part of the table."""
    alias = sql.SQL(_row_parts(gate)[1])
    bounds: list[sql.Composable] = []
    if from_tid is not None:
        bounds.append(sql.SQL("{}.ctid >= {}::tid").format(alias, sql.Literal(from_tid)))
    bounds.append(sql.SQL("{}.ctid < {}").format(alias, _block(before_block)))
    limit = sql.SQL(" LIMIT {}").format(sql.Literal(sample_size))
    return _json_rows(_rows(gate, bounds) + limit)


def fetch_query(gate: RowGate, tids: list[str]) -> sql.Composed:
    """A JSON array of the violating rows at ``tids`` (a TID scan)."""
    alias = sql.SQL(_row_parts(gate)[1])
    wanted = sql.SQL(", ").join(sql.Literal(t) for t in tids)
    at = sql.SQL("{}.ctid = ANY (ARRAY[{}]::tid[])").format(alias, wanted)
    return _json_rows(_rows(gate, [at]))


def sample_query(gate: RowGate, sample_size: int) -> sql.Composed:
    """A JSON array of up to ``sample_size`` violating rows (the first found)."""
    return _json_rows(_rows(gate) + sql.SQL(" LIMIT {}").format(sql.Literal(sample_size)))


def _grouped(
    table: str,
    columns: tuple[str, ...],
    where: str | None,
    limit: int,
    *,
    ignore_case: bool = False,
) -> sql.Composed:
    """Keys (all columns non-NULL) held by more than ``limit`` rows, with their row counts."""
    keys: list[sql.Composable] = []
    for column in columns:
        ref = _col("t", column)
        if ignore_case:
            keys.append(sql.SQL("lower({}::text) AS {}").format(ref, sql.Identifier(column)))
        else:
            keys.append(ref)
    conditions: list[sql.Composable] = [
        sql.SQL("{} IS NOT NULL").format(_col("t", c)) for c in columns
    ]
    if where:
        conditions.append(_user(where))
    positions = sql.SQL(", ").join(sql.SQL(str(i)) for i in range(1, len(columns) + 1))
    return (
        sql.SQL('SELECT {}, count(*) AS "rows" FROM {} AS t').format(
            sql.SQL(", ").join(keys), _table(table)
        )
        + _where(conditions)
        + sql.SQL(" GROUP BY {} HAVING count(*) > {}").format(positions, sql.Literal(limit))
    )


def _row_count(gate: RowCountGate) -> sql.Composed:
    inner = sql.SQL("SELECT count(*) AS n FROM {} AS t").format(_table(gate.table))
    if gate.where:
        inner += _where([_user(gate.where)])
    bounds: list[sql.Composable] = []
    if gate.min is not None:
        bounds.append(sql.SQL("c.n < {}").format(sql.Literal(gate.min)))
    if gate.max is not None:
        bounds.append(sql.SQL("c.n > {}").format(sql.Literal(gate.max)))
    return sql.SQL('SELECT c.n AS "row_count" FROM ({}) AS c WHERE {}').format(
        inner, sql.SQL(" OR ").join(bounds)
    )


def _freshness(gate: FreshnessGate) -> sql.Composed:
    inner = sql.SQL("SELECT max({}) AS latest FROM {} AS t").format(
        _col("t", gate.column), _table(gate.table)
    )
    if gate.where:
        inner += _where([_user(gate.where)])
    seconds = sql.Literal(gate.max_age.total_seconds())
    return sql.SQL(
        "SELECT m.latest, date_trunc('second', now() - m.latest) AS age FROM ({}) AS m"
        " WHERE m.latest IS NULL OR m.latest < now() - make_interval(secs => {})"
    ).format(inner, seconds)


def violations_query(gate: Gate) -> sql.Composed | sql.SQL:
    """The query whose rows are the gate's violations (for ``sql`` gates: the user's SQL)."""
    if isinstance(gate, NotNullGate | RelationshipGate):
        return _rows(gate)
    if isinstance(gate, MaxPerKeyGate):
        return _grouped(gate.table, gate.key, gate.where, gate.max)
    if isinstance(gate, UniqueGate):
        return _grouped(gate.table, gate.columns, gate.where, 1, ignore_case=gate.ignore_case)
    if isinstance(gate, RowCountGate):
        return _row_count(gate)
    if isinstance(gate, FreshnessGate):
        return _freshness(gate)
    if isinstance(gate, SqlGate):
        return sql.SQL(gate.sql)
    raise TypeError(f"unknown gate {gate!r}")  # pragma: no cover


def checked_query(gate: Gate, sample_size: int) -> sql.Composed:
    """One query, one pass: ``(count, samples)`` of the violating rows of a grouped or
    aggregate gate (``unique``, ``max_per_key``, ``row_count``, ``freshness``).

    ``samples`` is a JSON array of up to ``sample_size`` rows (objects in column order, each
    with :data:`SAMPLE_INDEX_COLUMN` added), or NULL. Only the rows left after grouping pass
    through ``row_number() OVER ()``, which streams, and only sampled rows are encoded;
    measured against a hand-written ``SELECT count(*)`` in ``bench/gates``.
    """
    if isinstance(gate, SqlGate | NotNullGate | RelationshipGate):
        raise TypeError(f"{gate.kind} gates are not run with checked_query")
    rows = violations_query(gate)
    if sample_size <= 0:
        return sql.SQL("SELECT count(*), NULL::json FROM ({}) AS v").format(rows)
    return sql.SQL(
        "SELECT count(*), json_agg(w) FILTER (WHERE w.{index} <= {n})"
        " FROM (SELECT v.*, row_number() OVER () AS {index} FROM ({rows}) AS v) AS w"
    ).format(index=sql.Identifier(SAMPLE_INDEX_COLUMN), n=sql.Literal(sample_size), rows=rows)


def as_text(query: sql.Composable) -> str:
    """The SQL as it is sent (identifiers quoted the standard way)."""
    return query.as_string(None)
