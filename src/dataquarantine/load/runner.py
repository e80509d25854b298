"""``dataquarantine load``: staging -> checks -> quarantine + upsert + history, in batches.

Three connections work as a pipeline. A reader thread runs the check pass of batch *n + 1*
(:mod:`dataquarantine.load.checks`) and prepares its quarantine writes, while the main thread
writes batch *n* in one transaction on the target database: the valid rest is inserted (or
upserted, with history) while a pool thread writes the envelopes to the quarantine service and
then, on a third connection, the ``data_quality_quarantine`` rows (keyed by the envelopes'
deterministic ids, so both are idempotent). Both are durable before the batch commits with its
checkpoint. A crash before that commit leaves nothing of the batch in the target, only
quarantine rows that the resumed run writes again under the same ids; a crash after it leaves
a checkpoint that ``--resume`` continues from.

This module orchestrates; the reader thread is :func:`dataquarantine.infra.prefetch.prefetch`,
the write pass :class:`~dataquarantine.load.writer.BatchWriter`, the resume points
:class:`~dataquarantine.load.checkpoints.Checkpoints`.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

from psycopg import sql

from dataquarantine.contracts.model import ContractSpec
from dataquarantine.db.url import PostgresTarget, parse_store_url
from dataquarantine.errors import ConfigError
from dataquarantine.infra.prefetch import prefetch
from dataquarantine.kernel.ids import new_run_id
from dataquarantine.load.catalog import regclass, resolve_plan
from dataquarantine.load.checkpoints import Checkpoints
from dataquarantine.load.checks import BatchCheck, check_batch, needs_text_mode
from dataquarantine.load.connection import Connection, connect, first_row, translated
from dataquarantine.load.plan import LoadPlan
from dataquarantine.load.pushdown import pushdown
from dataquarantine.load.report import BatchCounts, LoadSummary
from dataquarantine.load.staging import drop_scratch, source_table, staging_table
from dataquarantine.load.writer import BatchWriter, QuarantineWrites
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.validation.contract import Contract
from dataquarantine.validation.engine import gc_paused

__all__ = ["LoadOptions", "LoadRun"]

log = logging.getLogger("dataquarantine.load")


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """Run-time choices; ``None`` falls back to the contract's ``load:`` section."""

    staging: str | None = None
    batch_size: int | None = None
    resume: bool = False
    run_id: str | None = None


class _Batch(NamedTuple):
    """Batch ``no``: heap pages ``[lo, hi)`` of the staging table."""

    no: int
    lo: int
    hi: int


