"""``run``: split a DataFrame, write the quarantine store and the valid output in one pass,
and reconcile the counts.

One Spark job: the engine tier writes each task's quarantined rows into the store
(:mod:`~dataquarantine.spark.store`) as it judges them, the checked rows are observed (an
:class:`~pyspark.sql.Observation` counts them by verdict and code as they flow), and the valid
ones go on to the valid output's writer (Parquet, JSON-lines text made of the original lines,
or Spark's ``noop`` sink when no output is asked). No second pass over the data counts
anything, and valid rows cross to Python only where the engine tier judges them.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from dataquarantine.errors import ConfigError
from dataquarantine.io.records import DEFAULT_MAX_RECORD_BYTES
from dataquarantine.kernel.ids import new_run_id
from dataquarantine.kernel.results import ErrorCode
from dataquarantine.quarantine.service import DEFAULT_MAX_CHUNK_BYTES
from dataquarantine.remediation import ActionOutcome, RecordOutcome
from dataquarantine.spark.columns import (
    CONTRACT,
    CONTRACT_VERSION,
    ERRORS,
    FILE,
    JSONL_SCHEMA,
    LINE_OFFSET,
    LINE_PATH,
    LINE_VALUE,
    REMEDIATION,
    ROW,
    VALID,
    WARNINGS,
    engine_fields,
    ref,
)
from dataquarantine.spark.csv_output import CsvOutput, is_csv, typed_output
from dataquarantine.spark.engine import (
    EngineTask,
    InputKind,
    ShippedContract,
    ShippedRoutes,
    StoreSink,
    run_engine,
)
from dataquarantine.spark.frames import RESERVED_PREFIX, check, with_coordinates
from dataquarantine.spark.inputs import input_format, read_inputs, session
from dataquarantine.spark.remediate import action_label
from dataquarantine.spark.store import StoreTarget, check_target
from dataquarantine.validation.contract import Contract
from dataquarantine.validation.registry import ContractRegistry

__all__ = ["SparkRun", "ValidFormat", "run"]

#: ``parquet`` (the input's columns), ``jsonl`` (the original lines, for JSON-lines input).
ValidFormat = Literal["parquet", "jsonl"]

_NOOP: Final = "noop"


@dataclass(frozen=True, slots=True)
class SparkRun:
    """The counts of one run, as the default engine's run summary has them (``by_code``: by
    headline code; ``violations_by_code``: every violation; ``warned``: valid records with
    warnings)."""

    run_id: str
    total: int
    valid: int
    quarantined: int
    warned: int
    seconds: float
    by_code: dict[str, int] = field(default_factory=dict)
    violations_by_code: dict[str, int] = field(default_factory=dict)
    #: ``(total, valid, quarantined)`` by contract (``name@version``; ``None``: records that
    #: reached no contract, e.g. ``schema_not_found``).
    by_contract: dict[str | None, tuple[int, int, int]] = field(default_factory=dict)
    #: Records by (contract name, ``valid`` or headline code), as the default engine's summary
    #: keeps them for its metrics (``None``: no contract).
    by_schema: dict[tuple[str | None, str], int] = field(default_factory=dict)
    #: Records made valid by the double pass (counted in ``valid``), in all and by contract.
    remediated: int = 0
    remediated_by_contract: dict[str | None, int] = field(default_factory=dict)
    #: The double pass's counters, as the default engine's summary has them (records by
    #: outcome, rule applications by action and outcome).
    remediation: dict[str, Any] = field(default_factory=dict)

    @property
    def reconciles(self) -> bool:
        return self.total == self.valid + self.quarantined


@dataclass(frozen=True, slots=True)
class _Stage:
    """The run's id and forced contract (``None`` when routed), for the counts."""

    run_id: str
    contract: str | None
    version: str | None
    #: The remediation rules' actions when the double pass runs (empty: it does not).
    actions: tuple[str, ...] = ()


