"""Background jobs of the review service (bulk reprocess), with progress snapshots.

Jobs run on a small thread pool inside the serving process and are kept in memory: their ids
do not survive a restart, but their effects do (every record's status and history are in the
store, so a bulk reprocess interrupted half-way is simply started again).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from dataquarantine.errors import JobNotFoundError
from dataquarantine.review.models import Job, JobState

__all__ = ["JobProgress", "JobRunner"]

log = logging.getLogger("dataquarantine.review.jobs")


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
    """Runs job bodies on worker threads and keeps the last ``max_jobs`` snapshots."""

    def __init__(self, *, max_jobs: int = 100, workers: int = 2) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._max_jobs = max_jobs
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dq-job")

    def submit(self, body: Callable[[JobProgress], Any]) -> Job:
        job = Job(id=uuid.uuid4().hex, state=JobState.QUEUED)
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old()
        self._pool.submit(self._run, job.id, body)
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFoundError(f"no job {job_id!r}")
        return job

    def wait(self, job_id: str, timeout: float = 60.0) -> Job:
        """Block until the job finished (for tests and the CLI)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(job_id)
            if job.state in (JobState.DONE, JobState.FAILED):
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
            if job is not None:
                self._jobs[job_id] = dataclasses.replace(job, **changes)

    def _bump(self, job_id: str, outcome: str) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                self._jobs[job_id] = dataclasses.replace(
                    job, processed=job.processed + 1, **{outcome: getattr(job, outcome) + 1}
                )

    def _forget_old(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.state in (JobState.DONE, JobState.FAILED)]
        while len(self._jobs) > self._max_jobs and finished:
            del self._jobs[finished.pop(0)]
