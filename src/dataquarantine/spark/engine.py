"""The engine tier: rows checked by the engine itself, batched inside ``mapInArrow``.

This module runs in Spark's Python workers. The contract travels as its specification and
resolved schema (:class:`ShippedContract`, picklable) and is compiled once per worker process.
Each Arrow batch is turned into records exactly as the default engine reads them (typed rows
as :func:`~dataquarantine.io.arrow_readers.arrow_rows` converts Parquet rows, JSON lines as
:func:`~dataquarantine.io.readers.iter_jsonl` splits them) and validated by
:func:`~dataquarantine.validation.engine.validate_forced`, so the verdicts, codes and paths are
the engine's by construction.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, Literal

import pyarrow as pa

from dataquarantine.contracts.model import ContractSpec
from dataquarantine.io.arrow_readers import arrow_rows
from dataquarantine.io.records import oversize_reason
from dataquarantine.kernel.results import (
    BatchResult,
    ErrorCode,
    ValidationResult,
    Violation,
)
from dataquarantine.spark.columns import (
    ERRORS,
    FILE,
    ID,
    LINE_OFFSET,
    LINE_PATH,
    LINE_VALUE,
    PAYLOAD,
    ROW,
    VALID,
    VIOLATION_FIELDS,
    WARNINGS,
    violations_arrow_type,
)
from dataquarantine.spark.ids import line_coordinates, record_id, row_coordinates
from dataquarantine.spark.jsonl_lines import line_payload
from dataquarantine.validation.contract import Contract
from dataquarantine.validation.engine import validate_forced

__all__ = ["EngineTask", "InputKind", "ShippedContract", "compiled", "run_engine"]

InputKind = Literal["rows", "jsonl"]

#: Compiled contracts of this worker process, by fingerprint (workers are reused across tasks).
_COMPILED: dict[str, Contract] = {}
_MAX_COMPILED: Final = 16


@dataclass(frozen=True, slots=True)
class ShippedContract:
    """What executors need to compile a contract: its specification and resolved schema.

    The driver compiled (and so checked) the contract already; workers compile it without the
    schema cost check. A ``retriever`` of the driver's contract is not shipped: remote ``$ref``
    must resolve without one on the executors."""

    spec: ContractSpec
    schema: Any
    fingerprint: str

    @classmethod
    def of(cls, contract: Contract) -> ShippedContract:
        blob = pickle.dumps((contract.spec, contract.schema), protocol=5)
        return cls(contract.spec, contract.schema, hashlib.sha256(blob).hexdigest())


def compiled(shipped: ShippedContract) -> Contract:
    """The contract compiled in this process (once per fingerprint)."""
    contract = _COMPILED.get(shipped.fingerprint)
    if contract is None:
        contract = Contract(shipped.spec, schema=shipped.schema, max_fanout=None)
        if len(_COMPILED) >= _MAX_COMPILED:
            _COMPILED.clear()
        _COMPILED[shipped.fingerprint] = contract
    return contract


@dataclass(frozen=True, slots=True)
class EngineTask:
    """One ``mapInArrow`` stage: which contract, which input kind, which columns are data."""

    contract: ShippedContract
    kind: InputKind
    #: The input's own columns (typed rows: the record's fields, in order).
    columns: tuple[str, ...]
    #: JSON lines longer than this are ``parse_error`` without being parsed (``None``: no limit).
    max_record_bytes: int | None


def run_engine(task: EngineTask, batches: Iterator[Any]) -> Iterator[Any]:
    """``mapInArrow`` body: each batch with the engine's verdict columns appended."""
    contract = compiled(task.contract)
    for batch in batches:
        if task.kind == "jsonl":
            payloads, coordinates, result = _check_lines(task, contract, batch)
        else:
            payloads, coordinates, result = _check_rows(task, contract, batch)
        yield _with_verdicts(batch, payloads, coordinates, result)