def _metrics(refs: Sequence[str | None], routed: bool) -> list[Column]:
    """The run's counts, aggregated as rows flow (``refs``: every contract a row may get)."""
    invalid = ~F.col(VALID)
    out = [
        F.count(F.lit(1)).alias("total"),
        F.sum(F.col(VALID).cast("long")).alias("valid"),
        F.sum(invalid.cast("long")).alias("quarantined"),
        F.sum((F.col(VALID) & (F.size(WARNINGS) > 0)).cast("long")).alias("warned"),
    ]
    headline = F.get(F.col(ERRORS), 0)["code"]
    for code in ErrorCode:
        first = F.coalesce(headline == code.value, F.lit(False))
        out.append(F.sum((invalid & first).cast("long")).alias(f"first:{code.value}"))
        matching = F.size(F.filter(ERRORS, _has_code(code)))
        out.append(F.sum(F.when(invalid, matching).otherwise(0)).alias(f"all:{code.value}"))
    if not routed:
        return out
    ref = F.concat_ws("@", CONTRACT, CONTRACT_VERSION)
    for name in refs:
        mine = F.col(CONTRACT).isNull() if name is None else F.coalesce(ref == name, F.lit(False))
        out.append(F.sum(mine.cast("long")).alias(f"total:{name}"))
        out.append(F.sum((mine & F.col(VALID)).cast("long")).alias(f"valid:{name}"))
    # Records by contract name and outcome (the stream worker's metric labels).
    for schema in dict.fromkeys(_schema_of(r) for r in refs):
        mine = F.col(CONTRACT).isNull() if schema is None else F.col(CONTRACT) == schema
        mine = F.coalesce(mine, F.lit(False))
        out.append(F.sum((mine & F.col(VALID)).cast("long")).alias(f"schema:{schema}:valid"))
        for code in ErrorCode:
            first = mine & invalid & F.coalesce(headline == code.value, F.lit(False))
            out.append(F.sum(first.cast("long")).alias(f"schema:{schema}:{code.value}"))
    return out


def _fix_metrics(refs: Sequence[str | None], actions: Sequence[str], routed: bool) -> list[Column]:
    """The double pass's counts (see :data:`~.columns.REMEDIATION`)."""
    outcome = F.col(REMEDIATION)["outcome"]
    out = [
        F.sum(F.coalesce(outcome == o.value, F.lit(False)).cast("long")).alias(f"fix:{o.value}")
        for o in RecordOutcome
    ]
    for action in actions:
        for result in ActionOutcome:
            label = action_label(action, result.value)
            hits = F.size(F.filter(F.col(REMEDIATION)["actions"], _equals(label)))
            out.append(F.sum(F.coalesce(hits, F.lit(0))).alias(f"act:{label}"))
    if routed:
        fixed = F.coalesce(outcome == RecordOutcome.REMEDIATED.value, F.lit(False))
        ref = F.concat_ws("@", CONTRACT, CONTRACT_VERSION)
        for name in refs:
            if name is not None:
                mine = F.coalesce(ref == name, F.lit(False)) & fixed
                out.append(F.sum(mine.cast("long")).alias(f"fixed:{name}"))
    return out


def _equals(label: str) -> Any:
    return lambda a: a == label


def _schema_of(ref: str | None) -> str | None:
    """The contract name of a ``name@version`` reference."""
    return ref.rsplit("@", 1)[0] if ref is not None else None


def _has_code(code: ErrorCode) -> Any:
    """A one-argument predicate on violations (pyspark reads a lambda's arity)."""
    return lambda v: v["code"] == code.value


