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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

import orjson
import pyarrow as pa

from dataquarantine.contracts.model import ContractSpec, ReferenceSpec
from dataquarantine.io.arrow_readers import arrow_rows, row_payload
from dataquarantine.io.records import oversize_reason
from dataquarantine.kernel.results import (
    BatchResult,
    ErrorCode,
    ValidationResult,
    Violation,
)
from dataquarantine.spark.columns import (
    CONTRACT,
    CONTRACT_VERSION,
    CSV_ERROR,
    CSV_LINE,
    ERRORS,
    FILE,
    ID,
    LINE_OFFSET,
    LINE_PATH,
    LINE_VALUE,
    PAYLOAD,
    REMEDIATION,
    ROW,
    RUN_ID,
    VALID,
    VIOLATION_FIELDS,
    WARNINGS,
    violations_arrow_type,
)
from dataquarantine.spark.ids import line_coordinates, record_id, row_coordinates
from dataquarantine.spark.jsonl_lines import line_payload
from dataquarantine.spark.references import add_orphans, flag_column, key_column, key_text
from dataquarantine.spark.remediate import with_remediation
from dataquarantine.spark.store import PartitionWriter, StoreTarget
from dataquarantine.validation.contract import Contract
from dataquarantine.validation.engine import validate_forced
from dataquarantine.validation.limits import MAX_DEPTH
from dataquarantine.validation.registry import ContractRegistry, Router

__all__ = [
    "EngineTask",
    "InputKind",
    "ShippedContract",
    "ShippedRoutes",
    "StoreSink",
    "Validate",
    "compiled",
    "nesting",
    "run_engine",
    "run_reference_keys",
]

InputKind = Literal["rows", "jsonl", "csv"]

#: Compiled contracts of this worker process, by fingerprint (workers are reused across tasks).
_COMPILED: dict[str, Contract] = {}
_MAX_COMPILED: Final = 16
_NL: Final = 10
_CR: Final = 13


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
class ShippedRoutes:
    """Routing each record by its ``field`` (``name`` or ``name@version``), as the default
    engine's router does, among ``contracts`` (every version of the driver's registry)."""

    contracts: tuple[ShippedContract, ...]
    field: str = "_schema"


#: Routers of this worker process, by their contracts' fingerprints and field.
_ROUTERS: dict[tuple[str, ...], Router] = {}


def _router(routes: ShippedRoutes) -> Router:
    key = (routes.field, *(c.fingerprint for c in routes.contracts))
    router = _ROUTERS.get(key)
    if router is None:
        registry = ContractRegistry()
        for shipped in routes.contracts:
            registry.add(compiled(shipped))
        router = Router(registry, field=routes.field)
        if len(_ROUTERS) >= _MAX_COMPILED:
            _ROUTERS.clear()
        _ROUTERS[key] = router
    return router


@dataclass(frozen=True, slots=True)
class StoreSink:
    """The quarantine store the engine tier writes each invalid record into as it judges it
    (flushed before the task ends), with the run's id and the forced contract's name and
    version (``None`` when routed: each record's own)."""

    target: StoreTarget
    run_id: str
    contract: str | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class EngineTask:
    """One ``mapInArrow`` stage: which contract, which input kind, which columns are data."""

    #: The one contract of every record (``None`` with ``routes``).
    contract: ShippedContract | None
    kind: InputKind
    #: The input's own columns (typed rows: the record's fields, in order).
    columns: tuple[str, ...]
    #: JSON lines longer than this are ``parse_error`` without being parsed (``None``: no limit).
    max_record_bytes: int | None
    #: Route each record to its contract instead: the output then also has the columns
    #: ``_dq_contract`` and ``_dq_contract_version`` (null for a record without one).
    routes: ShippedRoutes | None = None
    #: The references whose "parent missing" columns (:func:`~.references.flag_column`)
    #: follow the input's columns (with ``contract`` only).
    references: tuple[ReferenceSpec, ...] = ()
    #: Run the double pass on invalid records (:mod:`~.remediate`): the output then also has
    #: the column ``_dq_remediation`` (before the contract columns of ``routes``).
    remediate: bool = False
    #: Write the invalid records (and the remediated ones' originals) into this store too.
    sink: StoreSink | None = None


#: The payload and the coordinates of record ``i`` of a batch, computed for invalid ones only.
Locate = Callable[[int], tuple[bytes, str]]


