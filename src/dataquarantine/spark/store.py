"""Quarantine rows into the quarantine store, written by the executors.

Each task turns its quarantined rows into envelopes (``QuarantineItem``) and hands them to
:meth:`~dataquarantine.quarantine.service.Quarantine.write`, the write every other path uses:
the payloads packed into chunk objects (content-addressed) in the payload store first, then
the metadata rows in one transaction (PostgreSQL: ``COPY`` into a stage, then ``INSERT ... ON
CONFLICT DO NOTHING``). A task buffers its rows and writes them when they reach
``max_chunk_bytes`` of payload and at its end: about one chunk and one transaction per
partition.

Idempotent: the ids are deterministic (:mod:`~dataquarantine.spark.ids`) and the store skips a row
whose dedup key it holds, so a retried task, a speculative duplicate or a re-run writes each
record once (a retried task may leave an orphan chunk, never a duplicate row).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, unquote

from pyspark.sql import DataFrame, SparkSession

from dataquarantine.db.url import SqliteTarget, parse_store_url
from dataquarantine.errors import ConfigError
from dataquarantine.kernel.results import ContractRef, Severity, Violation
from dataquarantine.quarantine.envelope import FileSource, QuarantineItem
from dataquarantine.quarantine.service import DEFAULT_MAX_CHUNK_BYTES, Quarantine
from dataquarantine.spark.columns import (
    CONTRACT,
    CONTRACT_VERSION,
    ERRORS,
    FILE,
    ID,
    LINE_OFFSET,
    LINE_PATH,
    PAYLOAD,
    REMEDIATION,
    ROW,
    RUN_ID,
)
from dataquarantine.spark.remediate import revision_of

__all__ = [
    "StoreTarget",
    "WriteCounts",
    "check_target",
    "items_of",
    "opened",
    "write_quarantine",
]

#: Masters whose executors all run on the driver's machine (SQLite's file is shared).
_LOCAL_MASTER: Final = re.compile(r"local(\[[^\]]*\])?")

#: Open quarantines of this worker process, by target (workers are reused across tasks).
_OPENED: dict[StoreTarget, Quarantine] = {}


@dataclass(frozen=True, slots=True)
class StoreTarget:
    """Where the executors write: the metadata store and payload store URLs (picklable)."""

    store: str
    payloads: str
    max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES


@dataclass(frozen=True, slots=True)
class WriteCounts:
    """What :func:`write_quarantine` wrote: quarantine rows seen, metadata rows new to the
    store (a re-run inserts 0), and payload chunks put."""

    rows: int
    inserted: int
    chunks: int


def check_target(spark: SparkSession, target: StoreTarget) -> StoreTarget:
    """On the driver, before any task: refuse a store the executors cannot share, apply the
    store's pending migrations once (the executors do not migrate), and return the target
    with relative local paths made absolute (the executors' working folder may differ).

    SQLite is one file with a single writer: allowed only with a ``local`` master, where the
    executors' Python workers are processes of this machine and take SQLite's write lock in
    turn (each partition's metadata is one short transaction; a writer waits for the lock,
    then the store's retry policy). ``:memory:`` is refused: each worker would write its own."""
    if target.max_chunk_bytes < 1:
        raise ConfigError(f"max_chunk_bytes must be positive, not {target.max_chunk_bytes}")
    store = parse_store_url(target.store)
    if isinstance(store, SqliteTarget):
        if store.path is None:
            raise ConfigError(
                "a sqlite:///:memory: store cannot receive Spark's writes (each Python "
                "worker would have its own database): use a file or PostgreSQL"
            )
        master = spark.sparkContext.master or ""
        if not _LOCAL_MASTER.fullmatch(master):
            raise ConfigError(
                f"a SQLite store takes a single writer on one machine: with master {master!r} "
                "the executors cannot share it; use a postgresql:// store"
            )
        target = replace(target, store=f"sqlite:///{store.path.absolute()}")
    payloads = target.payloads
    if "://" not in payloads or payloads.startswith("file://"):
        folder = Path(unquote(payloads.removeprefix("file://")))
        target = replace(target, payloads=f"file://{quote(str(folder.absolute()))}")
    with Quarantine.open(target.store, target.payloads):  # a malformed URL fails here
        pass
    return target


def opened(target: StoreTarget) -> Quarantine:
    """The quarantine of ``target`` in this (worker) process, opened once."""
    quarantine = _OPENED.get(target)
    if quarantine is None:
        # The driver migrated already: here migrate() finds nothing to do (once per process).
        quarantine = Quarantine.open(target.store, target.payloads)
        quarantine.max_chunk_bytes = target.max_chunk_bytes
        _OPENED[target] = quarantine
    return quarantine


def _violation(data: dict[str, Any]) -> Violation:
    return Violation.from_dict(
        {
            "code": data["code"],
            "path": data["path"] or "",
            "message": data["message"] or "",
            "rule": data["rule_id"],
            "keyword": data["keyword"],
            "severity": data["severity"] or Severity.ERROR.value,
        }
    )


def items_of(rows: Sequence[dict[str, Any]]) -> list[QuarantineItem]:
    """The envelopes of quarantine rows (as :func:`~dataquarantine.spark.frames.split` gives
    them, as Python dicts): typed rows by their file and row, JSON lines by file and offset;
    a remediation attempt (:data:`~.columns.REMEDIATION`) is kept as revision 1."""
    items: list[QuarantineItem] = []
    for row in rows:
        if FILE in row:
            source = FileSource(uri=row[FILE], line=row[ROW])
        else:
            source = FileSource(uri=row[LINE_PATH], line=None, offset=row[LINE_OFFSET])
        item = QuarantineItem.identified(
            source,
            row[PAYLOAD],
            tuple(map(_violation, row[ERRORS])),
            ContractRef(row[CONTRACT], row[CONTRACT_VERSION]) if row[CONTRACT] else None,
            row[RUN_ID],
            revision_of(row.get(REMEDIATION)),
        )
        if str(item.record_id()) != row[ID]:  # the same formula on both sides: a bug if not
            raise AssertionError(f"record id {row[ID]} does not match its envelope")
        items.append(item)
    return items


class PartitionWriter:
    """Buffers one task's envelopes and writes them in chunks of about ``max_chunk_bytes``."""

    def __init__(self, target: StoreTarget) -> None:
        self.quarantine = opened(target)
        self.limit = target.max_chunk_bytes
        self.pending: list[QuarantineItem] = []
        self.size = 0
        self.rows = self.inserted = self.chunks = 0

    def add(self, rows: Sequence[dict[str, Any]]) -> None:
        items = items_of(rows)
        self.pending.extend(items)
        self.rows += len(items)
        self.size += sum(len(i.payload) for i in items)
        if self.size >= self.limit:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            report = self.quarantine.write(self.pending)
            self.inserted += report.inserted
            self.chunks += report.chunks
            self.pending, self.size = [], 0


_STORE_COLUMNS: Final = (ID, CONTRACT, CONTRACT_VERSION, RUN_ID, ERRORS, PAYLOAD)


def _write_partition(target: StoreTarget, batches: Iterator[Any]) -> Iterator[Any]:
    import pyarrow as pa

    writer = PartitionWriter(target)
    for batch in batches:
        writer.add(batch.to_pylist())
    writer.flush()
    yield pa.RecordBatch.from_pydict(
        {"rows": [writer.rows], "inserted": [writer.inserted], "chunks": [writer.chunks]},
        schema=pa.schema([(n, pa.int64()) for n in ("rows", "inserted", "chunks")]),
    )


def write_quarantine(
    quarantine: DataFrame,
    *,
    store: str,
    payloads: str,
    max_chunk_bytes: int = DEFAULT_MAX_CHUNK_BYTES,
) -> WriteCounts:
    """Write the quarantine frame of :func:`~dataquarantine.spark.frames.split` into the
    quarantine store (``store``: a ``postgresql://`` or, with a local master, ``sqlite:///``
    URL; ``payloads``: a folder or ``s3://`` URL), from the executors. Runs one Spark job;
    only one row of counts per partition comes back to the driver. Idempotent (see the
    module's docs)."""
    import functools

    target = check_target(quarantine.sparkSession, StoreTarget(store, payloads, max_chunk_bytes))
    source = [FILE, ROW] if FILE in quarantine.columns else [LINE_PATH, LINE_OFFSET]
    missing = [c for c in (*source, *_STORE_COLUMNS) if c not in quarantine.columns]
    if missing:
        raise ConfigError(f"not a quarantine frame of split: it lacks {missing}")
    fix = [REMEDIATION] if REMEDIATION in quarantine.columns else []
    counts = (
        quarantine.select(*source, *_STORE_COLUMNS, *fix)
        .mapInArrow(
            functools.partial(_write_partition, target), "rows long, inserted long, chunks long"
        )
        .collect()
    )
    return WriteCounts(
        rows=sum(r["rows"] for r in counts),
        inserted=sum(r["inserted"] for r in counts),
        chunks=sum(r["chunks"] for r in counts),
    )
