"""The write pass of a batch: quarantine the bad rows, load the rest, checkpoint, commit.

:class:`BatchWriter` writes one checked batch in one transaction on the target database. While
the server inserts (or upserts) the loadable rows, a pool thread writes the envelopes to the
quarantine service and then, on an autocommit side connection, the ``data_quality_quarantine``
rows, keyed by the envelopes' deterministic ids (so a batch written again after a crash adds
nothing). Both are durable before the batch commits with its checkpoint.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
from psycopg import sql

from dataquarantine.errors import LoadError
from dataquarantine.load.checkpoints import Checkpoints
from dataquarantine.load.checks import BatchCheck, tid
from dataquarantine.load.connection import Connection, first_row, translated
from dataquarantine.load.plan import QUARANTINE_TABLE, LoadPlan, ident, quarantine_ddl
from dataquarantine.load.report import BatchCounts
from dataquarantine.quarantine.envelope import QuarantineItem
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.validation.contract import Contract

__all__ = ["BatchWriter", "QuarantineWrites", "RowsWritten"]

log = logging.getLogger("dataquarantine.load")


@dataclass(frozen=True, slots=True)
class QuarantineWrites:
    """A batch's quarantine writes: the envelopes and the seed table's columns."""

    items: list[QuarantineItem]
    #: Each bad row's headline code (the seed table's ``issue_type``).
    issue_types: list[str]
    records: list[str]
    details: list[str]
    keys: list[str]

    @classmethod
    def of(
        cls, check: BatchCheck, source_table: str, contract: Contract, run_id: str
    ) -> QuarantineWrites:
        """The writes for ``check``'s bad rows (built by the reader, off the writer's path);
        ``source_table`` is the envelopes' TableSource table."""
        return cls(
            items=[b.item(source_table, contract, run_id) for b in check.bad],
            issue_types=[b.errors[0].code.value for b in check.bad],
            records=[b.payload.decode() for b in check.bad],
            details=[orjson.dumps(b.detail(), default=str).decode() for b in check.bad],
            keys=[b.key for b in check.bad],
        )


@dataclass(frozen=True, slots=True)
class RowsWritten:
    """What writing a batch's loadable rows did."""

    inserted: int
    updated: int
    history_rows: int
    #: Rows found superseded here (when the check pass did not see every key of the batch).
    superseded: int
    #: Whether the plain insert wrote them (it took every row of the range but the skipped).
    plain: bool