def _check_rows(
    task: EngineTask, contract: Contract, batch: Any
) -> tuple[list[bytes], list[str], BatchResult]:
    n = len(task.columns)  # the first n columns, by position (see frames._map_in_arrow)
    data = pa.RecordBatch.from_arrays(batch.columns[:n], names=list(task.columns))
    unconvertible: dict[int, str] = {}
    try:
        rows, payloads = arrow_rows(data)
    except Exception:  # one bad cell (e.g. a string that is not UTF-8): convert row by row
        rows, payloads, unconvertible = _rows_one_by_one(data)
    result = validate_forced(contract, rows, keep_values=False)
    _force_errors(result, unconvertible, ErrorCode.SYSTEM_ERROR)
    uris = batch.column(FILE).to_pylist()
    rows = batch.column(ROW).to_pylist()
    coordinates = [row_coordinates(u, r) for u, r in zip(uris, rows, strict=True)]
    return payloads, coordinates, result


def _rows_one_by_one(data: Any) -> tuple[list[Any], list[bytes], dict[int, str]]:
    rows: list[Any] = []
    payloads: list[bytes] = []
    failed: dict[int, str] = {}
    for i in range(data.num_rows):
        try:
            (row,), (payload,) = arrow_rows(data.slice(i, 1))
        except Exception as exc:
            failed[i] = f"the row cannot be read as JSON values: {exc!r}"
            row, payload = {}, b"{}"
        rows.append(row)
        payloads.append(payload)
    return rows, payloads, failed


def _check_lines(
    task: EngineTask, contract: Contract, batch: Any
) -> tuple[list[bytes], list[str], BatchResult]:
    lines: list[bytes] = batch.column(LINE_VALUE).to_pylist()
    offsets: list[int] = batch.column(LINE_OFFSET).to_pylist()
    payloads = [line_payload(line, offset) for line, offset in zip(lines, offsets, strict=True)]
    limit = task.max_record_bytes
    oversize: dict[int, str] = {}
    items = payloads
    if limit is not None and payloads and max(map(len, payloads)) > limit:
        oversize = {
            i: oversize_reason(len(p), limit) for i, p in enumerate(payloads) if len(p) > limit
        }
        items = [b"{}" if i in oversize else p for i, p in enumerate(payloads)]
    result = validate_forced(contract, items, keep_values=False)
    _force_errors(result, oversize, ErrorCode.PARSE_ERROR)
    paths = batch.column(LINE_PATH).to_pylist()
    coordinates = [line_coordinates(u, o) for u, o in zip(paths, offsets, strict=True)]
    return payloads, coordinates, result


def _force_errors(result: BatchResult, reasons: dict[int, str], code: ErrorCode) -> None:
    """Records that could not be read are invalid with ``reasons``, whatever the engine said
    about their placeholder (as the default runner does for unreadable rows)."""
    for i, reason in reasons.items():
        ref = result.contracts[i]
        result.invalid[i] = ValidationResult(False, (Violation(code, "", reason),), contract=ref)
        result.warnings.pop(i, None)


def _violation_rows(violations: tuple[Violation, ...]) -> list[dict[str, str | None]]:
    return [
        dict(
            zip(
                VIOLATION_FIELDS,
                (v.code.value, v.path, v.message, v.rule, v.keyword, v.severity.value),
                strict=True,
            )
        )
        for v in violations
    ]


def _with_verdicts(
    batch: Any, payloads: list[bytes], coordinates: list[str], result: BatchResult
) -> Any:
    n = batch.num_rows
    valid = [True] * n
    errors: list[list[dict[str, str | None]]] = [[] for _ in range(n)]
    warnings: list[list[dict[str, str | None]]] = [[] for _ in range(n)]
    kept: list[bytes | None] = [None] * n
    ids: list[str | None] = [None] * n
    for i, res in result.invalid.items():
        valid[i] = False
        errors[i] = _violation_rows(res.errors)
        warnings[i] = _violation_rows(res.warnings)
        kept[i] = payloads[i]
        ids[i] = record_id(coordinates[i], payloads[i])
    for i, found in result.warnings.items():
        warnings[i] = _violation_rows(found)
    kind = violations_arrow_type()
    arrays = [
        *batch.columns,
        pa.array(valid, pa.bool_()),
        pa.array(errors, kind),
        pa.array(warnings, kind),
        pa.array(kept, pa.binary()),
        pa.array(ids, pa.string()),
    ]
    names = [*batch.schema.names, VALID, ERRORS, WARNINGS, PAYLOAD, ID]
    return pa.RecordBatch.from_arrays(arrays, names=names)
