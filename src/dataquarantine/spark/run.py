"""``run``: split a DataFrame, write the quarantine store and the valid output in one pass,
and reconcile the counts.

One Spark job: the checked rows are observed (an :class:`~pyspark.sql.Observation` counts
them by verdict and code as they flow), then one ``mapInArrow`` stage writes each task's
quarantined rows into the store (:mod:`~dataquarantine.spark.store`) and passes its valid rows
on to the valid output's writer (Parquet, JSON-lines text made of the original lines, or
Spark's ``noop`` sink when no output is asked). No second pass over the data counts anything.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from dataquarantine.io.records import DEFAULT_MAX_RECORD_BYTES
from dataquarantine.kernel.ids import new_run_id
from dataquarantine.kernel.results import ErrorCode
from dataquarantine.quarantine.service import DEFAULT_MAX_CHUNK_BYTES
from dataquarantine.spark.columns import (
    CONTRACT,
    CONTRACT_VERSION,
    ERRORS,
    FILE,
    ID,
    LINE_OFFSET,
    LINE_PATH,
    LINE_VALUE,
    PAYLOAD,
    ROW,
    RUN_ID,
    VALID,
    WARNINGS,
)
from dataquarantine.spark.frames import RESERVED_PREFIX, check
from dataquarantine.spark.inputs import input_format, read_inputs, session
from dataquarantine.spark.store import PartitionWriter, StoreTarget, check_target
from dataquarantine.validation.contract import Contract

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
    contract: str
    total: int
    valid: int
    quarantined: int
    warned: int
    seconds: float
    by_code: dict[str, int] = field(default_factory=dict)
    violations_by_code: dict[str, int] = field(default_factory=dict)

    @property
    def reconciles(self) -> bool:
        return self.total == self.valid + self.quarantined


@dataclass(frozen=True, slots=True)
class _Stage:
    """What the store-and-pass tasks need (picklable)."""

    target: StoreTarget
    contract: str
    version: str
    run_id: str
    #: The input's own columns come first (renamed by position), then the checked columns.
    n_columns: int
    names: tuple[str, ...]
    lines: bool


def _metrics() -> list[Column]:
    invalid = ~F.col(VALID)
    out = [
        F.count(F.lit(1)).alias("total"),
        F.sum(F.col(VALID).cast("long")).alias("valid"),
        F.sum(invalid.cast("long")).alias("quarantined"),
        F.sum((F.col(VALID) & (F.size(WARNINGS) > 0)).cast("long")).alias("warned"),
    ]
    for code in ErrorCode:
        first = F.coalesce(F.get(F.col(ERRORS), 0)["code"] == code.value, F.lit(False))
        out.append(F.sum((invalid & first).cast("long")).alias(f"first:{code.value}"))
        matching = F.size(F.filter(ERRORS, _has_code(code)))
        out.append(F.sum(F.when(invalid, matching).otherwise(0)).alias(f"all:{code.value}"))
    return out


def _has_code(code: ErrorCode) -> Any:
    """A one-argument predicate on violations (pyspark reads a lambda's arity)."""
    return lambda v: v["code"] == code.value


def _store_and_pass(stage: _Stage, batches: Iterator[Any]) -> Iterator[Any]:
    """Each task: quarantined rows into the store (flushed before the task ends), valid rows
    on to the output (the input's columns, or the original lines as text)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    writer = PartitionWriter(stage.target)
    constants = {CONTRACT: stage.contract, CONTRACT_VERSION: stage.version, RUN_ID: stage.run_id}
    for batch in batches:
        valid = batch.column(VALID)
        if not pc.all(valid).as_py():
            bad = batch.filter(pc.invert(valid))
            names = [*_source_columns(stage), ID, ERRORS, PAYLOAD]
            picked = pa.RecordBatch.from_arrays(
                [bad.column(stage.names.index(c)) for c in names], names=_store_names(stage)
            )
            writer.add([{**row, **constants} for row in picked.to_pylist()])
        good = batch.filter(valid)
        if stage.lines:
            lines = good.column(2).to_pylist()  # read_jsonl's value: the line's bytes
            text = [(b[:-1] if b.endswith(b"\n") else b).decode(errors="replace") for b in lines]
            yield pa.RecordBatch.from_arrays([pa.array(text, pa.string())], names=[LINE_VALUE])
        else:
            n = stage.n_columns
            yield pa.RecordBatch.from_arrays(good.columns[:n], names=list(stage.names[:n]))
    writer.flush()


def _source_columns(stage: _Stage) -> list[str]:
    if FILE in stage.names:
        return [FILE, ROW]
    return [stage.names[0], stage.names[1]]  # read_jsonl's path and offset, by position


def _store_names(stage: _Stage) -> list[str]:
    source = [FILE, ROW] if FILE in stage.names else [LINE_PATH, LINE_OFFSET]
    return [*source, ID, ERRORS, PAYLOAD]


def run(
    df: DataFrame,
    contract: Contract,
    *,
    store: str,
    payloads: str,
    valid_out: str | None = None,
    valid_format: ValidFormat = "parquet",
    run_id: str | None = None,
    max_record_bytes: int | None = DEFAULT_MAX_RECORD_BYTES,
    max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES,
) -> SparkRun:
    """Check ``df`` (as :func:`~dataquarantine.spark.frames.split`), write its quarantined
    rows into the quarantine store and its valid rows to ``valid_out`` (a new folder; nothing
    written when ``None``), in one Spark job, and return the reconciled counts.

    ``valid_format="jsonl"`` (JSON-lines input only) writes the original lines as text."""
    started = time.perf_counter()
    target = StoreTarget(store, payloads, max_chunk_bytes)
    target = check_target(df.sparkSession, target)
    lines = valid_format == "jsonl"
    if lines and df.columns != [LINE_PATH, LINE_OFFSET, LINE_VALUE]:
        raise ValueError("valid_format='jsonl' needs the JSON lines of read_jsonl")
    checked = check(df, contract, max_record_bytes=max_record_bytes)
    observation = Observation()
    observed = checked.observe(observation, *_metrics())
    n = len(df.columns)
    renamed = [f"{RESERVED_PREFIX}c{i}" for i in range(n)]
    positional = observed.toDF(*renamed, *observed.columns[n:])
    stage = _Stage(
        target,
        contract.name,
        contract.version,
        run_id or new_run_id("spark"),
        n,
        tuple(positional.columns),
        lines,
    )
    if lines:
        schema = StructType([StructField(LINE_VALUE, StringType(), nullable=True)])
    else:
        fields = zip(renamed, df.schema.fields, strict=True)
        schema = StructType([StructField(r, f.dataType, f.nullable) for r, f in fields])
    passed = positional.mapInArrow(functools.partial(_store_and_pass, stage), schema)
    if valid_out is None:
        passed.write.format(_NOOP).mode("overwrite").save()
    elif lines:
        passed.write.text(valid_out)
    else:
        passed.toDF(*df.columns).write.parquet(valid_out)
    metrics = observation.get
    return _counts(stage, metrics, time.perf_counter() - started)


def _counts(stage: _Stage, metrics: dict[str, Any], seconds: float) -> SparkRun:
    def number(name: str) -> int:
        return int(metrics.get(name) or 0)

    return SparkRun(
        run_id=stage.run_id,
        contract=f"{stage.contract}@{stage.version}",
        total=number("total"),
        valid=number("valid"),
        quarantined=number("quarantined"),
        warned=number("warned"),
        seconds=seconds,
        by_code={
            c.value: number(f"first:{c.value}") for c in ErrorCode if number(f"first:{c.value}")
        },
        violations_by_code={
            c.value: number(f"all:{c.value}") for c in ErrorCode if number(f"all:{c.value}")
        },
    )


def validate_files(
    inputs: Sequence[str],
    contract: Contract,
    *,
    fmt: str | None,
    store: str,
    payloads: str,
    valid_out: str | None,
    run_id: str | None,
    master: str | None = None,
    progress: bool = False,
    max_record_bytes: int | None = DEFAULT_MAX_RECORD_BYTES,
) -> SparkRun:
    """What ``validate --engine spark`` runs: the inputs (files, globs, folders; one format)
    through :func:`run` on the active SparkSession, or on a new one on ``master`` (stopped
    afterwards). Valid output: Parquet, or the original lines for JSON-lines input."""
    kind = input_format(inputs, fmt)
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
        )
    finally:
        if own:
            spark.stop()
