"""The load's resume points: one ``dq_load_checkpoints`` row per committed batch.

Each batch writes its row in the batch's own transaction (so a batch and its checkpoint commit
together), and a finished run writes a final ``done`` row. ``--resume`` continues the latest
run of the same contract, staging and target that has no ``done`` row, after its last batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from psycopg import sql

from dataquarantine.load.connection import Connection
from dataquarantine.load.plan import CHECKPOINTS_TABLE, checkpoints_ddl, ident
from dataquarantine.load.report import BatchCounts

__all__ = ["Checkpoints", "ResumePoint"]


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """Where an unfinished run stopped: the next batch and page, and what it did so far."""

    run_id: str
    next_batch: int
    next_page: int
    counts: BatchCounts
    #: The number of batches the run committed.
    batches: int


@dataclass(frozen=True, slots=True)
class Checkpoints:
    """The checkpoints of the loads of ``contract`` (at ``version``) from ``staging`` into
    ``target``. Writes join the caller's transaction; the caller commits."""

    contract: str
    version: str
    staging: str
    target: str

    @staticmethod
    def create_table(conn: Connection) -> None:
        """Create the checkpoints table if it does not exist."""
        conn.execute(checkpoints_ddl())

    def resume_point(self, conn: Connection) -> ResumePoint | None:
        """The latest run's resume point; None when there is none or it finished."""
        row = conn.execute(
            sql.SQL(
                "SELECT run_id, bool_or(done), max(batch_no), max(page_end) FROM {} "
                "WHERE contract = %s AND staging = %s AND target = %s "
                "GROUP BY run_id ORDER BY max(committed_at) DESC LIMIT 1"
            ).format(ident(CHECKPOINTS_TABLE)),
            (self.contract, self.staging, self.target),
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
        return ResumePoint(str(row[0]), int(row[2]) + 1, int(row[3]), counts, len(batches))

    def record(
        self, conn: Connection, run_id: str, batch_no: int, lo: int, hi: int, counts: BatchCounts
    ) -> None:
        """Batch ``batch_no`` (pages ``[lo, hi)``) is written, with ``counts``."""
        self._insert(conn, run_id, batch_no, lo, hi, counts, done=False)

    def finish(self, conn: Connection, run_id: str, batch_no: int, page: int) -> None:
        """Run ``run_id`` is complete (after batch ``batch_no - 1``, at ``page``): it is no
        longer a resume point."""
        self._insert(conn, run_id, batch_no, page, page, BatchCounts(), done=True)

    def _insert(
        self,
        conn: Connection,
        run_id: str,
        batch_no: int,
        lo: int,
        hi: int,
        c: BatchCounts,
        *,
        done: bool,
    ) -> None:
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (run_id, batch_no, contract, contract_version, staging, target, "
                "page_start, page_end, rows_read, inserted, updated, unchanged, superseded, "
                "quarantined, history_rows, done) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s)"
            ).format(ident(CHECKPOINTS_TABLE)),
            (
                run_id, batch_no, self.contract, self.version, self.staging, self.target,
                lo, hi, c.read, c.inserted, c.updated, c.unchanged, c.superseded,
                orjson.dumps(dict(c.quarantined)).decode(), c.history_rows, done,
            ),
        )  # fmt: skip
