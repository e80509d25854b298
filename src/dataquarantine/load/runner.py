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
"""

from __future__ import annotations

import contextlib
import gc
import logging
import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from psycopg import sql

from dataquarantine.contracts.model import ContractSpec
from dataquarantine.db.errors import is_transient
from dataquarantine.db.url import PostgresTarget, parse_store_url
from dataquarantine.errors import (
    ConfigError,
    DatabaseUnavailableError,
    DataQuarantineError,
    LoadError,
)
from dataquarantine.kernel.ids import new_run_id
from dataquarantine.load.catalog import columns_of, regclass, resolve_plan
from dataquarantine.load.checks import BatchCheck, check_batch, needs_text_mode, tid
from dataquarantine.load.plan import (
    CHECKPOINTS_TABLE,
    QUARANTINE_TABLE,
    LoadPlan,
    checkpoints_ddl,
    ident,
    quarantine_ddl,
)
from dataquarantine.load.pushdown import pushdown
from dataquarantine.load.report import BatchCounts, LoadSummary
from dataquarantine.load.staging import contained_file, drop_scratch, load_file
from dataquarantine.quarantine.envelope import QuarantineItem
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.validation.contract import Contract
from dataquarantine.validation.engine import gc_paused

__all__ = ["LoadOptions", "LoadRun"]

APPLICATION_NAME = "dataquarantine-load"

log = logging.getLogger("dataquarantine.load")


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """Run-time choices; ``None`` falls back to the contract's ``load:`` section."""

    staging: str | None = None
    batch_size: int | None = None
    resume: bool = False
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class _Resume:
    run_id: str
    next_batch: int
    next_page: int
    counts: BatchCounts
    batches: int


@dataclass(frozen=True, slots=True)
class _Bad:
    """A batch's quarantine writes: the envelopes and the seed table's columns."""

    items: list[QuarantineItem]
    #: Each bad row's headline code (the seed table's ``issue_type``).
    issue_types: list[str]
    records: list[str]
    details: list[str]
    keys: list[str]


@contextlib.contextmanager
def _translated(what: str) -> Iterator[None]:
    """psycopg errors as ours: unreachable -> DatabaseUnavailableError, else LoadError."""
    import psycopg

    try:
        yield
    except DataQuarantineError:
        raise
    except psycopg.Error as exc:
        cls = DatabaseUnavailableError if is_transient(exc) else LoadError
        raise cls(f"{what}: {exc}") from exc


