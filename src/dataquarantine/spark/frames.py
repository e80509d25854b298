"""``split`` and ``check``: a DataFrame through a contract, built lazily on the driver.

Both only plan: no Spark job runs and nothing is collected to the driver until the returned
DataFrames are used. :func:`check` gives every input row with its verdict columns; ``split``
derives the valid and the quarantine frames from it. Each use of a returned frame recomputes
it (Spark does not cache unasked): the engine is deterministic, so every use sees the same
verdicts; cache the checked frame, or write both sides from one pass, to check rows once.
"""

from __future__ import annotations

import functools
from typing import Any, Final

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from dataquarantine.errors import ConfigError
from dataquarantine.io.records import DEFAULT_MAX_RECORD_BYTES
from dataquarantine.kernel.ids import new_run_id
from dataquarantine.spark.columns import (
    CONTRACT,
    CONTRACT_VERSION,
    ERRORS,
    FILE,
    ID,
    JSONL_SCHEMA,
    PAYLOAD,
    REMEDIATION,
    ROW,
    RUN_ID,
    VALID,
    WARNINGS,
    engine_fields,
    ref,
)
from dataquarantine.spark.csv_output import is_csv
from dataquarantine.spark.engine import (
    EngineTask,
    InputKind,
    ShippedContract,
    StoreSink,
    run_engine,
    run_reference_keys,
)
from dataquarantine.spark.jsonl import jsonl_origin, judged_jsonl
from dataquarantine.spark.native import surely_valid
from dataquarantine.spark.references import Parents, flag_column, key_column, with_orphan_flags
from dataquarantine.validation.contract import Contract

__all__ = ["RESERVED_PREFIX", "check", "split", "with_coordinates"]

#: Input columns may not start with this: the added columns do.
RESERVED_PREFIX: Final = "_dq_"


def _input_kind(df: DataFrame) -> InputKind:
    if is_csv(df):
        return "csv"
    return "jsonl" if df.schema == JSONL_SCHEMA else "rows"


def with_coordinates(df: DataFrame) -> DataFrame:
    """Typed input with its file URI and row index (from Spark's hidden ``_metadata``)."""
    return _with_coordinates(df)


def _with_coordinates(df: DataFrame) -> DataFrame:
    try:
        located = df.select(
            "*",
            # Hadoop names local files file:/abs/path, the default engine file:///abs/path.
            F.regexp_replace("_metadata.file_path", "^file:/(?!/)", "file:///").alias(FILE),
            (F.col("_metadata.row_index") + 1).alias(ROW),
        )
    except AnalysisException as exc:
        raise ConfigError(
            "split needs the rows' coordinates for their ids: give a DataFrame read from "
            "Parquet files (spark.read.parquet, whose _metadata has row_index) or JSON lines "
            f"read with dataquarantine.spark.read_jsonl ({exc.getCondition() or exc})"
        ) from None
    return located


def check(
    df: DataFrame,
    contract: Contract,
    *,
    references: Parents | None = None,
    max_record_bytes: int | None = DEFAULT_MAX_RECORD_BYTES,
    remediate: bool = False,
    sink: StoreSink | None = None,
) -> DataFrame:
    """Every row of ``df`` with the input's columns and :data:`~.columns.VALID`,
    :data:`~.columns.ERRORS`, :data:`~.columns.WARNINGS`, :data:`~.columns.PAYLOAD` and
    :data:`~.columns.ID` (the last two are null on valid rows). Lazy: runs no Spark job.

    ``df`` is typed rows read from Parquet (each column a top-level field; null columns are
    absent fields, as in the default engine) or the raw lines of
    :func:`~dataquarantine.spark.jsonl.read_jsonl`. ``max_record_bytes``: JSON lines longer
    than this are ``parse_error`` without being parsed, as ``DQ_MAX_RECORD_BYTES``.

    ``references``: the parent rows of the contract's ``references:`` (see :func:`split`).

    ``remediate=True`` runs the double pass on invalid records when the contract has
    ``remediation:`` rules (see :func:`split`): a remediated row is valid, holds the fixed
    record in the input's columns, keeps its original ``_dq_payload``, ``_dq_id`` and
    ``_dq_errors``, and the frame has the :data:`~.columns.REMEDIATION` column.

    ``sink``: the engine tier also writes the invalid rows into this quarantine store as it
    judges them (what :func:`~dataquarantine.spark.run.run` does)."""
    reserved = [c for c in df.columns if c.startswith(RESERVED_PREFIX)]
    if reserved:
        raise ConfigError(f"input columns may not start with {RESERVED_PREFIX!r}: {reserved}")
    kind = _input_kind(df)
    columns = tuple(df.columns)
    located = df if kind != "rows" else _with_coordinates(df)
    specs = contract.spec.references if references is not None else ()
    fix = remediate and bool(contract.spec.remediation)
    if specs and kind == "csv":
        raise ConfigError("references are checked on Parquet and JSON lines, not yet on CSV")
    task = EngineTask(
        ShippedContract.of(contract),
        kind,
        columns,
        max_record_bytes,
        references=specs,
        remediate=fix,
        sink=sink,
    )
    origin = jsonl_origin(df) if kind == "jsonl" and not specs else None
    if origin is not None:  # judged by the worker that reads the lines: one hop fewer
        judged = judged_jsonl(df.sparkSession, origin, task)
        verdicts = [f.name for f in engine_fields(fix)]
        return judged.select(*map(ref, columns), *verdicts)
    if specs and kind == "jsonl":  # the values to join on, as the engine decodes them
        keys = [StructField(key_column(i), StringType()) for i in range(len(specs))]
        keyed = StructType([*located.schema.fields, *keys])
        located = located.mapInArrow(functools.partial(run_reference_keys, task), keyed)
    if specs:
        located = with_orphan_flags(located, specs, references or {}, keyed=kind == "jsonl")
    out_schema = StructType([*located.schema.fields, *engine_fields(fix)])
    native = surely_valid(contract, df.schema) if kind == "rows" else None
    if native is not None and specs:
        orphan = functools.reduce(
            lambda a, b: a | b, (F.col(flag_column(i)) for i in range(len(specs)))
        )
        native = native & ~orphan
    suspects = located if native is None else located.where(~native)
    checked = _map_in_arrow(suspects, task, out_schema)
    if native is not None:
        constants = (_constant(f) for f in engine_fields(fix))
        checked = located.where(native).select("*", *constants).unionByName(checked)
    source = [FILE, ROW] if kind == "rows" else []
    extra = [REMEDIATION] if fix else []
    return checked.select(*map(ref, columns), *source, VALID, ERRORS, WARNINGS, PAYLOAD, ID, *extra)


