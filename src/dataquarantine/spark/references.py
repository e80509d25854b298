"""Foreign keys on Spark: each ``references:`` entry a join against its parent's keys.

The driver only plans: each reference becomes a left join of the input against the distinct
non-null values of the parent column (a DataFrame, or a PostgreSQL table read over JDBC), and a
boolean column ``_dq_fk<i>``, true when the row's value is set and has no parent (SQL
foreign-key semantics: a null reference is no orphan). The join is a broadcast hash join when
the parent is marked small (or Spark's planner estimates it so); otherwise Spark shuffles both
sides. The engine tier then writes each orphan's ``fk_violation`` before the contract's own
violations, with the message and path the PostgreSQL load gives (:meth:`ReferenceSpec.orphan`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import orjson
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from dataquarantine.contracts.model import ReferenceSpec
from dataquarantine.errors import ConfigError
from dataquarantine.kernel.results import BatchResult, ValidationResult
from dataquarantine.spark.columns import ref

__all__ = [
    "DEFAULT_BROADCAST_ROWS",
    "Parent",
    "Parents",
    "add_orphans",
    "flag_column",
    "jdbc_parents",
    "key_column",
    "key_text",
    "with_orphan_flags",
]

#: ``jdbc_parents`` broadcasts a parent table with at most this many rows.
DEFAULT_BROADCAST_ROWS: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class Parent:
    """The rows a reference's ``table`` stands for, and whether to broadcast them.

    ``broadcast``: ``True`` hints a broadcast hash join (the parent's distinct keys are sent
    to every executor: they must fit in the driver's and each executor's memory), ``False``
    or ``None`` leave the choice to Spark's planner (``spark.sql.autoBroadcastJoinThreshold``
    on its size estimate; adaptive execution may still switch to a broadcast at run time)."""

    frame: DataFrame
    broadcast: bool | None = None


#: What ``split(references=...)`` takes: per referenced table name (as the contract spells
#: it), a DataFrame holding the referenced column, or a :class:`Parent`.
Parents: TypeAlias = Mapping[str, "DataFrame | Parent"]


def flag_column(i: int) -> str:
    """The name of reference ``i``'s "parent missing" column."""
    return f"_dq_fk{i}"


def key_column(i: int) -> str:
    """JSON lines: the name of the column holding reference ``i``'s value as text."""
    return f"_dq_fkv{i}"


def key_text(value: Any) -> str | None:
    """A decoded JSON value as the text a JSON-lines reference is joined on: a string as is, an
    integer in decimal, ``true``/``false`` (as Spark writes booleans), anything else as JSON;
    ``None`` for null (no orphan)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _parent(parents: Parents, spec: ReferenceSpec) -> Parent:
    found = parents.get(spec.table)
    if found is None:
        raise ConfigError(
            f"references: no parent rows given for table {spec.table!r} "
            f"(pass references={{{spec.table!r}: <DataFrame>}} or jdbc_parents(...))"
        )
    return found if isinstance(found, Parent) else Parent(found)


def with_orphan_flags(
    df: DataFrame,
    specs: tuple[ReferenceSpec, ...],
    parents: Parents,
    *,
    keyed: bool = False,
) -> DataFrame:
    """``df`` with one boolean :func:`flag_column` per reference (lazy: runs no job).

    The reference is the top-level column ``spec.field_column`` (``keyed``: the text column
    :func:`key_column`, for JSON lines); it is compared with the parent's column as is when
    both have the same Spark type, as text otherwise (as the load compares columns of
    different types)."""
    types = {f.name: f.dataType for f in df.schema.fields}
    for i, spec in enumerate(specs):
        parent = _parent(parents, spec)
        field = key_column(i) if keyed else spec.field_column
        if field not in types:
            raise ConfigError(f"reference field {spec.field!r} is not a column of the input")
        parent_types = {f.name: f.dataType for f in parent.frame.schema.fields}
        if spec.column not in parent_types:
            raise ConfigError(
                f"referenced column {spec.table}.{spec.column} is not a column of its parent "
                f"frame (columns: {sorted(parent_types)})"
            )
        key = f"_dq_p{i}"
        as_text = parent_types[spec.column] != types[field]
        value = ref(field).cast(StringType()) if as_text else ref(field)
        pcol = ref(spec.column).cast(StringType()) if as_text else ref(spec.column)
        keys = parent.frame.select(pcol.alias(key)).where(F.col(key).isNotNull()).distinct()
        if parent.broadcast:
            keys = F.broadcast(keys)
        joined = df.join(keys, on=value == F.col(key), how="left")
        flag = ref(field).isNotNull() & F.col(key).isNull()
        df = joined.select(*(ref(c) for c in df.columns), flag.alias(flag_column(i)))
    return df


def jdbc_parents(
    spark: SparkSession,
    url: str,
    specs: tuple[ReferenceSpec, ...],
    *,
    properties: Mapping[str, str] | None = None,
    broadcast_rows: int | None = DEFAULT_BROADCAST_ROWS,
) -> dict[str, Parent]:
    """The parents of ``specs`` (a contract's ``spec.references``) as PostgreSQL tables read
    over JDBC (``url`` such as ``jdbc:postgresql://host:5432/db``; add ``?currentSchema=s``
    for unqualified table names). Only the referenced columns are read (Spark pushes the
    projection into the query), when the joins run.

    A table with at most ``broadcast_rows`` rows is broadcast: this function counts up to that
    many rows of each table (``SELECT count(*) FROM (SELECT 1 FROM t LIMIT n + 1)``, one small
    Spark job each). ``None`` counts nothing and leaves the choice to Spark. The JDBC driver
    must be on Spark's class path (``spark.jars``; Debian: ``/usr/share/java/postgresql.jar``)."""
    props = {"driver": "org.postgresql.Driver", **(properties or {})}
    out: dict[str, Parent] = {}
    for spec in specs:
        if spec.table in out:
            continue
        frame = spark.read.jdbc(url, spec.table, properties=props)
        broadcast = None
        if broadcast_rows is not None:
            # table names are plain identifiers (ReferenceSpec checks them): safe in the text
            limit = broadcast_rows + 1
            query = f"SELECT count(*) AS n FROM (SELECT 1 FROM {spec.table} LIMIT {limit}) s"
            counted = spark.read.jdbc(url, f"({query}) dq_count", properties=props)
            broadcast = int(counted.first()[0]) <= broadcast_rows  # type: ignore[index]
        out[spec.table] = Parent(frame, broadcast)
    return out


def add_orphans(
    specs: tuple[ReferenceSpec, ...], flags: list[list[bool]], rows: list[Any], result: BatchResult
) -> None:
    """Executor side: each orphan's ``fk_violation`` goes before the row's own violations
    (``flags[i][r]``: row ``r`` has no parent for reference ``i``), as the load lists them."""
    n = len(rows)
    for r in range(n):
        orphans = [
            spec.orphan(rows[r].get(spec.field_column))
            for spec, column in zip(specs, flags, strict=True)
            if column[r]
        ]
        if not orphans:
            continue
        own = result.invalid.get(r)
        errors = (*orphans, *(own.errors if own is not None else ()))
        warnings = own.warnings if own is not None else result.warnings.pop(r, ())
        result.invalid[r] = ValidationResult(False, errors, warnings, contract=result.contracts[r])
