"""``validate --workers N``: one run's inputs validated by N processes, as one process would.

The inputs are cut into tasks: a JSONL file into byte ranges that start on line starts
(:mod:`dataquarantine.io.ranges`), a Parquet file into runs of row groups (each knows its
first row from the footer), a CSV file is one task (a CSV cell may hold a line end, so a CSV
file cannot be cut without reading it).
This process counts the line ends of every range first (while the workers start), so each
record keeps the line number, hence the quarantine id, it has in a one-process run. Each task
runs a :class:`~dataquarantine.runner.ValidationRun` in one of ``N - 1`` workers (forked from
this process with its compiled contracts on Linux, ``spawn`` processes elsewhere) or in this
process, which takes tasks from the back of the list while the workers take them from the
front. Valid lines go to a part file; invalid records come back with the task's result and
this process quarantines them from one writer thread, in groups of :data:`QUARANTINE_GROUP`
(the store has a single writer, and few fsynced writes). When every task is done and the
last group is durable, the parts are appended in input order into ``--valid-out``, byte for
byte what one process writes, and the tasks' counts are added up into one summary.

A worker that dies (``SIGKILL``, out of memory) fails the run with :class:`WorkerError`
before anything is published (the records of the finished tasks are written all the same);
quarantine writes are idempotent (deterministic ids), so running the command again completes
the run with neither loss nor duplicate.

One process is used (exactly the path of ``--workers 1``) for standard input and pipes, for
CSV/Parquet input with ``--valid-out`` (its Parquet output is not cut into parts), and when the
inputs make a single task.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import gc
import multiprocessing
import multiprocessing.context
import os
import queue
import shutil
import stat
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from dataquarantine.errors import WorkerError
from dataquarantine.io.ranges import MIN_RANGE_BYTES, ByteRange, count_line_ends, split_lines
from dataquarantine.io.records import InputFormat, RecordBatch
from dataquarantine.kernel.results import Violation
from dataquarantine.quarantine.envelope import FileSource, QuarantineItem
from dataquarantine.runner import ContractCounts, RunSummary, Source
from dataquarantine.settings import Settings

if TYPE_CHECKING:
    from dataquarantine.quarantine.service import Quarantine
    from dataquarantine.validation.registry import Router

__all__ = [
    "EXPLICIT_MIN_RANGE_BYTES",
    "QUARANTINE_GROUP",
    "Task",
    "WorkerConfig",
    "plan_tasks",
    "run_on_workers",
    "validate_task",
]

#: With ``--workers`` given, a JSONL file is cut into ranges of at least this size (by default
#: :data:`~dataquarantine.io.ranges.MIN_RANGE_BYTES`: starting a process costs ~0.5 s).
EXPLICIT_MIN_RANGE_BYTES: Final = 64 << 10
#: Ranges per process: more make the last tasks shorter (a worker is committed to the one it
#: runs and the one queued for it), at the cost of a result message and a part file each.
RANGES_PER_WORKER: Final = 4
#: The parent writes the workers' invalid records in groups of at least this many.
QUARANTINE_GROUP: Final = 10_000


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """What every worker needs to validate like the parent would (sent once per process)."""

    settings: Settings
    contract: str | None
    run_id: str
    batch_size: int
    remediate: bool
    max_record_bytes: int | None


@dataclass(frozen=True, slots=True)
class Task:
    """One file, or one byte range of a JSONL file (``span``), validated by one worker."""

    path: str
    format: InputFormat
    span: ByteRange | None = None
    first_line: int = 1
    #: Parquet: these consecutive row groups, the first one starting at row ``first_row``.
    row_groups: tuple[int, ...] | None = None
    first_row: int = 0


#: A quarantine item as plain tuples: pickling a slotted dataclass runs Python code per
#: object (~15 us an item), tuples of strings and ints cost a fraction of it.
_Packed = tuple[Any, ...]


def _packed(item: QuarantineItem) -> _Packed:
    source = item.source
    assert isinstance(source, FileSource)
    errors = tuple((v.code, v.path, v.message, v.rule, v.keyword, v.severity) for v in item.errors)
    return (
        source.uri,
        source.line,
        source.offset,
        item.payload,
        errors,
        item.contract,
        item.run_id,
        item.remediation,
    )


def _unpacked(row: _Packed) -> QuarantineItem:
    uri, line, offset, payload, errors, contract, run_id, remediation = row
    return QuarantineItem(
        FileSource(uri=uri, line=line, offset=offset),
        payload,
        tuple(Violation(*e) for e in errors),
        contract,
        run_id,
        remediation,
    )


@dataclass(frozen=True, slots=True)
class _Done:
    summary: RunSummary
    remediation: tuple[Counter[Any], Counter[Any], Counter[Any]]
    #: The task's invalid records (:func:`_packed`), written by the parent (one writer, few
    #: big writes).
    items: tuple[_Packed, ...] = ()


def plan_tasks(
    inputs: Sequence[str],
    formats: Sequence[InputFormat],
    workers: int,
    *,
    valid_out: bool,
    min_range_bytes: int = MIN_RANGE_BYTES,
) -> list[Task] | None:
    """The tasks of a run on ``workers`` processes, or ``None`` when one process is the way
    (standard input or a pipe, CSV/Parquet with a valid output, a single task)."""
    if workers < 2:
        return None
    if valid_out and any(f != "jsonl" for f in formats):
        return None
    sizes = []
    for path in inputs:
        try:
            st = os.stat(path)
        except OSError:
            return None  # "-", or an error the one-process path reports as usual
        if not stat.S_ISREG(st.st_mode):
            return None
        sizes.append(st.st_size)
    if sum(sizes) < min_range_bytes:
        return None
    tasks: list[Task] = []
    share = max(1, sum(sizes) // (workers * RANGES_PER_WORKER))
    for path, fmt, size in zip(inputs, formats, sizes, strict=True):
        if fmt == "parquet":
            tasks += _row_group_tasks(path, workers * RANGES_PER_WORKER)
            continue
        if fmt != "jsonl":
            tasks.append(Task(path, fmt))
            continue
        parts = max(1, min(size // max(share, min_range_bytes), workers * RANGES_PER_WORKER))
        for span in split_lines(path, parts, min_bytes=min_range_bytes):
            tasks.append(Task(path, fmt, span))
    return tasks if len(tasks) > 1 else None


def _row_group_tasks(path: str, parts: int) -> list[Task]:
    """A Parquet file as up to ``parts`` tasks of consecutive row groups."""
    from dataquarantine.extras import require_extra

    require_extra("parquet", "Parquet input")
    from dataquarantine.io.arrow_readers import parquet_row_groups

    rows = parquet_row_groups(path)
    if len(rows) < 2:
        return [Task(path, "parquet")]
    step = -(-len(rows) // min(parts, len(rows)))
    tasks = []
    for first in range(0, len(rows), step):
        groups = tuple(range(first, min(first + step, len(rows))))
        tasks.append(Task(path, "parquet", row_groups=groups, first_row=sum(rows[:first])))
    return tasks


# -- in the worker processes ----------------------------------------------------------------

_STATE: dict[str, Any] = {}


def _start(config: WorkerConfig) -> None:
    """Open the registry and router of this worker process (once). A forked worker has the
    parent's already (set by :func:`_execute` before the fork): nothing to load."""
    if _STATE:
        return
    from dataquarantine.cli.common import open_contracts
    from dataquarantine.validation.registry import Router

    live = open_contracts(config.settings)
    atexit.register(live.close)
    _STATE.update(config=config, router=Router(live.registry, contract=config.contract))


