"""Background jobs of the review service (bulk reprocess, resolve, discard), with progress
snapshots.

Jobs run on a small thread pool inside the serving process. A snapshot is kept in memory for
polling and, given a store (:class:`~dataquarantine.quarantine.fix_log.FixLog`), written to the
same job table as the bulk fixes: at the start, at most every ``save_seconds`` while it runs
and at the end. So a job outlives the process that ran it: a server started again marks the
jobs it finds queued or running as ``interrupted`` (see
:meth:`~dataquarantine.review.fixes.BulkFixes.mark_interrupted`) and still answers for them.
An interrupted job is not resumed: its records' statuses are in the store, so starting the
same job again finishes it (records already done are skipped).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from dataquarantine.errors import DataQuarantineError, JobNotFoundError
from dataquarantine.quarantine.fix_log import FixJobKind, FixJobRecord, FixJobState, FixLog
from dataquarantine.review.models import Job, JobState

__all__ = ["BULK_KINDS", "JobProgress", "JobRunner"]

log = logging.getLogger("dataquarantine.review.jobs")

#: The kinds of the jobs this runner keeps (the bulk fixes keep theirs).
BULK_KINDS = (FixJobKind.REPROCESS, FixJobKind.RESOLVE, FixJobKind.DISCARD)
_COUNTS = ("reprocessed", "still_invalid", "dead", "closed", "skipped", "failed")


class JobProgress:
    """Handed to a job body: report the total, then count each record's outcome."""

    def __init__(self, runner: JobRunner, job_id: str) -> None:
        self._runner = runner
        self._id = job_id

    def total(self, total: int) -> None:
        self._runner._update(self._id, total=total)

    def count(self, outcome: str) -> None:
        """``outcome``: reprocessed, still_invalid, dead, closed, skipped or failed."""
        self._runner._bump(self._id, outcome)


class JobRunner:
    """Runs job bodies on worker threads and keeps the last ``max_jobs`` snapshots in memory,
    and every job in ``store`` when given."""

    def __init__(
        self,
        *,
        max_jobs: int = 100,
        workers: int = 2,
        store: FixLog | None = None,
        save_seconds: float = 0.5,
    ) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._max_jobs = max_jobs
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dq-job")
        self._store = store
        self._save_seconds = save_seconds
        self._saved: dict[str, float] = {}

    def submit(
        self,
        body: Callable[[JobProgress], Any],
        *,
        kind: FixJobKind = FixJobKind.REPROCESS,
        actor: str = "",
        spec: Mapping[str, Any] | None = None,
    ) -> Job:
        """Run ``body`` in the background; ``kind``, ``actor`` and ``spec`` (what the job
        does, as JSON data) are what the store keeps of it besides its progress."""
        job = Job(id=uuid.uuid4().hex, state=JobState.QUEUED)
        if self._store is not None:
            self._store.create_job(
                FixJobRecord(
                    id=job.id,
                    kind=kind,
                    state=FixJobState.QUEUED,
                    actor=actor,
                    spec=dict(spec or {}),
                    created_at=job.created_at,
                )
            )
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old()
        self._pool.submit(self._run, job.id, body)
        return job

    def get(self, job_id: str) -> Job:
        """The job's snapshot: from memory, else from the store (a job of an earlier run)."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None and self._store is not None:
            stored = self._store.get_job(job_id)
            if stored is not None and stored.kind in BULK_KINDS:
                job = _from_record(stored)
        if job is None:
            raise JobNotFoundError(f"no job {job_id!r}")
        return job

    def wait(self, job_id: str, timeout: float = 60.0) -> Job:
        """Block until the job ended (for tests and the CLI)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(job_id)
            if job.state not in (JobState.QUEUED, JobState.RUNNING):
                return job
            time.sleep(0.01)
        return self.get(job_id)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, job_id: str, body: Callable[[JobProgress], Any]) -> None:
        self._update(job_id, state=JobState.RUNNING)
        try:
            body(JobProgress(self, job_id))
        except Exception as exc:
            log.exception("job %s failed", job_id)
            self._update(
                job_id, state=JobState.FAILED, error=str(exc), finished_at=datetime.now(UTC)
            )
        else:
            self._update(job_id, state=JobState.DONE, finished_at=datetime.now(UTC))

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return
            job = self._jobs[job_id] = dataclasses.replace(job, **changes)
        self._save(job, force=True)

    def _bump(self, job_id: str, outcome: str) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return
            job = self._jobs[job_id] = dataclasses.replace(
                job, processed=job.processed + 1, **{outcome: getattr(job, outcome) + 1}
            )
        self._save(job, force=False)

    def _save(self, job: Job, *, force: bool) -> None:
        """Write the snapshot to the store: state changes always, progress now and then."""
        if self._store is None:
            return
        now = time.monotonic()
        if not force and now - self._saved.get(job.id, 0.0) < self._save_seconds:
            return
        self._saved[job.id] = now
        try:
            self._store.update_job(
                job.id,
                state=FixJobState(job.state.value),
                total=job.total,
                processed=job.processed,
                counts={name: getattr(job, name) for name in _COUNTS},
                error=job.error,
                finished_at=job.finished_at,
            )
        except DataQuarantineError as exc:  # the job goes on; the next save may succeed
            log.warning("job %s: its progress could not be saved: %s", job.id, exc)
        if job.state in (JobState.DONE, JobState.FAILED):
            self._saved.pop(job.id, None)

    def _forget_old(self) -> None:
        finished = [
            k for k, j in self._jobs.items() if j.state not in (JobState.QUEUED, JobState.RUNNING)
        ]
        while len(self._jobs) > self._max_jobs and finished:
            del self._jobs[finished.pop(0)]


def _from_record(record: FixJobRecord) -> Job:
    counts = {name: int(record.counts.get(name, 0)) for name in _COUNTS}
    return Job(
        id=record.id,
        state=JobState(record.state.value),
        total=record.total,
        processed=record.processed,
        created_at=record.created_at,
        finished_at=record.finished_at,
        error=record.error,
        **counts,
    )