def _connect(target: PostgresTarget, *, autocommit: bool) -> Any:
    from dataquarantine.db.connect import connect

    with _translated(f"cannot connect to {target.display}"):
        return connect(target, autocommit=autocommit, application_name=APPLICATION_NAME)


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
        #: Plain inserts until a key is met that the target already holds (see _apply).
        self._optimistic = True
        self.options = options or LoadOptions()
        self.staging_label = self.options.staging or self.load.staging
        self.batch_size = self.options.batch_size or self.load.batch_size
        if self.batch_size < 1:
            raise ConfigError("batch size must be positive")

    # -- set-up -------------------------------------------------------------------------------

    def _staging_table(self, conn: Any) -> tuple[str, bool]:
        """The table to read and whether it is a scratch copy of a file."""
        from dataquarantine.contracts.model import FILE_STAGING_SUFFIXES, IDENTIFIER_RE

        label = self.staging_label
        if not label.lower().endswith(FILE_STAGING_SUFFIXES):
            if not IDENTIFIER_RE.match(label):
                raise ConfigError(f"staging {label!r} is not a plain SQL identifier")
            return label, False
        if self.options.staging:
            # The operator's own --staging: any file they may read (relative: to the contract).
            path = Path(label)
            if not path.is_absolute() and self.spec.base_dir is not None:
                path = self.spec.base_dir / path
        else:
            path = contained_file(self.spec.base_dir, label)
        oid = regclass(conn, self.load.target)
        if oid is None:
            raise ConfigError(f"target table {self.load.target!r} does not exist")
        columns = [c for c in columns_of(conn, oid) if c not in ("created_at", "last_updated_at")]
        with _translated(f"copying {path.name} into a scratch table"):
            return load_file(conn, path, columns), True

    def _ensure_tables(self, conn: Any, plan: LoadPlan) -> None:
        with _translated("creating the load's tables"):
            conn.execute(quarantine_ddl())
            conn.execute(checkpoints_ddl())
            if plan.track:
                conn.execute(plan.history_ddl())
            conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS dq_bad (rid tid PRIMARY KEY) ON COMMIT DELETE ROWS"
            )
            conn.commit()

    def _find_resume(self, conn: Any) -> _Resume | None:
        row = conn.execute(
            sql.SQL(
                "SELECT run_id, bool_or(done), max(batch_no), max(page_end) FROM {} "
                "WHERE contract = %s AND staging = %s AND target = %s "
                "GROUP BY run_id ORDER BY max(committed_at) DESC LIMIT 1"
            ).format(ident(CHECKPOINTS_TABLE)),
            (self.spec.name, self.staging_label, self.load.target),
        ).fetchone()
        conn.commit()
        if row is None or row[1]:
            return None
        counts = BatchCounts()
        batches = conn.execute(
            sql.SQL(
                "SELECT rows_read, inserted, updated, unchanged, superseded, quarantined, "
                "history_rows FROM {} WHERE run_id = %s AND NOT done"
            ).format(ident(CHECKPOINTS_TABLE)),
            (row[0],),
        ).fetchall()
        conn.commit()
        for b in batches:
            counts = counts + BatchCounts(
                read=b[0],
                inserted=b[1],
                updated=b[2],
                unchanged=b[3],
                superseded=b[4],
                quarantined=dict(b[5]),
                history_rows=b[6],
            )
        return _Resume(str(row[0]), int(row[2]) + 1, int(row[3]), counts, len(batches))

    def _batches(self, conn: Any, plan: LoadPlan, first_page: int, first_no: int) -> list[Any]:
        """Cut the heap from ``first_page`` on into ``[lo, hi)`` page ranges of about
        ``batch_size`` rows (the table's average rows per page decides the span: from its
        statistics when it was analyzed, else from a count)."""
        oid = regclass(conn, plan.staging)
        pages, analyzed_pages, analyzed_rows = conn.execute(plan.size(), (oid,)).fetchone()
        if analyzed_pages > 0 and analyzed_rows > 0:
            # The density the statistics saw is enough to size batches, and spares a scan.
            rows = analyzed_rows * pages / analyzed_pages
        else:  # never analyzed (reltuples -1, or 0 before the first VACUUM)
            rows = conn.execute(plan.row_count()).fetchone()[0]
        conn.commit()
        if not pages or not rows:
            return []
        span = max(1, int(self.batch_size * pages / rows))
        return [
            (first_no + i, lo, min(lo + span, pages))
            for i, lo in enumerate(range(first_page, pages, span))
        ]

    # -- the run ------------------------------------------------------------------------------

    def run(self, quarantine: Quarantine | None) -> LoadSummary:
        """Load everything (or the rest, with ``resume``) and return the reconciled summary.

        Bad rows also go to ``quarantine`` (the common envelope store) when one is given."""
        self.quarantine = quarantine
        self._optimistic = True
        started = time.perf_counter()
        writer = _connect(self.db, autocommit=False)
        side: Any = None
        try:
            with _translated("preparing the load"):
                staging, scratch = self._staging_table(writer)
                plan = resolve_plan(writer, self.spec, staging)
                writer.commit()
            self._ensure_tables(writer, plan)
            with _translated("reading checkpoints"):
                resume = self._find_resume(writer) if self.options.resume else None
                run_id = resume.run_id if resume else (self.options.run_id or new_run_id("load"))
                first_page = resume.next_page if resume else 0
                first_no = resume.next_batch if resume else 1
                batches = self._batches(writer, plan, first_page, first_no)
            counts = resume.counts if resume else BatchCounts()
            text_mode = needs_text_mode(plan, self.contract)
            zone = str(writer.execute("SHOW TimeZone").fetchone()[0])  # the reader's too
            writer.commit()
            down = pushdown(plan, self.contract, text_mode=text_mode, zone=zone)
            if down.predicate is None:
                log.info("contract checks run in Python for every row: %s", down.reason)
            else:
                log.info("contract checks pushed down into PostgreSQL")
            # The data_quality_quarantine rows of a batch are committed on their own connection
            # while the writer upserts, before the batch commits (idempotent: the ids are
            # deterministic, so a batch that is written again after a crash adds nothing).
            side = _connect(self.db, autocommit=True)
            # The cyclic collector is paused for the whole pipeline and run on the young
            # generations once per batch: its automatic runs over the batches' short-lived
            # objects (rows, envelopes, store rows) cost about a tenth of the client's CPU.
            with (
                gc_paused(),
                ThreadPoolExecutor(1, thread_name_prefix="dq-load-write") as pool,
            ):
                for check, bad in self._checked(plan, batches, text_mode, down.predicate, run_id):
                    counts = counts + self._write(writer, side, plan, (check, bad), run_id, pool)
                    gc.collect(1)
            with _translated("finishing the load"):
                last_no = batches[-1][0] if batches else first_no - 1
                last_page = batches[-1][2] if batches else first_page
                self._checkpoint(writer, run_id, last_no + 1, last_page, last_page, None, True)
                writer.commit()
                if scratch:
                    drop_scratch(writer, staging)
        finally:
            for conn in (writer, side):
                with contextlib.suppress(Exception):
                    conn.close()
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
        batches: list[Any],
        text_mode: bool,
        surely_valid: sql.Composable | None,
        run_id: str,
    ) -> Iterator[tuple[BatchCheck, _Bad]]:
        """Check passes in a reader thread, one batch ahead of the writer."""
        if not batches:
            return
        out: queue.Queue[tuple[BatchCheck, _Bad] | BaseException | None] = queue.Queue(maxsize=1)
        stop = threading.Event()

        def put(item: tuple[BatchCheck, _Bad] | BaseException | None) -> None:
            while not stop.is_set():
                with contextlib.suppress(queue.Full):
                    out.put(item, timeout=0.2)
                    return

        def produce() -> None:
            try:
                reader = _connect(self.db, autocommit=True)
                try:
                    for no, lo, hi in batches:
                        if stop.is_set():
                            return
                        t0 = time.perf_counter()
                        with _translated(f"checking batch {no}"):
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
                        put((check, self._prepare(check, run_id)))
                finally:
                    reader.close()
                put(None)
            except BaseException as exc:  # handed to the writer, which raises it
                put(exc)

        thread = threading.Thread(target=produce, name="dq-load-check", daemon=True)
        thread.start()
        try:
            while True:
                item = out.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            thread.join(timeout=30)

    def _prepare(self, check: BatchCheck, run_id: str) -> _Bad:
        """The batch's quarantine writes, built in the reader thread (off the writer's path)."""
        source = self._source_table()
        items = [b.item(source, self.contract, run_id) for b in check.bad]
        return _Bad(
            items=items,
            issue_types=[b.errors[0].code.value for b in check.bad],
            records=[b.payload.decode() for b in check.bad],
            details=[orjson.dumps(b.detail(), default=str).decode() for b in check.bad],
            keys=[b.key for b in check.bad],
        )

    def _write(
        self,
        conn: Any,
        side: Any,
        plan: LoadPlan,
        checked: tuple[BatchCheck, _Bad],
        run_id: str,
        pool: ThreadPoolExecutor,
    ) -> BatchCounts:
        """Quarantine the bad rows, upsert the rest, checkpoint: one transaction on ``conn``.

        While the server upserts, a pool thread writes the envelopes and then, on ``side``, the
        ``data_quality_quarantine`` rows (keyed by the envelopes' deterministic ids). Both are
        durable before the commit, so a committed batch always has its quarantined rows."""
        check, bad = checked
        t0 = time.perf_counter()
        with _translated(f"writing batch {check.batch_no}"):
            quarantined = pool.submit(self._quarantine, side, bad, run_id) if bad.items else None
            try:
                skip = [b.ctid for b in check.bad] + list(check.superseded)
                if skip:
                    conn.execute("INSERT INTO dq_bad (rid) SELECT unnest(%b::text[])::tid", (skip,))
                bounds = (tid(check.lo), tid(check.hi))
                t1 = time.perf_counter()
                params: tuple[Any, ...] = bounds + ((run_id,) if plan.track else ())
                inserted, updated, history, extra, plain = self._apply(conn, plan, check, params)
                if plain:  # the plain insert took every row of the range but the skipped ones
                    present = inserted + len(skip)
                else:  # the upsert does not return the unchanged rows
                    present = int(conn.execute(plan.count(), bounds).fetchone()[0])
            finally:
                t2 = time.perf_counter()
                if quarantined is not None:
                    quarantined.result()
            t3 = time.perf_counter()
            valid = present - len(skip) - extra
            counts = BatchCounts(
                read=check.read,
                inserted=inserted,
                updated=updated,
                unchanged=valid - inserted - updated,
                superseded=len(check.superseded) + extra,
                quarantined=dict(sorted(Counter(bad.issue_types).items())),
                history_rows=history,
            )
            if present != check.read:
                conn.rollback()
                raise LoadError(
                    f"batch {check.batch_no}: the check pass read {check.read} rows but the "
                    f"write pass found {present}: the staging table changed during the load"
                )
            counts.reconcile(f"batch {check.batch_no}")
            self._checkpoint(conn, run_id, check.batch_no, check.lo, check.hi, counts, False)
            conn.commit()
        log.debug(
            "batch %d written: set-up %.3f s, rows %.3f s, then envelopes and quarantine rows "
            "%.3f s more, commit %.3f s",
            check.batch_no, t1 - t0, t2 - t1, t3 - t2, time.perf_counter() - t3,
        )  # fmt: skip
        return counts

    def _apply(
        self, conn: Any, plan: LoadPlan, check: BatchCheck, params: tuple[Any, ...]
    ) -> tuple[int, int, int, int, bool]:
        """Write the batch's loadable rows: inserted, updated, history rows, the rows found
        superseded here (when the check pass did not see every key), and whether the plain
        insert did it.

        While no batch has met a key already in the target (an initial load), the rows are
        inserted plainly, under a savepoint. The first unique violation rolls that back and
        switches the run to the upsert, which then also handles a concurrent writer."""
        import psycopg

        if self._optimistic:
            # An explicit savepoint, not conn.transaction(): when this is the batch's first
            # statement, that would open a transaction of its own and commit the rows at once,
            # apart from the batch's checkpoint.
            conn.execute("SAVEPOINT dq_plain_insert")
            try:
                cur = conn.execute(plan.insert_new(), params[:2])
            except psycopg.errors.UniqueViolation:
                conn.execute("ROLLBACK TO SAVEPOINT dq_plain_insert")
                self._optimistic = False
                log.info("batch %d: a key is already in the target; upserting", check.batch_no)
            else:
                return int(cur.rowcount), 0, 0, 0, True
        extra = 0
        if not check.keys_seen:
            extra = int(conn.execute(plan.supersede(), params[:2]).rowcount)
        row = conn.execute(plan.upsert(), params).fetchone()
        inserted, updated, history = (int(v or 0) for v in row)
        return inserted, updated, history, extra, False

    def _quarantine(self, side: Any, bad: _Bad, run_id: str) -> None:
        """The envelopes, then the ``data_quality_quarantine`` rows under the ids the store
        computed (the pool thread does both while the writer's server loads the batch)."""
        store = self.quarantine
        if store is not None:
            ids = list(store.write(bad.items).ids)
        else:
            ids = [item.record_id() for item in bad.items]
        self._quarantine_rows(side, bad, ids, run_id)

    def _quarantine_rows(self, conn: Any, bad: _Bad, ids: list[uuid.UUID], run_id: str) -> None:
        """The batch's bad rows into ``data_quality_quarantine`` (once per id), in one
        statement: one round trip, whatever the number of rows. The arrays are sent in binary
        (``%b``): the text array format would escape every quote of every JSON document."""
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (id, table_name, issue_type, record_data, detail, "
                "source_table, source_key, contract, run_id) "
                "SELECT q.id, %s, q.issue_type, q.record_data::jsonb, q.detail::jsonb, %s, "
                "q.source_key, %s, %s FROM unnest(%b::uuid[], %b::text[], %b::text[], "
                "%b::text[], %b::text[]) AS q(id, issue_type, record_data, detail, source_key) "
                "ON CONFLICT (id) DO NOTHING"
            ).format(ident(QUARANTINE_TABLE)),
            (
                self.load.target,
                self._source_table(),
                str(self.contract.ref),
                run_id,
                ids,
                bad.issue_types,
                bad.records,
                bad.details,
                bad.keys,
            ),
        )

    def _source_table(self) -> str:
        """The ``table`` of the envelopes' TableSource: the staging table, or the file name."""
        from dataquarantine.contracts.model import FILE_STAGING_SUFFIXES

        label = self.staging_label
        return Path(label).name if label.lower().endswith(FILE_STAGING_SUFFIXES) else label

    def _checkpoint(
        self,
        conn: Any,
        run_id: str,
        batch_no: int,
        lo: int,
        hi: int,
        counts: BatchCounts | None,
        done: bool,
    ) -> None:
        c = counts or BatchCounts()
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (run_id, batch_no, contract, contract_version, staging, target, "
                "page_start, page_end, rows_read, inserted, updated, unchanged, superseded, "
                "quarantined, history_rows, done) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s)"
            ).format(ident(CHECKPOINTS_TABLE)),
            (
                run_id, batch_no, self.spec.name, str(self.spec.version), self.staging_label,
                self.load.target, lo, hi, c.read, c.inserted, c.updated, c.unchanged,
                c.superseded, orjson.dumps(dict(c.quarantined)).decode(), c.history_rows, done,
            ),
        )  # fmt: skip