def _validate(task: Task, part: str | None) -> _Done:
    return validate_task(_STATE["router"], _STATE["config"], task, part)


class _Collected:
    """The quarantine of a task: its invalid records, kept for the parent's writer."""

    def __init__(self) -> None:
        self.items: list[QuarantineItem] = []

    def write(self, items: Sequence[QuarantineItem]) -> None:
        self.items.extend(items)


def validate_task(router: Router, config: WorkerConfig, task: Task, part: str | None) -> _Done:
    """Validate one task (in a worker, or in the parent), its valid lines to ``part``; its
    invalid records are returned (:attr:`_Done.items`), for the parent to quarantine."""
    from dataquarantine.io.ranges import read_jsonl_range
    from dataquarantine.io.readers import read_batches
    from dataquarantine.io.sinks import JsonlValidSink
    from dataquarantine.io.targets import DirectTarget
    from dataquarantine.runner import ValidationRun, input_uri

    collected = _Collected()
    run = ValidationRun(
        router,
        collected,
        batch_size=config.batch_size,
        run_id=config.run_id,
        remediate=config.remediate,
        max_record_bytes=config.max_record_bytes,
    )
    uri = input_uri(task.path)
    batches: Iterable[RecordBatch]
    if task.row_groups is not None:
        from dataquarantine.io.arrow_readers import read_parquet_batches

        batches = read_parquet_batches(
            task.path,
            batch_size=config.batch_size,
            row_groups=task.row_groups,
            first_row=task.first_row,
        )
    elif task.span is None:
        batches = read_batches(task.path, fmt=task.format, batch_size=config.batch_size)
    else:
        batches = read_jsonl_range(
            task.path, task.span, task.first_line, uri, batch_size=config.batch_size
        )
    # A scratch file: written in place, no fsync (the parent's --valid-out is the durable one).
    sink = JsonlValidSink(part, target=DirectTarget(part)) if part else None
    summary = run.run_sources([Source(task.path, uri, batches)], task.format, sink=sink)
    stats = run.remediation.stats if run.remediation is not None else None
    counters: tuple[Counter[Any], Counter[Any], Counter[Any]] = (
        (stats.records, stats.actions, stats.by_contract)
        if stats is not None
        else (Counter(), Counter(), Counter())
    )
    return _Done(summary, counters, tuple(map(_packed, collected.items)))


