"""A file validation run: read batches -> validate -> quarantine the bad -> write the good.

Per batch, in this order:

1. validate the batch (every violation of every record);
2. quarantine the invalid records (one payload chunk + one metadata transaction, retried on
   transient failures; an outage that outlasts the retry budget stops the run with an error,
   it never drops a record);
3. write the valid records to the valid sink;
4. count: ``total == valid + quarantined`` holds after every batch.

Invalid records are buffered and written to the quarantine in groups of ``quarantine_batch``
records (and at the end of the run): each group is one chunk object and one durable commit,
so the cost of the commit (an fsync) is paid per group, not per input batch. The valid output
is published only after the last group is durable, so a crashed run claims nothing.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataquarantine.io.readers import detect_format, read_batches
from dataquarantine.io.records import InputFormat, RecordBatch
from dataquarantine.io.sinks import ValidSink, open_valid_sink
from dataquarantine.quarantine.envelope import FileSource, QuarantineItem
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.validation.registry import Router
from dataquarantine.validation.result import BatchResult, ErrorCode, ValidationResult, Violation

__all__ = ["ContractCounts", "RunSummary", "ValidationRun", "new_run_id"]

NO_CONTRACT = "(none)"


def new_run_id() -> str:
    """A sortable run id: UTC timestamp plus a random suffix."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]


@dataclass
class ContractCounts:
    total: int = 0
    valid: int = 0
    quarantined: int = 0


@dataclass
class RunSummary:
    """Counts of one run. ``by_code`` counts quarantined records by their headline (first)
    code, so it sums to ``quarantined``; ``violations_by_code`` counts every violation."""

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
        for key, count in by_id.items():
            ref = ref_of[key]
            per[str(ref) if ref else NO_CONTRACT] += count
        bad: Counter[str] = Counter()
        for res in batch.invalid.values():
            bad[str(res.contract) if res.contract else NO_CONTRACT] += 1
            self.by_code[res.errors[0].code.value] += 1
            for v in res.errors:
                self.violations_by_code[v.code.value] += 1
        for name, count in per.items():
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
            "reconciles": self.reconciles,
            "by_code": dict(sorted(self.by_code.items())),
            "violations_by_code": dict(sorted(self.violations_by_code.items())),
            "by_contract": {
                k: {"total": v.total, "valid": v.valid, "quarantined": v.quarantined}
                for k, v in sorted(self.by_contract.items())
            },
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records_per_second, 1),
        }


class ValidationRun:
    """Validates files through a :class:`Router` into a :class:`Quarantine` and a valid sink."""

    def __init__(
        self,
        router: Router,
        quarantine: Quarantine,
        *,
        valid_out: Path | None = None,
        batch_size: int = 10_000,
        quarantine_batch: int = 10_000,
        run_id: str | None = None,
    ) -> None:
        self.router = router
        self.quarantine = quarantine
        self.valid_out = valid_out
        self.batch_size = batch_size
        self.quarantine_batch = quarantine_batch
        self.summary = RunSummary(run_id=run_id or new_run_id())
        self._pending: list[QuarantineItem] = []

    def run(
        self,
        inputs: Sequence[str],
        *,
        fmt: InputFormat | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> RunSummary:
        """Validate every input in turn; ``on_batch(n)`` is called after each batch."""
        started = time.perf_counter()
        formats = [detect_format(p, fmt) for p in inputs]
        sink: ValidSink | None = None
        if self.valid_out is not None:
            types = self.router.forced.column_types() if self.router.forced else None
            sink = open_valid_sink(self.valid_out, formats[0], column_types=types)
        try:
            for path, input_format in zip(inputs, formats, strict=True):
                self.summary.inputs.append(path)
                uri = path if path == "-" else Path(path).resolve().as_uri()
                for batch in read_batches(path, fmt=input_format, batch_size=self.batch_size):
                    self._one_batch(batch, uri, sink)
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
        return self.summary

    def _flush_quarantine(self) -> None:
        if self._pending:
            self.quarantine.write(self._pending)
            self._pending = []

    @staticmethod
    def _unreadable_rows(batch: RecordBatch, result: BatchResult) -> None:
        """CSV rows the reader could not decode are parse errors, whatever the engine said."""
        assert batch.decode_errors is not None
        for i, reason in batch.decode_errors.items():
            ref = result.contracts[i]
            result.invalid[i] = ValidationResult(
                False, (Violation(ErrorCode.PARSE_ERROR, "", reason),), contract=ref
            )
            result.warnings.pop(i, None)

    def _one_batch(self, batch: RecordBatch, uri: str, sink: ValidSink | None) -> None:
        # 1. validate (decoded values are only needed when the sink types its columns)
        items = batch.raws if batch.values is None else batch.values
        keep = batch.format == "csv" and sink is not None
        result = self.router.validate_batch(items, text=batch.format == "csv", keep_values=keep)
        if batch.decode_errors:
            self._unreadable_rows(batch, result)
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
                )
                for i, res in result.invalid.items()
            )
            if len(self._pending) >= self.quarantine_batch:
                self._flush_quarantine()
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