def run(
    df: DataFrame,
    contract: Contract | ContractRegistry,
    *,
    store: str,
    payloads: str,
    valid_out: str | None = None,
    valid_format: ValidFormat = "parquet",
    run_id: str | None = None,
    max_record_bytes: int | None = DEFAULT_MAX_RECORD_BYTES,
    max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES,
    remediate: bool = False,
) -> SparkRun:
    """Check ``df`` (as :func:`~dataquarantine.spark.frames.split`), write its quarantined
    rows into the quarantine store and its valid rows to ``valid_out`` (a new folder; nothing
    written when ``None``), in one Spark job, and return the reconciled counts.

    ``contract``: one contract for every row, or a registry to route each record (a JSON
    line, a CSV record, a typed row) to the contract its ``_schema`` field names, as the
    default engine does (``schema_not_found`` when there is none). ``valid_format="jsonl"``
    (JSON-lines input only) writes the original lines as text; CSV records are written as
    the default engine writes them (typed Parquet, :mod:`~dataquarantine.spark.csv_output`).

    ``remediate=True`` runs the double pass as the default engine does (see
    :func:`~dataquarantine.spark.frames.split`): a remediated record is counted valid (and
    ``remediated``), written to the valid output fixed, and stored with status ``remediated``
    and the fix as revision 1."""
    started = time.perf_counter()
    csv = is_csv(df)
    csv_out = None
    if csv and valid_out is not None and valid_format == "parquet":
        if isinstance(contract, ContractRegistry):
            csv_out = CsvOutput.of(df, list(contract), routed=True)
        else:
            csv_out = CsvOutput.of(df, [contract], routed=False)
    target = StoreTarget(store, payloads, max_chunk_bytes)
    target = check_target(df.sparkSession, target)
    lines = valid_format == "jsonl"
    if lines and df.columns != [LINE_PATH, LINE_OFFSET, LINE_VALUE]:
        raise ValueError("valid_format='jsonl' needs the JSON lines of read_jsonl")
    contracts = list(contract) if isinstance(contract, ContractRegistry) else [contract]
    actions = tuple(
        dict.fromkeys(r.action for c in contracts for r in c.spec.remediation if remediate)
    )
    forced = None if isinstance(contract, ContractRegistry) else contract
    stage = _Stage(
        run_id or new_run_id("spark"),
        forced.name if forced else None,
        forced.version if forced else None,
        actions,
    )
    sink = StoreSink(target, stage.run_id, stage.contract, stage.version)
    refs: list[str | None] = [str(c.ref) for c in contracts]
    if forced is None or csv:
        checked = _engine_only(df, contract, max_record_bytes, sink, remediate=bool(actions))
    else:
        checked = check(
            df, forced, max_record_bytes=max_record_bytes, sink=sink, remediate=remediate
        )
    if REMEDIATION not in checked.columns:
        stage = replace(stage, actions=())
    metrics = _metrics([*refs, None], routed=forced is None)
    if stage.actions:
        metrics += _fix_metrics(refs, stage.actions, routed=forced is None)
    observation = Observation()
    observed = checked.observe(observation, *metrics)
    valid = observed.where(F.col(VALID))
    if valid_out is None:
        observed.write.format(_NOOP).mode("overwrite").save()
    elif lines:  # the original (or fixed) lines: valid ones are UTF-8; without their "\n"
        text = F.regexp_replace(F.col(LINE_VALUE).cast("string"), "\n\\z", "")
        valid.select(text.alias(LINE_VALUE)).write.text(valid_out)
    elif csv_out is not None:
        typed_output(valid, csv_out).write.parquet(valid_out)
    else:
        valid.select(*map(ref, df.columns)).write.parquet(valid_out)
    counts = _counts(stage, observation.get, [*refs, None], time.perf_counter() - started)
    return _with_fixes(counts, stage, observation.get, refs) if remediate else counts


def _engine_only(
    df: DataFrame,
    contract: Contract | ContractRegistry,
    max_record_bytes: int | None,
    sink: StoreSink,
    *,
    remediate: bool = False,
) -> DataFrame:
    """The checked frame through the engine tier alone: records routed by their ``_schema``
    field (then with each row's contract name and version: JSON lines, CSV records, typed
    rows with their source columns), or CSV records."""
    kind: InputKind = "csv" if is_csv(df) else "jsonl" if df.schema == JSONL_SCHEMA else "rows"
    columns = tuple(df.columns)
    extra: list[StructField] = []
    if isinstance(contract, ContractRegistry):
        routes = ShippedRoutes(tuple(ShippedContract.of(c) for c in contract))
        task = EngineTask(
            None, kind, columns, max_record_bytes, routes=routes, remediate=remediate, sink=sink
        )
        extra = [StructField(c, StringType(), nullable=True) for c in (CONTRACT, CONTRACT_VERSION)]
    else:
        shipped = ShippedContract.of(contract)
        task = EngineTask(shipped, kind, columns, max_record_bytes, remediate=remediate, sink=sink)
    verdicts = [f.name for f in [*engine_fields(remediate), *extra]]
    if kind == "rows":  # routed typed rows, by their _schema column as the default engine
        return _rows_through_engine(df, task, extra).select(
            *map(ref, columns), FILE, ROW, *verdicts
        )
    schema = StructType([*df.schema.fields, *engine_fields(remediate), *extra])
    checked = df.mapInArrow(functools.partial(run_engine, task), schema)
    return checked.select(*df.columns, *verdicts)


def _rows_through_engine(df: DataFrame, task: EngineTask, extra: list[StructField]) -> DataFrame:
    """Typed rows with their coordinates through the engine; the input's columns cross
    ``mapInArrow`` by position (as in :func:`~dataquarantine.spark.frames.check`)."""
    located = with_coordinates(df)
    n = len(df.columns)
    renamed = [f"{RESERVED_PREFIX}c{i}" for i in range(n)]
    positional = located.toDF(*renamed, *located.columns[n:])
    fields = zip(renamed, df.schema.fields, strict=True)
    head = [StructField(r, f.dataType, f.nullable) for r, f in fields]
    schema = StructType([*head, *located.schema.fields[n:], *engine_fields(task.remediate), *extra])
    checked = positional.mapInArrow(functools.partial(run_engine, task), schema)
    return checked.toDF(*df.columns, *checked.columns[n:])