# -- in the parent ----------------------------------------------------------------------------


def run_on_workers(
    tasks: Sequence[Task],
    config: WorkerConfig,
    *,
    inputs: Sequence[str],
    workers: int,
    valid_out: Path | None,
    local: tuple[Router, Quarantine],
    on_task: Callable[[int], None] | None = None,
) -> RunSummary:
    """Validate ``tasks`` on ``workers`` processes, this one included (``local``: its router
    and quarantine); publish ``valid_out`` (JSONL) when every
    task succeeded. Raises :class:`WorkerError` when a worker process dies."""
    from dataquarantine.io.sinks import JsonlValidSink, open_valid_sink

    started = time.perf_counter()
    # Opened first: a bad --valid-out is refused before any work, as with one process.
    sink = open_valid_sink(valid_out, "jsonl") if valid_out is not None else None
    parts_dir = tempfile.mkdtemp(prefix=".dq-parts-", dir=_parts_parent(valid_out))
    try:
        parts = [
            os.path.join(parts_dir, f"{i:06d}.jsonl") if sink is not None else None
            for i in range(len(tasks))
        ]
        done = _execute(tasks, parts, config, local, workers, on_task)
        summary = _merged(config, done, inputs)
        if sink is not None:
            assert isinstance(sink, JsonlValidSink)
            for part in parts:
                if part is not None and os.path.exists(part):
                    sink.append_file(part)
            sink.close()
            sink = None
    finally:
        if sink is not None:
            sink.abort()
        shutil.rmtree(parts_dir, ignore_errors=True)
    summary.seconds = time.perf_counter() - started
    return summary


def _parts_parent(valid_out: Path | None) -> str | None:
    """Parts are written next to the output (same disk), else in the temporary folder."""
    if valid_out is None or str(valid_out) == "-":
        return None
    parent = valid_out.resolve().parent
    if valid_out.exists() and not valid_out.resolve().is_file():
        return None  # a FIFO or a device: its folder may not be writable
    return str(parent) if os.access(parent, os.W_OK) else None


def _execute(
    tasks: Sequence[Task],
    parts: Sequence[str | None],
    config: WorkerConfig,
    local: tuple[Router, Quarantine],
    workers: int,
    on_task: Callable[[int], None] | None,
) -> list[_Done]:
    """Run ``tasks`` on ``workers - 1`` processes and this one: the pool takes them from the
    front, this process from the back (the ones the pool has not started), so this process
    works while the others start up. Every task's invalid records go to one writer thread;
    this returns once they are all durable (raises, after writing what arrived, if not)."""
    router, quarantine = local
    context = _context()
    if context.get_start_method() == "fork":
        _STATE.update(config=config, router=router)  # inherited: the workers load nothing
    pool = ProcessPoolExecutor(
        max_workers=workers - 1, mp_context=context, initializer=_start, initargs=(config,)
    )
    writer: _GroupWriter | None = None
    try:
        # The workers start (forked at the first submit) while this process counts lines.
        # Frozen, the inherited objects are never traversed by a worker's garbage collector,
        # which would otherwise write to (hence copy) every page of them.
        gc.freeze()
        try:
            for _ in range(workers - 1):
                pool.submit(int)
        finally:
            gc.unfreeze()
        # Started after the fork: a forked child gets no copy of a thread or of its locks.
        writer = _GroupWriter(quarantine)
        numbered = _numbered(tasks)
        futures = [pool.submit(_validate, t, p) for t, p in zip(numbered, parts, strict=True)]
        done: dict[int, _Done] = {}

        def finished(i: int, result: _Done) -> None:
            assert writer is not None
            writer.put(result.items)
            done[i] = dataclasses.replace(result, items=())
            if on_task is not None:
                on_task(result.summary.total)

        for i in reversed(range(len(tasks))):
            if not futures[i].cancel():
                break
            finished(i, validate_task(router, config, numbered[i], parts[i]))
        for i, future in enumerate(futures):
            if i not in done:
                finished(i, future.result())
        final, writer = writer, None
        assert final is not None
        final.close()  # every invalid record durable before anything is published
        return [done[i] for i in range(len(tasks))]
    except BrokenProcessPool as exc:
        raise WorkerError(
            "a worker process died (killed, or out of memory): nothing was published; run "
            "the command again to complete the run (quarantined records are not duplicated)"
        ) from exc
    finally:
        if writer is not None:  # failing: what arrived is written all the same (idempotent)
            with contextlib.suppress(Exception):
                writer.close()
        pool.shutdown(wait=True, cancel_futures=True)
        _STATE.clear()