class Validate(Protocol):
    """Validates a batch of records (the default engine's loop: forced or routed). With
    ``text=True`` the items are CSV rows of text, typed by the schema first; ``shallow`` skips
    the per-record depth check of records whose type already bounds their depth."""

    def __call__(
        self, items: list[Any], *, text: bool = False, keep: bool = False, shallow: bool = False
    ) -> BatchResult: ...


def _validator(task: EngineTask) -> Validate:
    if task.routes is not None:
        router = _router(task.routes)

        def routed(
            items: list[Any], *, text: bool = False, keep: bool = False, shallow: bool = False
        ) -> BatchResult:
            return router.validate_batch(items, text=text, keep_values=keep)

        return routed
    if task.contract is None:
        raise ValueError("an engine task needs a contract or routes")
    contract = compiled(task.contract)

    def forced(
        items: list[Any], *, text: bool = False, keep: bool = False, shallow: bool = False
    ) -> BatchResult:
        return validate_forced(contract, items, text=text, keep_values=keep, shallow=shallow)

    return forced


def run_engine(task: EngineTask, batches: Iterator[Any]) -> Iterator[Any]:
    """``mapInArrow`` body: each batch with the engine's verdict columns appended."""
    validate = _validator(task)
    writer = None if task.sink is None else PartitionWriter(task.sink.target)
    for batch in batches:
        if task.kind == "jsonl":
            result, locate = _check_lines(task, validate, batch)
        elif task.kind == "csv":
            result, locate = _check_csv(validate, batch)
        else:
            result, locate = _check_rows(task, validate, batch)
        checked = _with_verdicts(batch, result, locate)
        if task.remediate:
            checked = with_remediation(
                checked, result, _finder(task), kind=task.kind, data_names=task.columns
            )
        if writer is not None and result.invalid:
            writer.add(_store_rows(task, checked, result))
        yield checked if task.routes is None else _with_contracts(checked, result)
    if writer is not None:
        writer.flush()


def _store_rows(task: EngineTask, checked: Any, result: BatchResult) -> list[dict[str, Any]]:
    """The invalid records of ``checked`` as the store writer takes them (see
    :func:`~dataquarantine.spark.store.items_of`)."""
    assert task.sink is not None
    source = {"rows": (FILE, ROW), "jsonl": (LINE_PATH, LINE_OFFSET), "csv": (LINE_PATH, CSV_LINE)}
    where, at = source[task.kind]
    keys = (FILE, ROW) if task.kind == "csv" else (where, at)
    indices = sorted(result.invalid)
    picked = checked.take(pa.array(indices, pa.int64()))
    columns = {
        keys[0]: picked.column(where).to_pylist(),
        keys[1]: picked.column(at).to_pylist(),
        ID: picked.column(ID).to_pylist(),
        ERRORS: picked.column(ERRORS).to_pylist(),
        PAYLOAD: picked.column(PAYLOAD).to_pylist(),
    }
    if task.remediate:
        columns[REMEDIATION] = picked.column(REMEDIATION).to_pylist()
    rows = [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]
    sink = task.sink
    for i, row in zip(indices, rows, strict=True):
        if task.routes is None:
            row[CONTRACT], row[CONTRACT_VERSION] = sink.contract, sink.version
        else:
            ref = result.contracts[i]
            row[CONTRACT], row[CONTRACT_VERSION] = (ref.name, ref.version) if ref else (None, None)
        row[RUN_ID] = sink.run_id
    return rows


def _finder(task: EngineTask) -> Callable[[str], Contract | None]:
    """The contract of a reference, in this worker (the forced one, or the router's)."""
    if task.routes is not None:
        return _router(task.routes).lookup
    if task.contract is None:
        raise ValueError("an engine task needs a contract or routes")
    contract = compiled(task.contract)
    return lambda _ref: contract


def _with_contracts(batch: Any, result: BatchResult) -> Any:
    """``batch`` with each record's contract name and version (null when it has none)."""
    names = [ref.name if ref else None for ref in result.contracts]
    versions = [ref.version if ref else None for ref in result.contracts]
    arrays = [*batch.columns, pa.array(names, pa.string()), pa.array(versions, pa.string())]
    return pa.RecordBatch.from_arrays(
        arrays, names=[*batch.schema.names, CONTRACT, CONTRACT_VERSION]
    )