def _counts(
    stage: _Stage, metrics: dict[str, Any], refs: Sequence[str | None], seconds: float
) -> SparkRun:
    def number(name: str) -> int:
        return int(metrics.get(name) or 0)

    total, valid = number("total"), number("valid")
    by_contract: dict[str | None, tuple[int, int, int]]
    if stage.contract is not None:
        by_contract = {f"{stage.contract}@{stage.version}": (total, valid, total - valid)}
    else:
        tallies = ((r, number(f"total:{r}"), number(f"valid:{r}")) for r in refs)
        by_contract = {r: (n, ok, n - ok) for r, n, ok in tallies if n}
    outcomes = ("valid", *(c.value for c in ErrorCode))
    by_schema: dict[tuple[str | None, str], int] = {}
    if stage.contract is not None:  # forced: every record is the contract's
        for outcome in outcomes:
            n = valid if outcome == "valid" else number(f"first:{outcome}")
            if n:
                by_schema[(stage.contract, outcome)] = n
    else:
        for schema in dict.fromkeys(_schema_of(r) for r in refs):
            for outcome in outcomes:
                if n := number(f"schema:{schema}:{outcome}"):
                    by_schema[(schema, outcome)] = n

    return SparkRun(
        run_id=stage.run_id,
        total=total,
        valid=valid,
        quarantined=number("quarantined"),
        warned=number("warned"),
        seconds=seconds,
        by_code={
            c.value: number(f"first:{c.value}") for c in ErrorCode if number(f"first:{c.value}")
        },
        violations_by_code={
            c.value: number(f"all:{c.value}") for c in ErrorCode if number(f"all:{c.value}")
        },
        by_contract={k: v for k, v in by_contract.items() if v[0]},
        by_schema=by_schema,
    )


def _with_fixes(
    counts: SparkRun, stage: _Stage, metrics: dict[str, Any], refs: Sequence[str | None]
) -> SparkRun:
    """``counts`` with the double pass's (zeros when no contract has remediation rules)."""

    def number(name: str) -> int:
        return int(metrics.get(name) or 0)

    remediated = number(f"fix:{RecordOutcome.REMEDIATED.value}")
    if stage.contract is not None:
        by_contract = {f"{stage.contract}@{stage.version}": remediated}
    else:
        by_contract = {r: number(f"fixed:{r}") for r in refs if r is not None}
    actions: dict[str, dict[str, int]] = {}
    for action in sorted(stage.actions):
        for result in ActionOutcome:
            if n := number(f"act:{action_label(action, result.value)}"):
                actions.setdefault(action, {})[result.value] = n
    return replace(
        counts,
        remediated=remediated,
        remediated_by_contract={k: v for k, v in by_contract.items() if v},
        remediation={
            "records": {o.value: number(f"fix:{o.value}") for o in RecordOutcome},
            "actions": actions,
        },
    )


def validate_files(
    inputs: Sequence[str],
    contract: Contract | ContractRegistry,
    *,
    fmt: str | None,
    store: str,
    payloads: str,
    valid_out: str | None,
    run_id: str | None,
    master: str | None = None,
    progress: bool = False,
    max_record_bytes: int | None = DEFAULT_MAX_RECORD_BYTES,
    remediate: bool = True,
) -> SparkRun:
    """What ``validate --engine spark`` runs: the inputs (files, globs, folders; one format)
    through :func:`run` on the active SparkSession, or on a new one on ``master`` (stopped
    afterwards). Valid output: Parquet, or the original lines for JSON-lines input. A registry
    routes each JSON line by its ``_schema`` field (see :func:`run`)."""
    kind = input_format(inputs, fmt)
    if valid_out is not None and "://" not in valid_out and os.path.exists(valid_out):
        raise ConfigError(f"--valid-out {valid_out!r} exists: Spark writes a new folder")
    spark, own = session(master, progress=progress)
    try:
        df = read_inputs(spark, inputs, kind)
        return run(
            df,
            contract,
            store=store,
            payloads=payloads,
            valid_out=valid_out,
            valid_format="jsonl" if kind == "jsonl" else "parquet",
            run_id=run_id,
            max_record_bytes=max_record_bytes,
            remediate=remediate,
        )
    finally:
        if own:
            spark.stop()
