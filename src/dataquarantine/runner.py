"""A file validation run: read batches -> validate -> quarantine the bad -> write the good.

Per batch, in this order:

1. validate the batch (every violation of every record);
2. quarantine the invalid records (one payload chunk + one metadata transaction, retried on
   transient failures; an outage that outlasts the retry budget stops the run with an error,
   it never drops a record);
3. write the valid records to the valid sink;
4. count: ``total == valid + quarantined`` holds after every batch.

Between 1 and 2, an invalid record whose contract has a ``remediation:`` section gets the
double pass (:mod:`dataquarantine.remediation`): when the fixed record is valid it is written
to the valid sink in place of the original and counted as valid (and ``remediated``), while the
original bytes are quarantined with status ``remediated`` and the fix as revision 1.

Invalid records are buffered and written to the quarantine in groups of ``quarantine_batch``
records (and at the end of the run): each group is one chunk object and one durable commit,
so the cost of the commit (an fsync) is paid per group, not per input batch. The valid output
is published only after the last group is durable, so a crashed run claims nothing.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dataquarantine.io.arrow_replace import replace_rows
from dataquarantine.io.readers import detect_format, read_batches
from dataquarantine.io.records import (
    DEFAULT_MAX_RECORD_BYTES,
    InputFormat,
    RecordBatch,
    oversize_reason,
)
from dataquarantine.io.sinks import ValidSink, open_valid_sink
from dataquarantine.kernel.ids import new_run_id
from dataquarantine.kernel.results import BatchResult, ErrorCode, ValidationResult, Violation
from dataquarantine.quarantine.envelope import FileSource, QuarantineItem
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.remediation import Attempt, Remediation, attempt_invalid
from dataquarantine.validation.registry import Router

__all__ = [
    "ContractCounts",
    "QuarantineWriter",
    "RunSummary",
    "Source",
    "ValidationRun",
    "input_uri",
]

NO_CONTRACT = "(none)"
#: The labels of :attr:`RunSummary.by_schema`, as the stream worker's metrics name them.
UNKNOWN_SCHEMA, VALID_LABEL = "unknown", "valid"


class QuarantineWriter(Protocol):
    """Where a run's invalid records go: a :class:`Quarantine`, or (``validate --workers``)
    a collector whose items another process writes."""

    def write(self, items: Sequence[QuarantineItem]) -> object: ...


@dataclass
class ContractCounts:
    total: int = 0
    valid: int = 0
    quarantined: int = 0
    remediated: int = 0


@dataclass
class RunSummary:
    """Counts of one run. ``by_code`` counts quarantined records by their headline (first)
    code, so it sums to ``quarantined``; ``violations_by_code`` counts every violation.
    ``valid`` includes the ``remediated`` records (valid after the double pass)."""

    run_id: str
    total: int = 0
    valid: int = 0
    quarantined: int = 0
    warned: int = 0
    by_code: Counter[str] = field(default_factory=Counter)
    violations_by_code: Counter[str] = field(default_factory=Counter)
    by_contract: dict[str, ContractCounts] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    seconds: float = 0.0
    remediated: int = 0
    #: The double pass's counters (records by outcome, rule applications by action).
    remediation: dict[str, Any] = field(default_factory=dict)
    #: Records by (contract name, ``valid`` or headline code): the stream worker's labels.
    by_schema: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: Failing records by (``name@version``, check, path): the check is the error code, or
    #: ``rule:<id>`` for a rule (each record counted once per check and path).
    failures: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    @property
    def reconciles(self) -> bool:
        return self.total == self.valid + self.quarantined

    @property
    def records_per_second(self) -> float:
        return self.total / self.seconds if self.seconds > 0 else 0.0

    def add(self, batch: BatchResult) -> None:
        self.total += batch.size
        self.quarantined += batch.invalid_count
        self.valid += batch.valid_count
        self.warned += len(batch.warnings)
        # Refs are shared objects (one per contract), so count identities in C, then name them.
        by_id = Counter(map(id, batch.contracts))
        ref_of = dict(zip(map(id, batch.contracts), batch.contracts, strict=True))
        per: Counter[str] = Counter()
        schema_of: dict[str, str] = {}
        for key, count in by_id.items():
            ref = ref_of[key]
            name = str(ref) if ref else NO_CONTRACT
            per[name] += count
            schema_of[name] = ref.name if ref else UNKNOWN_SCHEMA
        bad: Counter[str] = Counter()
        for res in batch.invalid.values():
            bad[str(res.contract) if res.contract else NO_CONTRACT] += 1
            schema = res.contract.name if res.contract else UNKNOWN_SCHEMA
            self.by_schema[(schema, res.errors[0].code.value)] += 1
            self.by_code[res.errors[0].code.value] += 1
            named = str(res.contract) if res.contract else NO_CONTRACT
            seen: set[tuple[str, str, str]] = set()
            for v in res.errors:
                self.violations_by_code[v.code.value] += 1
                check = f"rule:{v.rule}" if v.rule is not None else v.code.value
                seen.add((named, check, v.path))
            self.failures.update(seen)
        for name, count in per.items():
            if count > bad[name]:
                self.by_schema[(schema_of[name], VALID_LABEL)] += count - bad[name]
            c = self.by_contract.setdefault(name, ContractCounts())
            c.total += count
            c.quarantined += bad[name]
            c.valid += count - bad[name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "inputs": self.inputs,
            "total": self.total,
            "valid": self.valid,
            "quarantined": self.quarantined,
            "warned": self.warned,
            "remediated": self.remediated,
            "reconciles": self.reconciles,
            "by_code": dict(sorted(self.by_code.items())),
            "violations_by_code": dict(sorted(self.violations_by_code.items())),
            "by_contract": {
                k: {
                    "total": v.total,
                    "valid": v.valid,
                    "quarantined": v.quarantined,
                    "remediated": v.remediated,
                }
                for k, v in sorted(self.by_contract.items())
            },
            "remediation": self.remediation,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records_per_second, 1),
        }


@dataclass(frozen=True, slots=True)
class Source:
    """One input of a run: its name as given, its source URI (see :func:`input_uri`) and its
    record batches."""

    path: str
    uri: str
    batches: Iterable[RecordBatch]


class ValidationRun:
    """Validates files through a :class:`Router` into a :class:`Quarantine` and a valid sink."""

    def __init__(
        self,
        router: Router,
        quarantine: Quarantine | QuarantineWriter,
        *,
        valid_out: Path | None = None,
        batch_size: int = 10_000,
        quarantine_batch: int = 10_000,
        run_id: str | None = None,
        remediation: Remediation | None = None,
        remediate: bool = True,
        max_record_bytes: int | None = DEFAULT_MAX_RECORD_BYTES,
    ) -> None:
        self.router = router
        #: JSONL lines longer than this are quarantined as ``parse_error`` without being
        #: parsed (``None``: no limit): parsing costs many times the line's size in memory.
        self.max_record_bytes = max_record_bytes
        self.quarantine = quarantine
        self.valid_out = valid_out
        self.batch_size = batch_size
        self.quarantine_batch = quarantine_batch
        self.summary = RunSummary(run_id=run_id or new_run_id())
        self._pending: list[QuarantineItem] = []
        #: The double pass (``remediate=False``: invalid records are only quarantined).
        self.remediation = (remediation or Remediation()) if remediate else None

    def run(
        self,
        inputs: Sequence[str],
        *,
        fmt: InputFormat | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> RunSummary:
        """Validate every input in turn; ``on_batch(n)`` is called after each batch."""
        formats = [detect_format(p, fmt) for p in inputs]
        sources = (
            Source(path, input_uri(path), read_batches(path, fmt=f, batch_size=self.batch_size))
            for path, f in zip(inputs, formats, strict=True)
        )
        return self.run_sources(sources, formats[0], on_batch=on_batch)

    def run_sources(
        self,
        sources: Iterable[Source],
        sink_format: InputFormat,
        *,
        on_batch: Callable[[int], None] | None = None,
        sink: ValidSink | None = None,
    ) -> RunSummary:
        """Validate the batches of every source in turn (``sink_format``: the format of the
        input whose valid records ``valid_out`` receives); the work of :meth:`run`, also
        for a part of a file (``validate --workers``). ``sink``: an open sink to write the
        valid records to instead of opening ``valid_out`` (closed or aborted here)."""
        started = time.perf_counter()
        if sink is None and self.valid_out is not None:
            types = self.router.forced.column_types() if self.router.forced else None
            sink = open_valid_sink(self.valid_out, sink_format, column_types=types)
        try:
            for source in sources:
                self.summary.inputs.append(source.path)
                for batch in source.batches:
                    self._one_batch(batch, source.uri, sink)
                    if on_batch is not None:
                        on_batch(len(batch.raws))
            self._flush_quarantine()
            if sink is not None:
                sink.close()
                sink = None
        finally:
            if sink is not None:
                sink.abort()
            self.summary.seconds = time.perf_counter() - started
            if self.remediation is not None:
                self.summary.remediation = self.remediation.stats.to_dict()
        return self.summary

    def _flush_quarantine(self) -> None:
        if self._pending:
            self.quarantine.write(self._pending)
            self._pending = []

    @staticmethod
    def _unreadable_rows(errors: dict[int, str], result: BatchResult) -> None:
        """Records that could not be decoded (CSV) or were too large to parse (JSONL) are
        parse errors, whatever the engine said."""
        for i, reason in errors.items():
            ref = result.contracts[i]
            result.invalid[i] = ValidationResult(
                False, (Violation(ErrorCode.PARSE_ERROR, "", reason),), contract=ref
            )
            result.warnings.pop(i, None)

    def _one_batch(self, batch: RecordBatch, uri: str, sink: ValidSink | None) -> None:
        # 1. validate (decoded values are only needed when the sink types its columns)
        items = batch.raws if batch.values is None else batch.values
        oversize = self._oversize(batch.raws) if batch.values is None else {}
        if oversize:
            items = [b"{}" if i in oversize else raw for i, raw in enumerate(items)]
        keep = batch.format == "csv" and sink is not None
        result = self.router.validate_batch(items, text=batch.format == "csv", keep_values=keep)
        if batch.decode_errors:
            self._unreadable_rows(batch.decode_errors, result)
        if oversize:
            self._unreadable_rows(oversize, result)
        # 1b. the double pass, for contracts with remediation rules
        remediation = self.remediation
        attempts = (
            attempt_invalid(remediation, result, self.router.lookup)
            if remediation is not None and result.invalid
            else {}
        )
        fixed = {i: a for i, a in attempts.items() if a.valid}
        if fixed:
            batch = self._patched(batch, result, fixed, attempts)
        # 2. quarantine the invalid ones (durable before the output is published)
        if result.invalid:
            run_id = self.summary.run_id
            raws, lines = batch.raws, batch.lines
            self._pending.extend(
                QuarantineItem(
                    source=FileSource(uri=uri, line=lines[i]),
                    payload=raws[i],
                    errors=res.errors,
                    contract=res.contract,
                    run_id=run_id,
                    remediation=attempts[i].revision if i in attempts else None,
                )
                for i, res in result.invalid.items()
            )
            if len(self._pending) >= self.quarantine_batch:
                self._flush_quarantine()
        if fixed:  # remediated: valid from here on (their originals are quarantined above)
            for i in fixed:
                ref = result.invalid.pop(i).contract
                c = self.summary.by_contract.setdefault(str(ref), ContractCounts())
                c.remediated += 1
            self.summary.remediated += len(fixed)
        # 3. write the valid ones
        if sink is not None:
            invalid = result.invalid
            valid = (
                range(result.size)
                if not invalid
                else [i for i in range(result.size) if i not in invalid]
            )
            sink.write(batch, valid, result.values if batch.values is not None else None)
        # 4. count
        self.summary.add(result)

    def _oversize(self, raws: list[bytes]) -> dict[int, str]:
        limit = self.max_record_bytes
        if limit is None or not raws or max(map(len, raws)) <= limit:
            return {}
        return {
            i: oversize_reason(len(raw), limit) for i, raw in enumerate(raws) if len(raw) > limit
        }

    def _patched(
        self,
        batch: RecordBatch,
        result: BatchResult,
        fixed: dict[int, Attempt],
        attempts: dict[int, Attempt],
    ) -> RecordBatch:
        """``batch`` with the remediated records in place of their originals, for the sink.

        A fixed Parquet row that does not fit the input's column types is not remediated
        after all: it is dropped from ``fixed`` and its attempt records why."""
        if batch.format == "parquet" and batch.table is not None:
            table, misfits = replace_rows(batch.table, {i: a.value for i, a in fixed.items()})
            for i, reason in misfits.items():
                attempt = fixed.pop(i)
                misfit = Violation(ErrorCode.SYSTEM_ERROR, "", reason)
                revision = dataclasses.replace(attempt.revision, errors=(misfit,))
                ref = result.invalid[i].contract
                if self.remediation is not None and ref is not None:
                    self.remediation.stats.demote(ref.name)
                attempts[i] = dataclasses.replace(attempt, revision=revision)
            batch = dataclasses.replace(batch, table=table)
        for i, attempt in fixed.items():
            result.values[i] = attempt.value
        if batch.originals is not None:  # JSONL: the fixed bytes, with the line's terminator
            originals = list(batch.originals)
            for i, attempt in fixed.items():
                line = originals[i]
                end = b"\r\n" if line.endswith(b"\r\n") else b"\n" if line.endswith(b"\n") else b""
                originals[i] = attempt.revision.payload + end
            return dataclasses.replace(batch, originals=originals)
        return batch


def input_uri(path: str) -> str:
    """The source URI of an input: ``-`` for standard input, else a ``file:`` URI (a regular
    file by its resolved path; a device such as ``/dev/stdin`` by the name given)."""
    if path == "-":
        return path
    p = Path(path)
    return (p.resolve() if p.is_file() else p.absolute()).as_uri()