class BatchWriter:
    """Writes a run's batches: each in one transaction on ``conn``, its quarantine rows on the
    autocommit ``side`` connection from a ``pool`` thread, envelopes to ``quarantine`` (when
    given). ``target`` and ``source_table`` are the ``table_name`` and ``source_table`` columns
    of the quarantine rows."""

    def __init__(
        self,
        conn: Connection,
        side: Connection,
        plan: LoadPlan,
        contract: Contract,
        *,
        checkpoints: Checkpoints,
        target: str,
        source_table: str,
        quarantine: Quarantine | None,
        pool: ThreadPoolExecutor,
    ) -> None:
        self.conn = conn
        self.side = side
        self.plan = plan
        self.contract = contract
        self.checkpoints = checkpoints
        self.target = target
        self.source_table = source_table
        self.quarantine = quarantine
        self.pool = pool
        #: Plain inserts until a key is met that the target already holds (see apply_rows).
        self.optimistic = True

    @staticmethod
    def create_tables(conn: Connection, plan: LoadPlan) -> None:
        """The tables the writer needs: the quarantine table, the target's history table
        (when columns are tracked) and the session's ``dq_bad`` scratch table."""
        conn.execute(quarantine_ddl())
        if plan.track:
            conn.execute(plan.history_ddl())
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS dq_bad (rid tid PRIMARY KEY) ON COMMIT DELETE ROWS"
        )

    def write(self, check: BatchCheck, bad: QuarantineWrites, run_id: str) -> BatchCounts:
        """Quarantine the bad rows, upsert the rest, checkpoint: one transaction.

        While the server upserts, a pool thread writes the envelopes and then, on the side
        connection, the ``data_quality_quarantine`` rows (keyed by the envelopes'
        deterministic ids). Both are durable before the commit, so a committed batch always
        has its quarantined rows."""
        conn, plan = self.conn, self.plan
        t0 = time.perf_counter()
        with translated(f"writing batch {check.batch_no}"):
            quarantined = self.pool.submit(self._quarantine, bad, run_id) if bad.items else None
            try:
                skip = [b.ctid for b in check.bad] + list(check.superseded)
                if skip:
                    conn.execute("INSERT INTO dq_bad (rid) SELECT unnest(%b::text[])::tid", (skip,))
                bounds = (tid(check.lo), tid(check.hi))
                t1 = time.perf_counter()
                params: tuple[Any, ...] = bounds + ((run_id,) if plan.track else ())
                rows = self.apply_rows(check, params)
                if rows.plain:  # the plain insert took every row of the range but the skipped
                    present = rows.inserted + len(skip)
                else:  # the upsert does not return the unchanged rows
                    present = int(
                        first_row(conn.execute(plan.count(), bounds).fetchone(), "count")[0]
                    )
            finally:
                t2 = time.perf_counter()
                if quarantined is not None:
                    quarantined.result()
            t3 = time.perf_counter()
            valid = present - len(skip) - rows.superseded
            counts = BatchCounts(
                read=check.read,
                inserted=rows.inserted,
                updated=rows.updated,
                unchanged=valid - rows.inserted - rows.updated,
                superseded=len(check.superseded) + rows.superseded,
                quarantined=dict(sorted(Counter(bad.issue_types).items())),
                history_rows=rows.history_rows,
            )
            if present != check.read:
                conn.rollback()
                raise LoadError(
                    f"batch {check.batch_no}: the check pass read {check.read} rows but the "
                    f"write pass found {present}: the staging table changed during the load"
                )
            counts.reconcile(f"batch {check.batch_no}")
            self.checkpoints.record(conn, run_id, check.batch_no, check.lo, check.hi, counts)
            conn.commit()
        log.debug(
            "batch %d written: set-up %.3f s, rows %.3f s, then envelopes and quarantine rows "
            "%.3f s more, commit %.3f s",
            check.batch_no, t1 - t0, t2 - t1, t3 - t2, time.perf_counter() - t3,
        )  # fmt: skip
        return counts

    def apply_rows(self, check: BatchCheck, params: tuple[Any, ...]) -> RowsWritten:
        """Write the batch's loadable rows (those not in ``dq_bad``) of the page range
        ``params[:2]``; ``params[2]``, when the plan tracks history, is the run id.

        While no batch has met a key already in the target (an initial load), the rows are
        inserted plainly, under a savepoint. The first unique violation rolls that back and
        switches the run to the upsert, which then also handles a concurrent writer."""
        import psycopg

        conn, plan = self.conn, self.plan
        if self.optimistic:
            # An explicit savepoint, not conn.transaction(): when this is the batch's first
            # statement, that would open a transaction of its own and commit the rows at once,
            # apart from the batch's checkpoint.
            conn.execute("SAVEPOINT dq_plain_insert")
            try:
                cur = conn.execute(plan.insert_new(), params[:2])
            except psycopg.errors.UniqueViolation:
                conn.execute("ROLLBACK TO SAVEPOINT dq_plain_insert")
                self.optimistic = False
                log.info("batch %d: a key is already in the target; upserting", check.batch_no)
            else:
                return RowsWritten(int(cur.rowcount), 0, 0, 0, plain=True)
        extra = 0
        if not check.keys_seen:
            extra = int(conn.execute(plan.supersede(), params[:2]).rowcount)
        row = first_row(conn.execute(plan.upsert(), params).fetchone(), "upsert")
        inserted, updated, history = (int(v or 0) for v in row)
        return RowsWritten(inserted, updated, history, extra, plain=False)

    def _quarantine(self, bad: QuarantineWrites, run_id: str) -> None:
        """The envelopes, then the ``data_quality_quarantine`` rows under the ids the store
        computed (the pool thread does both while the writer's server loads the batch)."""
        store = self.quarantine
        if store is not None:
            ids = list(store.write(bad.items).ids)
        else:
            ids = [item.record_id() for item in bad.items]
        self._quarantine_rows(bad, ids, run_id)

    def _quarantine_rows(self, bad: QuarantineWrites, ids: list[uuid.UUID], run_id: str) -> None:
        """The batch's bad rows into ``data_quality_quarantine`` (once per id), in one
        statement: one round trip, whatever the number of rows. The arrays are sent in binary
        (``%b``): the text array format would escape every quote of every JSON document."""
        self.side.execute(
            sql.SQL(
                "INSERT INTO {} (id, table_name, issue_type, record_data, detail, "
                "source_table, source_key, contract, run_id) "
                "SELECT q.id, %s, q.issue_type, q.record_data::jsonb, q.detail::jsonb, %s, "
                "q.source_key, %s, %s FROM unnest(%b::uuid[], %b::text[], %b::text[], "
                "%b::text[], %b::text[]) AS q(id, issue_type, record_data, detail, source_key) "
                "ON CONFLICT (id) DO NOTHING"
            ).format(ident(QUARANTINE_TABLE)),
            (
                self.target,
                self.source_table,
                str(self.contract.ref),
                run_id,
                ids,
                bad.issue_types,
                bad.records,
                bad.details,
                bad.keys,
            ),
        )