class LoadRun:
    """One load of ``contract``'s staging data into its target on database ``db_url``
    (configuration is checked here, before anything is opened)."""

    def __init__(
        self,
        contract: Contract,
        db_url: str,
        options: LoadOptions | None = None,
    ) -> None:
        spec: ContractSpec = contract.spec
        if spec.load is None:
            raise ConfigError(f"contract {spec.name!r} has no 'load:' section")
        target = parse_store_url(db_url)
        if not isinstance(target, PostgresTarget):
            raise ConfigError("--db must be a postgresql:// URL")
        self.contract = contract
        self.spec = spec
        self.load = spec.load
        self.db = target
        self.quarantine: Quarantine | None = None
        self.options = options or LoadOptions()
        self.staging_label = self.options.staging or self.load.staging
        self.batch_size = self.options.batch_size or self.load.batch_size
        if self.batch_size < 1:
            raise ConfigError("batch size must be positive")
        self.checkpoints = Checkpoints(
            contract=spec.name,
            version=str(spec.version),
            staging=self.staging_label,
            target=self.load.target,
        )

    # -- set-up -------------------------------------------------------------------------------

    def _ensure_tables(self, conn: Connection, plan: LoadPlan) -> None:
        with translated("creating the load's tables"):
            Checkpoints.create_table(conn)
            BatchWriter.create_tables(conn, plan)
            conn.commit()

    def _batches(
        self, conn: Connection, plan: LoadPlan, first_page: int, first_no: int
    ) -> list[_Batch]:
        """Cut the heap from ``first_page`` on into ``[lo, hi)`` page ranges of about
        ``batch_size`` rows (the table's average rows per page decides the span: from its
        statistics when it was analyzed, else from a count)."""
        oid = regclass(conn, plan.staging)
        size = first_row(conn.execute(plan.size(), (oid,)).fetchone(), "table size")
        pages, analyzed_pages, analyzed_rows = size
        if analyzed_pages > 0 and analyzed_rows > 0:
            # The density the statistics saw is enough to size batches, and spares a scan.
            rows = analyzed_rows * pages / analyzed_pages
        else:  # never analyzed (reltuples -1, or 0 before the first VACUUM)
            rows = first_row(conn.execute(plan.row_count()).fetchone(), "row count")[0]
        conn.commit()
        if not pages or not rows:
            return []
        span = max(1, int(self.batch_size * pages / rows))
        return [
            _Batch(first_no + i, lo, min(lo + span, pages))
            for i, lo in enumerate(range(first_page, pages, span))
        ]

    # -- the run ------------------------------------------------------------------------------

    def run(self, quarantine: Quarantine | None) -> LoadSummary:
        """Load everything (or the rest, with ``resume``) and return the reconciled summary.

        Bad rows also go to ``quarantine`` (the common envelope store) when one is given."""
        self.quarantine = quarantine
        started = time.perf_counter()
        conn = connect(self.db, autocommit=False)
        side: Connection | None = None
        try:
            with translated("preparing the load"):
                staging, scratch = staging_table(
                    conn,
                    self.staging_label,
                    base_dir=self.spec.base_dir,
                    target=self.load.target,
                    operator_given=bool(self.options.staging),
                )
                plan = resolve_plan(conn, self.spec, staging)
                conn.commit()
            self._ensure_tables(conn, plan)
            with translated("reading checkpoints"):
                resume = self.checkpoints.resume_point(conn) if self.options.resume else None
                run_id = resume.run_id if resume else (self.options.run_id or new_run_id("load"))
                first_page = resume.next_page if resume else 0
                first_no = resume.next_batch if resume else 1
                batches = self._batches(conn, plan, first_page, first_no)
            counts = resume.counts if resume else BatchCounts()
            text_mode = needs_text_mode(plan, self.contract)
            # The session's time zone, which is the reader's too.
            zone = str(first_row(conn.execute("SHOW TimeZone").fetchone(), "time zone")[0])
            conn.commit()
            down = pushdown(plan, self.contract, text_mode=text_mode, zone=zone)
            if down.predicate is None:
                log.info("contract checks run in Python for every row: %s", down.reason)
            else:
                log.info("contract checks pushed down into PostgreSQL")
            # The data_quality_quarantine rows of a batch are committed on their own connection
            # while the writer upserts, before the batch commits (idempotent: the ids are
            # deterministic, so a batch that is written again after a crash adds nothing).
            side = connect(self.db, autocommit=True)
            # The cyclic collector is paused for the whole pipeline and run on the young
            # generations once per batch: its automatic runs over the batches' short-lived
            # objects (rows, envelopes, store rows) cost about a tenth of the client's CPU.
            with (
                gc_paused(),
                ThreadPoolExecutor(1, thread_name_prefix="dq-load-write") as pool,
            ):
                writer = BatchWriter(
                    conn,
                    side,
                    plan,
                    self.contract,
                    checkpoints=self.checkpoints,
                    target=self.load.target,
                    source_table=source_table(self.staging_label),
                    quarantine=quarantine,
                    pool=pool,
                )
                checked = self._checked(plan, batches, text_mode, down.predicate, run_id)
                with contextlib.closing(checked):
                    for check, bad in checked:
                        counts = counts + writer.write(check, bad, run_id)
                        gc.collect(1)
            with translated("finishing the load"):
                last_no = batches[-1].no if batches else first_no - 1
                last_page = batches[-1].hi if batches else first_page
                self.checkpoints.finish(conn, run_id, last_no + 1, last_page)
                conn.commit()
                if scratch:
                    drop_scratch(conn, staging)
        finally:
            for c in (conn, side):
                with contextlib.suppress(Exception):
                    if c is not None:
                        c.close()
        counts.reconcile(f"load {self.spec.name}")
        return LoadSummary(
            contract=self.spec.name,
            version=str(self.spec.version),
            run_id=run_id,
            staging=self.staging_label,
            target=self.load.target,
            counts=counts,
            batches=(resume.batches if resume else 0) + len(batches),
            resumed_batches=resume.batches if resume else 0,
            seconds=time.perf_counter() - started,
        )

    def _checked(
        self,
        plan: LoadPlan,
        batches: list[_Batch],
        text_mode: bool,
        surely_valid: sql.Composable | None,
        run_id: str,
    ) -> Generator[tuple[BatchCheck, QuarantineWrites], None, None]:
        """Check passes in a reader thread, one batch ahead of the writer."""
        if not batches:
            return
        yield from prefetch(
            self._check_all(plan, batches, text_mode, surely_valid, run_id),
            depth=1,
            name="dq-load-check",
        )

    def _check_all(
        self,
        plan: LoadPlan,
        batches: list[_Batch],
        text_mode: bool,
        surely_valid: sql.Composable | None,
        run_id: str,
    ) -> Iterator[tuple[BatchCheck, QuarantineWrites]]:
        """The check pass of each batch and its quarantine writes, on a connection of its
        own (run in the reader thread, so both stay off the writer's path)."""
        source = source_table(self.staging_label)
        reader = connect(self.db, autocommit=True)
        try:
            for no, lo, hi in batches:
                t0 = time.perf_counter()
                with translated(f"checking batch {no}"):
                    check = check_batch(
                        reader,
                        plan,
                        self.contract,
                        no,
                        lo,
                        hi,
                        text_mode=text_mode,
                        surely_valid=surely_valid,
                    )
                log.debug("batch %d checked in %.3f s", no, time.perf_counter() - t0)
                yield check, QuarantineWrites.of(check, source, self.contract, run_id)
        finally:
            reader.close()