def _check_rows(task: EngineTask, validate: Validate, batch: Any) -> tuple[BatchResult, Locate]:
    n = len(task.columns)  # the first n columns, by position (see frames._map_in_arrow)
    data = pa.RecordBatch.from_arrays(batch.columns[:n], names=list(task.columns))
    unconvertible: dict[int, str] = {}
    try:
        rows = arrow_rows(data)
    except Exception:  # one bad cell (e.g. a string that is not UTF-8): convert row by row
        rows, unconvertible = _rows_one_by_one(data)
    result = validate(rows, shallow=nesting(data.schema) <= MAX_DEPTH)
    _force_errors(result, unconvertible, ErrorCode.SYSTEM_ERROR)
    if task.references:
        flags = [batch.column(flag_column(i)).to_pylist() for i in range(len(task.references))]
        add_orphans(task.references, flags, rows, result)
    uris, lines = batch.column(FILE), batch.column(ROW)

    def locate(i: int) -> tuple[bytes, str]:
        payload = b"{}" if i in unconvertible else row_payload(rows[i])
        return payload, row_coordinates(uris[i].as_py(), lines[i].as_py())

    return result, locate


def nesting(schema: Any) -> int:
    """How deep the records of an Arrow ``schema`` can nest, the record itself counting one
    (an upper bound: a map may become a list of pairs); more than ``MAX_DEPTH`` when unknown.
    No row of a schema within the depth limit needs its depth measured."""
    types = pa.types
    deepest = 1
    todo = [(f.type, 1) for f in schema]  # (type, depth of the container holding it)
    while todo:
        t, depth = todo.pop()
        children: list[Any] = []
        if types.is_struct(t):
            depth, children = depth + 1, [t.field(i).type for i in range(t.num_fields)]
        elif types.is_map(t):  # a dict, or a list of [key, value] pairs
            depth, children = depth + 2, [t.key_type, t.item_type]
        elif types.is_list(t) or types.is_large_list(t) or types.is_fixed_size_list(t):
            depth, children = depth + 1, [t.value_type]
        elif types.is_dictionary(t):
            children = [t.value_type]
        elif types.is_nested(t):  # unions, list views...: measured per row
            return MAX_DEPTH + 1
        if depth > MAX_DEPTH:
            return depth
        deepest = max(deepest, depth)
        todo += [(c, depth) for c in children]
    return deepest


def _rows_one_by_one(data: Any) -> tuple[list[Any], dict[int, str]]:
    rows: list[Any] = []
    failed: dict[int, str] = {}
    for i in range(data.num_rows):
        try:
            (row,) = arrow_rows(data.slice(i, 1))
        except Exception as exc:
            failed[i] = f"the row cannot be read as JSON values: {exc!r}"
            row = {}
        rows.append(row)
    return rows, failed


def _check_lines(task: EngineTask, validate: Validate, batch: Any) -> tuple[BatchResult, Locate]:
    offsets: list[int] = batch.column(LINE_OFFSET).to_pylist()
    payloads = _payloads(batch.column(LINE_VALUE), offsets)
    limit = task.max_record_bytes
    oversize: dict[int, str] = {}
    items = payloads
    if limit is not None and payloads and max(map(len, payloads)) > limit:
        oversize = {
            i: oversize_reason(len(p), limit) for i, p in enumerate(payloads) if len(p) > limit
        }
        items = [b"{}" if i in oversize else p for i, p in enumerate(payloads)]
    result = validate(items, keep=bool(task.references))
    _force_errors(result, oversize, ErrorCode.PARSE_ERROR)
    if task.references:
        flags = [batch.column(flag_column(i)).to_pylist() for i in range(len(task.references))]
        add_orphans(task.references, flags, result.values, result)
    paths = batch.column(LINE_PATH)

    def locate(i: int) -> tuple[bytes, str]:
        return payloads[i], line_coordinates(paths[i].as_py(), offsets[i])

    return result, locate


def _payloads(values: Any, offsets: list[int]) -> list[bytes]:
    """:func:`~.jsonl_lines.line_payload` of each line of the binary array ``values``, the
    terminators found on the array's buffers rather than line by line."""
    import numpy as np

    n = len(values)
    if not n:
        return []
    _, bounds_buffer, data_buffer = values.buffers()
    wide = pa.types.is_large_binary(values.type)
    bounds: Any = np.frombuffer(bounds_buffer, np.int64 if wide else np.int32)
    bounds = bounds[values.offset : values.offset + n + 1]
    starts, ends = bounds[:-1], bounds[1:]
    data = np.frombuffer(data_buffer, np.uint8) if data_buffer is not None else np.zeros(1)
    size = ends - starts
    newline = (size >= 1) & (data[np.maximum(ends - 1, 0)] == _NL)
    crlf = newline & (size >= 2) & (data[np.maximum(ends - 2, 0)] == _CR)
    cuts = ends - newline - crlf
    raw = data_buffer.to_pybytes() if data_buffer is not None else b""
    payloads = [raw[a:b] for a, b in zip(starts.tolist(), cuts.tolist(), strict=True)]
    for i in np.flatnonzero(np.asarray(offsets) == 0).tolist():  # a file's first line: a BOM?
        payloads[i] = line_payload(raw[starts[i] : ends[i]], 0)
    return payloads