def _context() -> multiprocessing.context.BaseContext:
    """``fork`` where there is one (Linux): a worker starts with this process's compiled
    contracts, no imports and no loading (~0.5 s of CPU each with ``spawn``)."""
    if sys.platform == "linux":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


class _GroupWriter:
    """The quarantine writes of a run, from one thread: the tasks' invalid records in groups
    of at least :data:`QUARANTINE_GROUP` (a payload chunk and a transaction, each fsynced,
    per group). Waiting on the disk releases the GIL, so validating goes on meanwhile."""

    def __init__(self, quarantine: Quarantine, group: int = QUARANTINE_GROUP) -> None:
        self._quarantine = quarantine
        self._group = group
        self._queue: queue.SimpleQueue[tuple[_Packed, ...] | None] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="dq-quarantine", daemon=True)
        self._thread.start()

    def put(self, items: tuple[_Packed, ...]) -> None:
        """Queue one task's records (raises the error of a failed write, if any)."""
        if self._error is not None:
            raise self._error
        if items:
            self._queue.put(items)

    def close(self) -> None:
        """Write what is left and wait for it; raises the error of a failed write."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _loop(self) -> None:
        pending: list[QuarantineItem] = []
        while (items := self._queue.get()) is not None:
            pending.extend(map(_unpacked, items))
            if len(pending) >= self._group:
                self._write(pending)
                pending = []
        self._write(pending)

    def _write(self, items: list[QuarantineItem]) -> None:
        if items and self._error is None:
            try:
                self._quarantine.write(items)
            except BaseException as exc:  # raised in the caller's thread
                self._error = exc


def _numbered(tasks: Sequence[Task]) -> list[Task]:
    """``tasks`` with the line number of each range's first line: 1 + the line ends of the
    file's ranges before it."""
    numbered: list[Task] = []
    line = 1
    for i, task in enumerate(tasks):
        if task.span is None:
            numbered.append(task)
            continue
        if task.span.start == 0:
            line = 1
        numbered.append(Task(task.path, task.format, task.span, line))
        last_of_file = i + 1 == len(tasks) or tasks[i + 1].path != task.path
        if not last_of_file:
            line += count_line_ends(task.path, task.span)
    return numbered


def _merged(config: WorkerConfig, done: Sequence[_Done], inputs: Sequence[str]) -> RunSummary:
    """The tasks' summaries added up into the one summary of the run."""
    from dataquarantine.remediation.double_pass import RemediationStats

    summary = RunSummary(run_id=config.run_id, inputs=list(inputs))
    stats = RemediationStats()
    for result in done:
        part = result.summary
        summary.total += part.total
        summary.valid += part.valid
        summary.quarantined += part.quarantined
        summary.warned += part.warned
        summary.remediated += part.remediated
        summary.by_code.update(part.by_code)
        summary.violations_by_code.update(part.violations_by_code)
        summary.by_schema.update(part.by_schema)
        summary.failures.update(part.failures)
        for name, counts in part.by_contract.items():
            into = summary.by_contract.setdefault(name, ContractCounts())
            into.total += counts.total
            into.valid += counts.valid
            into.quarantined += counts.quarantined
            into.remediated += counts.remediated
        records, actions, by_contract = result.remediation
        stats.records.update(records)
        stats.actions.update(actions)
        stats.by_contract.update(by_contract)
    if config.remediate:
        summary.remediation = stats.to_dict()
    return summary
