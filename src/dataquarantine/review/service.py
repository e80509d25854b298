"""The review service: look at quarantined records, fix them, send them on (no web framework).

:class:`ReviewService` is what the REST API and the web UI call. Every state change goes
through :meth:`ReviewLog.transition`, a compare-and-set on the record's status written in
one transaction with its history event, so two reviewers (or a reviewer and a bulk job) acting
on the same record never both win.

Status lifecycle::

    quarantined --reprocess, valid--> reprocessed            (published to the valid sink)
    quarantined --reprocess, invalid--> quarantined, attempts + 1
                                    --> dead once attempts reach max_attempts
    quarantined | remediated | dead --resolve--> resolved,  --discard--> discarded

A ``dead`` record is never picked by a bulk reprocess unless the filter asks for
``status=dead``; reprocessing it by id (after an edit, typically) is allowed.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson

from dataquarantine.contracts.source import parse_contracts_url
from dataquarantine.errors import (
    ConfigError,
    ContractNotFoundError,
    RecordNotFoundError,
    StatusConflictError,
)
from dataquarantine.infra.retry import RetryPolicy
from dataquarantine.kernel.lifecycle import (
    CLOSABLE,
    EDITABLE,
    REPROCESS_OUTCOME,
    REPROCESSABLE,
    Status,
)
from dataquarantine.kernel.results import Violation
from dataquarantine.kernel.revisions import Revision, RevisionKind
from dataquarantine.quarantine.envelope import QuarantineFilter, QuarantineRecord
from dataquarantine.quarantine.fix_log import FixJobKind
from dataquarantine.quarantine.history import (
    Bucket,
    Event,
    EventAction,
    QuarantineStats,
    StatusChange,
    StoredRevision,
)
from dataquarantine.quarantine.ports import fix_log, json_pages, review_log
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.registry import LiveRegistry, open_registry
from dataquarantine.remediation import Remediation
from dataquarantine.review.counts import CountCache
from dataquarantine.review.diff import diff_json
from dataquarantine.review.fix_models import filter_to_dict
from dataquarantine.review.fixes import BulkFixes, FixHooks, ValidFix
from dataquarantine.review.jobs import JobProgress, JobRunner
from dataquarantine.review.log import RetryingReviewLog
from dataquarantine.review.models import (
    Job,
    Page,
    RecordDetail,
    ReprocessOutcome,
    SchemaInfo,
    parse_json,
)
from dataquarantine.review.schemas import Compatibility, list_schemas, register_schema
from dataquarantine.review.settings import ReviewSettings
from dataquarantine.review.sinks import ReprocessedRecord, ReprocessSink, open_reprocess_sink
from dataquarantine.validation.contract import Contract
from dataquarantine.validation.registry import ContractRegistry

__all__ = ["MAX_PAGE_SIZE", "Compatibility", "ReviewService"]

log = logging.getLogger("dataquarantine.review")

MAX_PAGE_SIZE = 1000

#: A request retries a store briefly (about 1.5 s): a longer outage is answered at once with
#: an error, rather than holding the request for the commands' retry window.
REQUEST_RETRY = RetryPolicy(max_attempts=5, deadline=30.0, initial_backoff=0.1)


class ReviewService:
    """Review operations over a :class:`Quarantine`, a contract registry and a valid sink."""

    def __init__(
        self,
        quarantine: Quarantine,
        registry: ContractRegistry,
        sink: ReprocessSink,
        *,
        max_attempts: int = 5,
        max_jobs: int = 100,
        count_ttl: float = 0.0,
        remediation: Remediation | None = None,
        live: LiveRegistry | None = None,
        fix_confirm_above: int = 10_000,
    ) -> None:
        if max_attempts < 1:
            raise ConfigError(f"max_attempts must be >= 1, not {max_attempts}")
        self.quarantine = quarantine
        self.store = quarantine.store
        self.registry = registry
        #: Keeps ``registry`` in step with its source, riding out outages (see
        #: :class:`~dataquarantine.registry.LiveRegistry`); ``None``: refreshed directly.
        self.live = live
        self.sink = sink
        self.max_attempts = max_attempts
        jobs_log = fix_log(self.store)
        #: Bulk reprocess / resolve / discard jobs, kept in the store beside the fix jobs.
        self.jobs = JobRunner(max_jobs=max_jobs, store=jobs_log)
        #: Totals of the list: true counts, cached ``count_ttl`` seconds (see review.counts).
        self.counts = CountCache(quarantine.count, ttl=count_ttl)
        #: Revisions, history, transitions and stats, retried like the quarantine's calls.
        self.log = RetryingReviewLog(review_log(self.store), quarantine.retry)
        self._json_pages = json_pages(self.store)
        #: The double pass of reprocess; give it observers (Prometheus) to count its actions.
        self.remediation = remediation if remediation is not None else Remediation()
        #: Called with (contract name, outcome) after each reprocess attempt; ``outcome`` is
        #: ``reprocessed``, ``still_invalid`` or ``dead`` (Prometheus counts them).
        self.reprocess_observers: list[Callable[[str, str], None]] = []
        #: Bulk fixes: preview, jobs kept in the store, undo, make-a-rule.
        self.fixes = BulkFixes(
            quarantine,
            self.log,
            jobs_log,
            FixHooks(
                contract=self._contract_or_none,
                reprocess=lambda record_id, actor: self.reprocess(record_id, actor=actor),
                reprocess_valid=lambda fixed, actor: self.reprocess_valid(fixed, actor=actor),
                changed=self.counts.clear,
                registry=registry,
            ),
            confirm_above=fix_confirm_above,
        )

    @classmethod
    def open(cls, settings: ReviewSettings | None = None) -> ReviewService:
        """Open the stores (migrating them), the contracts folder and the valid sink."""
        settings = settings if settings is not None else ReviewSettings()
        quarantine = Quarantine.open(settings.store_url, settings.payloads_url, retry=REQUEST_RETRY)
        live = None
        try:
            url = parse_contracts_url(settings.contracts)
            if url.directory is not None:
                url.directory.mkdir(parents=True, exist_ok=True)
            live = open_registry(
                url.url,
                poll_seconds=1.0 if url.kind == "file" else settings.contracts_poll_seconds,
                cache=settings.contracts_cache,
            )
            sink = open_reprocess_sink(settings.reprocess_sink, quarantine.store)
        except BaseException:
            with contextlib.suppress(Exception):
                quarantine.close()
                if live is not None:
                    live.close()
            raise
        return cls(
            quarantine,
            live.registry,
            sink,
            live=live,
            max_attempts=settings.max_attempts,
            max_jobs=settings.max_jobs,
            count_ttl=settings.count_cache_seconds,
            fix_confirm_above=settings.fix_confirm_above,
        )

    # -- reads -----------------------------------------------------------------------------------

    def list(
        self, flt: QuarantineFilter | None = None, *, page: int = 1, page_size: int = 50
    ) -> Page:
        """One page (newest first) of the matching records and their true total."""
        _check_page(page, page_size)
        flt = flt or QuarantineFilter()
        items = self.quarantine.list(flt, limit=page_size, offset=(page - 1) * page_size)
        total = self._total(flt, page, page_size, len(items))
        return Page(items=tuple(items), total=total, page=page, page_size=page_size)

    def list_json(
        self, flt: QuarantineFilter | None = None, *, page: int = 1, page_size: int = 50
    ) -> tuple[bytes, int]:
        """:meth:`list` for an API: ``(items, total)``, the items already one JSON array of
        envelopes (``QuarantineRecord.to_dict()`` form), built by the store when it can."""
        _check_page(page, page_size)
        flt = flt or QuarantineFilter()
        offset = (page - 1) * page_size
        if self._json_pages is not None:
            items, n = self.quarantine.retry.call(
                self._json_pages.list_json, flt, limit=page_size, offset=offset
            )
        else:
            records = self.quarantine.list(flt, limit=page_size, offset=offset)
            items, n = orjson.dumps([r.to_dict() for r in records]), len(records)
        return items, self._total(flt, page, page_size, n)

    def _total(self, flt: QuarantineFilter, page: int, page_size: int, n: int) -> int:
        # Page 1 that is not full *is* the total: no count query needed.
        full = page > 1 or n == page_size
        return self.counts.get(flt) if full else n

    def record(self, record_id: uuid.UUID) -> QuarantineRecord:
        """The envelope alone; raises RecordNotFoundError."""
        record = self.quarantine.get(record_id)
        if record is None:
            raise RecordNotFoundError(f"no quarantined record {record_id}")
        return record

    def get(self, record_id: uuid.UUID) -> RecordDetail:
        """Envelope, original bytes (checksum verified), revisions and history."""
        record = self.record(record_id)
        return RecordDetail(
            record=record,
            payload=self.quarantine.payload(record),
            revisions=tuple(self.log.revisions(record_id)),
            events=tuple(self.log.events(record_id)),
        )

    def stats(
        self, flt: QuarantineFilter | None = None, *, bucket: Bucket = "hour", top: int = 10
    ) -> QuarantineStats:
        return self.log.stats(flt or QuarantineFilter(), bucket=bucket, top=top)

    # -- edits and decisions ---------------------------------------------------------------------

    def edit(self, record_id: uuid.UUID, payload: bytes, *, actor: str) -> StoredRevision:
        """Store a corrected payload as the record's next revision (the original is kept).

        The revision carries what changed (a JSON diff against the previous payload) and the
        violations the latest contract version still finds in it.
        """
        detail = self.get(record_id)
        if detail.record.status not in EDITABLE:
            raise StatusConflictError(
                f"record {record_id} is {detail.record.status.value}: it cannot be edited"
            )
        before_ok, before = parse_json(detail.latest_payload)
        after_ok, after = parse_json(payload)
        changes = diff_json(before, after) if before_ok and after_ok else ()
        errors: tuple[Violation, ...] = ()
        contract = self._contract_or_none(detail.record)
        if contract is not None:
            errors = contract.validate(payload).errors
        revision = Revision(
            payload=bytes(payload),
            kind=RevisionKind.EDIT,
            author=actor,
            changes=changes,
            errors=errors,
        )
        return self.log.add_revision(record_id, revision)

    def resolve(self, record_id: uuid.UUID, *, actor: str, reason: str) -> QuarantineRecord:
        """Close the record as handled elsewhere (nothing is published)."""
        return self._close(record_id, Status.RESOLVED, EventAction.RESOLVE, actor, reason)

    def discard(self, record_id: uuid.UUID, *, actor: str, reason: str) -> QuarantineRecord:
        """Close the record as not worth fixing (its bytes stay stored)."""
        return self._close(record_id, Status.DISCARDED, EventAction.DISCARD, actor, reason)

    def _close(
        self, record_id: uuid.UUID, to: Status, action: EventAction, actor: str, reason: str
    ) -> QuarantineRecord:
        record = self.record(record_id)
        if record.status not in CLOSABLE:
            raise StatusConflictError(f"record {record_id} is already {record.status.value}")
        event = Event(record_id, actor, action, record.status, to, reason=reason)
        updated = self.log.transition(record_id, expected=(record.status,), to=to, event=event)
        self.counts.clear()
        if updated is None:
            raise StatusConflictError(f"record {record_id} changed meanwhile; try again")
        return updated

    # -- reprocessing ----------------------------------------------------------------------------

    def reprocess(
        self, record_id: uuid.UUID, *, actor: str, version: str | None = None
    ) -> ReprocessOutcome:
        """Validate the latest revision (else the original) against the latest (or the given)
        version of the record's contract.

        Valid: published to the valid sink (keyed by the record id), status ``reprocessed``.
        Invalid: the contract's remediation is tried; if it still fails, errors are replaced
        and ``attempts`` goes up; at ``max_attempts`` the record is ``dead``. Reprocessing a
        record that is already ``reprocessed`` returns its state and publishes nothing.
        """
        detail = self.get(record_id)
        record = detail.record
        if record.status is Status.REPROCESSED:
            return ReprocessOutcome(record.id, record.status, (), record.attempts, changed=False)
        if record.status not in REPROCESSABLE:
            raise StatusConflictError(
                f"record {record_id} is {record.status.value}: it cannot be reprocessed"
            )
        contract = self._contract(record, version)
        payload = detail.latest_payload
        result = contract.validate(payload)
        remediation: Revision | None = None
        if not result.valid:
            attempt = self.remediation.attempt(contract, payload)
            remediation = attempt.revision if attempt is not None else None
            if remediation is not None and remediation.valid:
                payload = remediation.payload
        attempts = record.attempts + 1
        if result.valid or (remediation is not None and remediation.valid):
            if remediation is not None:
                self.log.add_revision(record_id, remediation)
            self.quarantine.retry.call(
                self.sink.publish,
                ReprocessedRecord(record.id, payload, contract.ref, record.source),
            )
            to = Status.REPROCESSED
            errors: tuple[Violation, ...] = ()
            new_errors: tuple[Violation, ...] | None = None
        else:
            if remediation is not None:
                self.log.add_revision(record_id, remediation)
            errors = remediation.errors if remediation is not None else result.errors
            new_errors = errors
            to = Status.DEAD if attempts >= self.max_attempts else record.status
        event = Event(
            record_id,
            actor,
            EventAction.REPROCESS,
            record.status,
            to,
            detail={
                "contract": str(contract.ref),
                "attempt": attempts,
                "errors": len(errors),
                "remediated": remediation is not None and remediation.valid,
            },
        )
        updated = self.log.transition(
            record_id,
            expected=(record.status,),
            to=to,
            event=event,
            attempts=attempts,
            errors=new_errors,
        )
        self.counts.clear()
        if updated is None:
            raise StatusConflictError(f"record {record_id} changed meanwhile; try again")
        outcome = to.value if to in (Status.REPROCESSED, Status.DEAD) else "still_invalid"
        if to is Status.DEAD:
            log.warning(
                "record %s is dead after %d reprocess attempt(s)",
                record_id,
                attempts,
                extra={"quarantine_id": str(record_id), "contract": contract.ref.name},
            )
        for observe in self.reprocess_observers:
            observe(contract.ref.name, outcome)
        return ReprocessOutcome(updated.id, updated.status, tuple(errors), updated.attempts)

    def reprocess_valid(self, fixed: Sequence[ValidFix], *, actor: str) -> builtins.list[bool]:
        """:meth:`reprocess` of records whose latest payload their contract has just found
        valid (a bulk fix's page), as one batch: one publish of them all to the valid sink
        (once per id), then one transaction of compare-and-sets to ``reprocessed`` with their
        events. Whether each one became ``reprocessed`` (``False``: changed meanwhile)."""
        if not fixed:
            return []
        self.quarantine.retry.call(
            self.sink.publish_many,
            [
                ReprocessedRecord(f.record.id, f.payload, f.contract.ref, f.record.source)
                for f in fixed
            ],
        )
        changes = []
        for f in fixed:
            record, attempts = f.record, f.record.attempts + 1
            event = Event(
                record.id,
                actor,
                EventAction.REPROCESS,
                record.status,
                Status.REPROCESSED,
                detail={
                    "contract": str(f.contract.ref),
                    "attempt": attempts,
                    "errors": 0,
                    "remediated": False,
                },
            )
            changes.append(
                StatusChange(frozenset({record.status}), Status.REPROCESSED, event, attempts)
            )
        applied = self.log.transition_many(changes)
        self.counts.clear()
        for f, ok in zip(fixed, applied, strict=True):
            if ok:
                for observe in self.reprocess_observers:
                    observe(f.contract.ref.name, Status.REPROCESSED.value)
        return applied

    def start_bulk_reprocess(
        self, flt: QuarantineFilter | None = None, *, actor: str, version: str | None = None
    ) -> Job:
        """Reprocess every record matching ``flt`` in the background; poll :meth:`job`.

        Without a status in the filter only ``quarantined`` records are taken (never ``dead``
        ones: the loop guard). Each record is reprocessed as by :meth:`reprocess`; one that
        fails (or changed meanwhile) is counted and the job goes on.
        """
        flt = flt or QuarantineFilter()
        if flt.status is None:
            flt = replace(flt, status=Status.QUARANTINED)

        def body(progress: JobProgress) -> None:
            progress.total(self.quarantine.count(flt))
            ids = [r.id for r in self.quarantine.iter(flt)]
            for record_id in ids:
                try:
                    outcome = self.reprocess(record_id, actor=actor, version=version)
                except (StatusConflictError, RecordNotFoundError):
                    progress.count("skipped")
                    continue
                except Exception:
                    progress.count("failed")
                    continue
                progress.count(REPROCESS_OUTCOME.get(outcome.status, "still_invalid"))

        spec = {"filter": filter_to_dict(flt), "version": version}
        return self.jobs.submit(body, kind=FixJobKind.REPROCESS, actor=actor, spec=spec)

    def start_bulk_resolve(
        self, flt: QuarantineFilter | None = None, *, actor: str, reason: str
    ) -> Job:
        """Resolve every open record matching ``flt`` in the background (others: skipped)."""
        return self._bulk_close(flt, Status.RESOLVED, EventAction.RESOLVE, actor, reason)

    def start_bulk_discard(
        self, flt: QuarantineFilter | None = None, *, actor: str, reason: str
    ) -> Job:
        """Discard every open record matching ``flt`` in the background (others: skipped)."""
        return self._bulk_close(flt, Status.DISCARDED, EventAction.DISCARD, actor, reason)

    def _bulk_close(
        self,
        flt: QuarantineFilter | None,
        to: Status,
        action: EventAction,
        actor: str,
        reason: str,
    ) -> Job:
        flt = flt or QuarantineFilter()

        def body(progress: JobProgress) -> None:
            progress.total(self.quarantine.count(flt))
            records = [(r.id, r.status) for r in self.quarantine.iter(flt)]
            for record_id, current in records:
                if current not in CLOSABLE:
                    progress.count("skipped")
                    continue
                try:
                    self._close(record_id, to, action, actor, reason)
                except (StatusConflictError, RecordNotFoundError):
                    progress.count("skipped")
                except Exception:
                    progress.count("failed")
                else:
                    progress.count("closed")

        kind = FixJobKind.RESOLVE if to is Status.RESOLVED else FixJobKind.DISCARD
        spec = {"filter": filter_to_dict(flt), "reason": reason}
        return self.jobs.submit(body, kind=kind, actor=actor, spec=spec)

    def job(self, job_id: str) -> Job:
        return self.jobs.get(job_id)

    # -- contracts -------------------------------------------------------------------------------

    def schemas(self) -> builtins.list[SchemaInfo]:
        """Every contract with its versions (see :mod:`~dataquarantine.review.schemas`)."""
        self.follow_contracts()
        return list_schemas(self.registry)

    def register_schema(
        self,
        document: Mapping[str, Any],
        *,
        compatibility: Compatibility = "backward",
        actor: str | None = None,
    ) -> SchemaInfo:
        """Add a contract version to the configured registry, recorded with ``actor``
        (:func:`~dataquarantine.review.schemas.register_schema`)."""
        return register_schema(self.registry, document, compatibility=compatibility, actor=actor)

    def follow_contracts(self) -> None:
        """Pick up newly registered versions (at most once a second for a folder, at once
        after a PostgreSQL notification); an unreachable registry keeps the contracts."""
        if self.live is not None:
            self.live.refresh()
        else:
            self.registry.refresh(min_interval=1.0)

    def _contract(self, record: QuarantineRecord, version: str | None) -> Contract:
        if record.contract is None:
            raise ContractNotFoundError("(none)", version)
        self.follow_contracts()
        return self.registry.get(record.contract, version)

    def _contract_or_none(self, record: QuarantineRecord) -> Contract | None:
        try:
            return self._contract(record, None)
        except ContractNotFoundError:
            return None

    # -- lifecycle -------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise when the store or the payload storage is unreachable."""
        self.quarantine.check()

    def close(self) -> None:
        self.fixes.close()
        self.jobs.close()
        try:
            self.sink.close()
        finally:
            try:
                self.quarantine.close()
            finally:
                if self.live is not None:
                    self.live.close()


def _check_page(page: int, page_size: int) -> None:
    if page < 1:
        raise ConfigError(f"page must be >= 1, not {page}")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ConfigError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, not {page_size}")