def _check_csv(validate: Validate, batch: Any) -> tuple[BatchResult, Locate]:
    """CSV records as :func:`~dataquarantine.spark.csv_input.read_csv` gives them: each row's
    object as JSON text cells (typed by the schema, as the default engine types them), or the
    reader's reason when the row could not be decoded (a ``parse_error``)."""
    raws: list[bytes] = batch.column(LINE_VALUE).to_pylist()
    reasons: list[str | None] = batch.column(CSV_ERROR).to_pylist()
    items = [
        orjson.loads(raw) if why is None else None for raw, why in zip(raws, reasons, strict=True)
    ]
    result = validate(items, text=True)
    _force_errors(
        result, {i: why for i, why in enumerate(reasons) if why is not None}, ErrorCode.PARSE_ERROR
    )
    paths, lines = batch.column(LINE_PATH), batch.column(CSV_LINE)

    def locate(i: int) -> tuple[bytes, str]:
        return raws[i], row_coordinates(paths[i].as_py(), lines[i].as_py())

    return result, locate


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


def _violations_array(n: int, found: dict[int, tuple[Violation, ...]]) -> Any:
    """The list column of ``n`` rows holding ``found[i]`` at row ``i`` (empty elsewhere)."""
    import numpy as np

    kind = violations_arrow_type()
    counts = np.zeros(n + 1, np.int32)
    items: list[dict[str, str | None]] = []
    for i in sorted(found):
        counts[i + 1] = len(found[i])
        items.extend(_violation_rows(found[i]))
    offsets = pa.array(np.cumsum(counts, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(items, kind.value_type), type=kind)


def _with_verdicts(batch: Any, result: BatchResult, locate: Locate) -> Any:
    import numpy as np

    n = batch.num_rows
    valid = np.ones(n, np.bool_)
    kept: list[bytes | None] = [None] * n
    ids: list[str | None] = [None] * n
    errors: dict[int, tuple[Violation, ...]] = {}
    warnings = dict(result.warnings)
    for i, res in result.invalid.items():
        valid[i] = False
        errors[i] = res.errors
        if res.warnings:
            warnings[i] = res.warnings
        payload, coordinates = locate(i)
        kept[i] = payload
        ids[i] = record_id(coordinates, payload)
    arrays = [
        *batch.columns,
        pa.array(valid),
        _violations_array(n, errors),
        _violations_array(n, warnings),
        pa.array(kept, pa.binary()),
        pa.array(ids, pa.string()),
    ]
    names = [*batch.schema.names, VALID, ERRORS, WARNINGS, PAYLOAD, ID]
    return pa.RecordBatch.from_arrays(arrays, names=names)


def run_reference_keys(task: EngineTask, batches: Iterator[Any]) -> Iterator[Any]:
    """``mapInArrow`` body for JSON lines with references: each batch with one column per
    reference (:func:`~.references.key_column`), the record's value there as the engine decodes
    it, in the text the join compares (null: absent, null, or a line that does not decode)."""
    if task.contract is None:
        raise ValueError("references need one contract, not routes")
    contract = compiled(task.contract)
    limit = task.max_record_bytes
    for batch in batches:
        lines: list[bytes] = batch.column(LINE_VALUE).to_pylist()
        offsets: list[int] = batch.column(LINE_OFFSET).to_pylist()
        values: list[Any] = []
        for line, offset in zip(lines, offsets, strict=True):
            payload = line_payload(line, offset)
            try:
                ok = limit is None or len(payload) <= limit
                values.append(contract.decode(payload) if ok else None)
            except Exception:  # a parse_error, which the engine tier reports
                values.append(None)
        keys = [
            pa.array(
                [key_text(v.get(spec.field_column)) if type(v) is dict else None for v in values],
                pa.string(),
            )
            for spec in task.references
        ]
        names = [key_column(i) for i in range(len(keys))]
        yield pa.RecordBatch.from_arrays(
            [*batch.columns, *keys], names=[*batch.schema.names, *names]
        )