def _map_in_arrow(df: DataFrame, task: EngineTask, schema: StructType) -> DataFrame:
    """``df`` through the engine. pyspark's ``mapInArrow`` looks columns up by name, which
    fails for names holding a backtick: the input's columns cross it by position (renamed
    ``_dq_c<i>``, the engine knows their names), and get their names back after it."""
    names = df.columns
    if task.kind == "rows":
        n = len(task.columns)
        renamed = [f"{RESERVED_PREFIX}c{i}" for i in range(n)]
        df = df.toDF(*renamed, *names[n:])
        head = zip(renamed, schema.fields[:n], strict=True)
        fields = [StructField(r, f.dataType, f.nullable) for r, f in head]
        schema = StructType(fields + schema.fields[n:])
    checked = df.mapInArrow(functools.partial(run_engine, task), schema)
    return checked.toDF(*names, *(f.name for f in engine_fields(task.remediate)))


def _constant(field: StructField) -> Any:
    """The verdict columns of a row the native tier cleared."""
    values = {VALID: F.lit(True), ERRORS: F.array(), WARNINGS: F.array()}
    value = values.get(field.name, F.lit(None))
    return value.cast(field.dataType).alias(field.name)


def split(
    df: DataFrame,
    contract: Contract,
    *,
    references: Parents | None = None,
    run_id: str | None = None,
    max_record_bytes: int | None = DEFAULT_MAX_RECORD_BYTES,
    remediate: bool = False,
) -> tuple[DataFrame, DataFrame]:
    """``(valid, quarantine)``: the rows the contract accepts, with the input's columns
    unchanged, and the others with the input's columns plus :data:`~.columns.ID`,
    ``_dq_contract``, ``_dq_contract_version``, ``_dq_run_id``, :data:`~.columns.ERRORS` and
    :data:`~.columns.PAYLOAD` (the bytes the store keeps). Rows with only warn-severity
    violations are valid (their warnings are in :func:`check`'s frame). Lazy: runs no Spark
    job.

    ``references`` checks the contract's ``references:`` (foreign keys): per referenced table
    name, a DataFrame holding the referenced column, or a
    :class:`~dataquarantine.spark.references.Parent` (one built by
    :func:`~dataquarantine.spark.references.jdbc_parents` reads a PostgreSQL table). A row
    whose reference is set and has no parent gets ``fk_violation`` before its other
    violations, as in the load. Without ``references`` they are not checked (as
    ``Contract.validate`` does not).

    ``remediate=True`` runs the double pass, as the default engine does, when the contract has
    ``remediation:`` rules: an invalid record the rules make valid is in ``valid`` with the
    fixed record in the input's columns (the fixed JSON line, or the fixed values), and in
    ``quarantine`` with its original payload and the :data:`~.columns.REMEDIATION` column
    (the store keeps it with status ``remediated`` and the fix as revision 1). Off by default:
    the verdicts are then exactly ``Contract.validate``'s."""
    checked = check(
        df,
        contract,
        references=references,
        max_record_bytes=max_record_bytes,
        remediate=remediate,
    )
    columns = list(df.columns)
    source = [FILE, ROW] if FILE in checked.columns else []
    extra = [REMEDIATION] if REMEDIATION in checked.columns else []
    valid = checked.where(F.col(VALID)).select(*map(ref, columns))
    # Quarantined: the invalid rows and the remediated ones (valid, but their original is kept).
    quarantine = checked.where(F.col(PAYLOAD).isNotNull()).select(
        *map(ref, columns),
        *source,
        ID,
        F.lit(contract.name).alias(CONTRACT),
        F.lit(contract.version).alias(CONTRACT_VERSION),
        F.lit(run_id or new_run_id("spark")).alias(RUN_ID),
        ERRORS,
        PAYLOAD,
        *extra,
    )
    return valid, quarantine
