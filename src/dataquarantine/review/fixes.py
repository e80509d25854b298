"""Bulk fixes: preview a fix on a sample, run it as a job over the whole set, undo it, and
turn it into a contract's remediation rules (issue 18).

A job streams the set in keyset pages (memory stays flat in the set's size). For each record
it reads the latest revision (else the original bytes), applies the steps and, when they
change something, writes the result as a new ``fix`` revision with
:meth:`~dataquarantine.quarantine.fix_log.FixLog.write_fix`: a compare-and-set on the latest
revision number, so two jobs on one record are serialised and a revision written by anyone
since the job started is never overwritten (the record is a ``conflict``). The original bytes
are never touched. Jobs and each record's outcome are in the store: a job survives a restart
(a server marks the jobs it finds running as ``interrupted``; :meth:`BulkFixes.resume`
continues one, skipping the records it already did).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dataquarantine.contracts.source import definition_of
from dataquarantine.contracts.version import Version
from dataquarantine.errors import (
    ConfigError,
    ContractNotFoundError,
    JobNotFoundError,
    RecordNotFoundError,
    StatusConflictError,
)
from dataquarantine.kernel.lifecycle import EDITABLE, Status
from dataquarantine.kernel.results import Violation
from dataquarantine.kernel.revisions import Revision, RevisionKind
from dataquarantine.quarantine.envelope import QuarantineFilter, QuarantineRecord
from dataquarantine.quarantine.fix_log import (
    FixItem,
    FixJobKind,
    FixJobRecord,
    FixJobState,
    FixLog,
    FixWrite,
    ItemOutcome,
)
from dataquarantine.quarantine.history import StoredRevision
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.remediation.engine import encode
from dataquarantine.remediation.fix import FixResult, StepError
from dataquarantine.review.diff import diff_json
from dataquarantine.review.fix_models import (
    DEFAULT_SAMPLE,
    FixPreview,
    FixRequest,
    PreviewItem,
    filter_from_dict,
)
from dataquarantine.review.log import RetryingReviewLog
from dataquarantine.review.models import ReprocessOutcome, SchemaInfo, parse_json
from dataquarantine.review.pages import pages, read_ahead
from dataquarantine.review.schemas import Compatibility, inline_spec, register_schema
from dataquarantine.validation.contract import Contract
from dataquarantine.validation.registry import ContractRegistry

__all__ = ["BulkFixes", "FixHooks", "ValidFix"]

log = logging.getLogger("dataquarantine.review.fixes")

#: Records per page of a job (one progress update each).
PAGE = 500
#: Step errors a preview names (the count covers all of them).
FIRST_ERRORS = 5
_RUNNING = (FixJobState.QUEUED, FixJobState.RUNNING)
_FIX_KINDS = (FixJobKind.FIX, FixJobKind.UNDO)


@dataclass(frozen=True, slots=True)
class ValidFix:
    """A record whose fixed payload ``contract`` (its latest version) found valid."""

    record: QuarantineRecord
    payload: bytes
    contract: Contract


@dataclass(frozen=True, slots=True)
class FixHooks:
    """What the bulk fixes use of the review service (which owns them)."""

    contract: Callable[[QuarantineRecord], Contract | None]
    reprocess: Callable[[uuid.UUID, str], ReprocessOutcome]
    #: Reprocess records a fix has just made valid, as one batch (see :class:`ValidFix`):
    #: whether each one became ``reprocessed``.
    reprocess_valid: Callable[[Sequence[ValidFix], str], list[bool]]
    changed: Callable[[], None]
    registry: ContractRegistry


#: A page of a fix job: its items left alone, the revisions to write and their contracts.
_Page = tuple[list[FixItem], list[FixWrite], dict[uuid.UUID, Contract]]


@dataclass(frozen=True, slots=True)
class _Latest:
    base: int
    payload: bytes
    at: datetime | None


class BulkFixes:
    """Preview, run, undo and make-a-rule of bulk fixes over one store."""

    def __init__(
        self,
        quarantine: Quarantine,
        review_log: RetryingReviewLog,
        fixes: FixLog,
        hooks: FixHooks,
        *,
        confirm_above: int = 10_000,
        workers: int = 1,
    ) -> None:
        self.quarantine = quarantine
        self.log = review_log
        self.fixes = fixes
        self.hooks = hooks
        #: A set larger than this needs ``confirm`` to run.
        self.confirm_above = confirm_above
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dq-fix")
        self._stopping = threading.Event()

    # -- preview ---------------------------------------------------------------------------

    def preview(
        self, request: FixRequest, *, sample: int = DEFAULT_SAMPLE, scan: int = 100_000
    ) -> FixPreview:
        """Apply the fix to ``sample`` records spread across the set, and count over the whole
        set (its first ``scan`` records, oldest first) what it would do. Nothing is written."""
        if not 1 <= sample <= 100:
            raise ConfigError(f"sample must be between 1 and 100, not {sample}")
        flt = request.filter
        total = self.quarantine.count(flt)
        k = min(sample, total)
        offsets = [i * total // k for i in range(k)]  # spread across the set
        items = []
        for offset in offsets:
            for record in self.quarantine.list(flt, limit=1, offset=offset):
                items.append(self._preview_one(record, request))
        counts: Counter[str] = Counter()
        first: list[tuple[uuid.UUID, StepError]] = []
        scanned = 0
        for whole in pages(self._records(flt), PAGE):
            page = whole[: scan - scanned]
            revised = self.fixes.latest_revisions([r.id for r in page])
            for record in page:
                result = self._apply(self._latest(record, revised), request)
                if isinstance(result, StepError):
                    counts["error"] += 1
                    if len(first) < FIRST_ERRORS:
                        first.append((record.id, result))
                else:
                    counts["unchanged" if result is None else "applies"] += 1
            scanned += len(page)
            if scanned >= scan:
                break
        return FixPreview(
            total=total,
            scanned=scanned,
            items=tuple(items),
            applies=counts["applies"],
            unchanged=counts["unchanged"],
            step_errors=counts["error"],
            first_errors=tuple(first),
            needs_confirmation=total > self.confirm_above,
        )

    def _preview_one(self, record: QuarantineRecord, request: FixRequest) -> PreviewItem:
        latest = self._latest(record)
        ok, before = parse_json(latest.payload)
        if not ok:
            error = StepError(0, "the payload is not JSON")
            return PreviewItem(record.id, (), (), error, None, None)
        result = request.fix.apply(before)
        errors: tuple[Violation, ...] = ()
        if result.error is None:
            contract = self.hooks.contract(record)
            if contract is not None:
                errors = contract.validate(encode(result.value)).errors
        return PreviewItem(record.id, result.changes, errors, result.error, before, result.value)

    def _apply(self, latest: _Latest, request: FixRequest) -> StepError | Any | None:
        """The fixed value, ``None`` when unchanged, or the step error."""
        ok, value = parse_json(latest.payload)
        if not ok:
            return StepError(0, "the payload is not JSON")
        result = request.fix.apply(value)
        if result.error is not None:
            return result.error
        return result.value if result.changed else None

    # -- jobs ------------------------------------------------------------------------------

    def start(self, request: FixRequest, *, actor: str) -> FixJobRecord:
        """Start a fix job over the set; :class:`ConfigError` when the set is larger than
        :attr:`confirm_above` and the request does not confirm."""
        total = self.quarantine.count(request.filter)
        if total > self.confirm_above and not request.confirm:
            raise ConfigError(
                f"the fix would look at {total} records, more than {self.confirm_above}:"
                " confirm it (confirm: true) to run it"
            )
        job = FixJobRecord(
            id=uuid.uuid4().hex,
            kind=FixJobKind.FIX,
            state=FixJobState.QUEUED,
            actor=actor,
            spec=request.to_spec(),
            total=total,
        )
        self.fixes.create_job(job)
        self._pool.submit(self._run, job.id, lambda: self._fix_body(job, request))
        return job

    def undo(self, job_id: str, *, actor: str) -> FixJobRecord:
        """Revert every record the fix job revised to its previous revision (as a new ``undo``
        revision), in the background. A record revised since, or already reprocessed
        (replayed downstream), is reported and left."""
        fix = self.job(job_id)
        if fix.kind is not FixJobKind.FIX:
            raise ConfigError(f"job {job_id} is an undo; undo the fix job instead")
        if fix.state in _RUNNING:
            raise StatusConflictError(f"job {job_id} is still {fix.state.value}")
        job = FixJobRecord(
            id=uuid.uuid4().hex,
            kind=FixJobKind.UNDO,
            state=FixJobState.QUEUED,
            actor=actor,
            spec={"undo_of": job_id},
            undo_of=job_id,
            total=sum(
                n
                for k, n in fix.counts.items()
                if k in (ItemOutcome.FIXED_VALID.value, ItemOutcome.FIXED_INVALID.value)
            ),
        )
        self.fixes.create_job(job)
        self._pool.submit(self._run, job.id, lambda: self._undo_body(job, fix))
        return job

    def resume(self, job_id: str) -> FixJobRecord:
        """Continue an interrupted job where it stopped (records it did are skipped)."""
        job = self.job(job_id)
        if job.state is not FixJobState.INTERRUPTED:
            raise StatusConflictError(f"job {job_id} is {job.state.value}, not interrupted")
        self.fixes.update_job(job_id, state=FixJobState.QUEUED)
        if job.kind is FixJobKind.UNDO and job.undo_of is not None:
            fix = self.job(job.undo_of)
            self._pool.submit(self._run, job.id, lambda: self._undo_body(job, fix))
        else:
            spec = job.spec
            request = FixRequest.of(
                spec["steps"],
                filter_from_dict(spec.get("filter", {})),
                reprocess=bool(spec.get("reprocess")),
                confirm=True,
            )
            self._pool.submit(self._run, job.id, lambda: self._fix_body(job, request))
        return self.job(job_id)

    def mark_interrupted(self) -> list[str]:
        """At start: jobs left queued or running by a stopped server become ``interrupted``
        (the review's bulk jobs, kept in the same table, too)."""
        ids = [j.id for j in self.fixes.jobs(states=_RUNNING, limit=1000)]
        for job_id in ids:
            self.fixes.update_job(job_id, state=FixJobState.INTERRUPTED)
            log.warning("bulk fix job %s was interrupted by a restart", job_id)
        return ids

    def job(self, job_id: str) -> FixJobRecord:
        job = self.fixes.get_job(job_id)
        if job is None or job.kind not in _FIX_KINDS:
            raise JobNotFoundError(f"no fix job {job_id!r}")
        return job

    def jobs(self, *, limit: int = 50) -> list[FixJobRecord]:
        return self.fixes.jobs(kinds=_FIX_KINDS, limit=limit)

    def wait(self, job_id: str, timeout: float = 60.0) -> FixJobRecord:
        """Block until the job ended (tests and the CLI)."""
        deadline = datetime.now(UTC).timestamp() + timeout
        while datetime.now(UTC).timestamp() < deadline:
            job = self.job(job_id)
            if job.state not in _RUNNING:
                return job
            self._stopping.wait(0.02)
        return self.job(job_id)

    def close(self) -> None:
        self._stopping.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, job_id: str, body: Callable[[], None]) -> None:
        self.fixes.update_job(job_id, state=FixJobState.RUNNING)
        try:
            body()
        except Exception as exc:
            log.exception("bulk fix job %s failed", job_id)
            self.fixes.update_job(
                job_id,
                state=FixJobState.FAILED,
                error=str(exc) or type(exc).__name__,
                counts=self._counts(job_id),
                finished_at=datetime.now(UTC),
            )
        else:
            if self._stopping.is_set():
                self.fixes.update_job(job_id, state=FixJobState.INTERRUPTED)
                return
            self.fixes.update_job(
                job_id,
                state=FixJobState.DONE,
                counts=self._counts(job_id),
                finished_at=datetime.now(UTC),
            )
        finally:
            self.hooks.changed()

    def _counts(self, job_id: str) -> dict[str, int]:
        """The items per outcome, and the reprocess counts the job keeps beside them."""
        job = self.job(job_id)
        outcomes = {o.value for o in ItemOutcome}
        kept = {k: n for k, n in job.counts.items() if k not in outcomes}
        return {**kept, **self.fixes.item_counts(job_id)}

    def _progress(self, job_id: str, processed: int, counts: Counter[str]) -> None:
        # counted as the job goes (the store's items are counted once, at the end)
        self.fixes.update_job(job_id, processed=processed, counts=dict(counts))

    def _fix_body(self, job: FixJobRecord, request: FixRequest) -> None:
        processed = 0
        counts: Counter[str] = Counter(self.fixes.item_counts(job.id))  # a resumed job's
        resumed = bool(counts)  # else no record is done yet: keyset pages never come back

        def prepared() -> Iterator[tuple[int, list[QuarantineRecord], _Page]]:
            for page in pages(self._records(request.filter), PAGE):
                done = self.fixes.done(job.id, [r.id for r in page]) if resumed else set()
                todo = [r for r in page if r.id not in done]
                yield len(page), todo, self._fix_page(todo, job, request)

        # The next page is read, fixed and validated while this one is written: the reads
        # and the fix are Python, the writes mostly the database's time. Pages are disjoint
        # and keyset pages never come back, so the write of one cannot change the next.
        for size, todo, (pending, writes, contracts) in read_ahead(prepared()):
            if self._stopping.is_set():
                return
            processed += size
            # one transaction for the page's revisions, each a compare-and-set
            stored = self.quarantine.retry.call(
                self.fixes.write_fixes, job.id, writes, expected=EDITABLE
            )
            valid: list[ValidFix] = []
            by_id = {r.id: r for r in todo}
            for write, revision in zip(writes, stored, strict=True):
                if revision is None:
                    pending.append(FixItem(write.record_id, ItemOutcome.CONFLICT))
                    continue
                counts[write.outcome.value] += 1
                if not request.reprocess:
                    continue
                contract = contracts.get(write.record_id)
                if write.outcome is ItemOutcome.FIXED_VALID and contract is not None:
                    record = by_id[write.record_id]
                    valid.append(ValidFix(record, write.revision.payload, contract))
                else:
                    counts[self._reprocess(write.record_id, job.actor)] += 1
            if valid:  # the page's now-valid records: one publish, one batch of transitions
                applied = self.hooks.reprocess_valid(valid, job.actor)
                counts.update("reprocessed" if ok else "reprocess_skipped" for ok in applied)
            counts.update(i.outcome.value for i in pending)
            self.fixes.add_items(job.id, pending)
            self._progress(job.id, processed, counts)

    def _reprocess(self, record_id: uuid.UUID, actor: str) -> str:
        try:
            outcome = self.hooks.reprocess(record_id, actor)
        except (StatusConflictError, RecordNotFoundError, ContractNotFoundError):
            return "reprocess_skipped"
        if outcome.status is Status.REPROCESSED:
            return "reprocessed"
        return "dead" if outcome.status is Status.DEAD else "still_invalid"

    def _fix_page(
        self, page: list[QuarantineRecord], job: FixJobRecord, request: FixRequest
    ) -> _Page:
        """The page's items left alone, the revisions to write (page order) and the contract
        each was validated against. Reads the page's latest revisions and original bytes in
        one go each, and validates the fixed payloads per contract as a batch."""
        revised = self.quarantine.retry.call(self.fixes.latest_revisions, [r.id for r in page])
        originals = self.quarantine.payloads_of(
            [r for r in page if r.status in EDITABLE and r.id not in revised]
        )
        pending: list[FixItem] = []
        fixed: list[tuple[QuarantineRecord, int, FixResult, bytes]] = []
        for record in page:
            last = revised.get(record.id)
            if last is not None:
                latest = _Latest(last.number, last.payload, last.created_at)
            else:
                latest = _Latest(0, originals.get(record.id, b""), None)
            result = self._fix_one(record, latest, job, request)
            if isinstance(result, FixItem):
                pending.append(result)
            else:
                fixed.append((record, latest.base, result, encode(result.value)))
        errors, contracts = self._validate([(r, payload) for r, _, _, payload in fixed])
        writes = []
        for (record, base, result, payload), found in zip(fixed, errors, strict=True):
            revision = Revision(
                payload=payload,
                kind=RevisionKind.FIX,
                author=job.actor,
                changes=result.changes,
                errors=found,
            )
            outcome = ItemOutcome.FIXED_INVALID if found else ItemOutcome.FIXED_VALID
            writes.append(FixWrite(record.id, revision, base, outcome))
        return pending, writes, contracts

    def _validate(
        self, items: list[tuple[QuarantineRecord, bytes]]
    ) -> tuple[list[tuple[Violation, ...]], dict[uuid.UUID, Contract]]:
        """Each payload's errors under its record's contract (none without one), validated
        as one batch per contract; and the contract of each record that has one."""
        by_name: dict[str | None, Contract | None] = {}
        groups: dict[str | None, list[int]] = {}
        contracts: dict[uuid.UUID, Contract] = {}
        for i, (record, _) in enumerate(items):
            if record.contract not in by_name:
                by_name[record.contract] = self.hooks.contract(record)
            contract = by_name[record.contract]
            if contract is not None:
                contracts[record.id] = contract
                groups.setdefault(record.contract, []).append(i)
        errors: list[tuple[Violation, ...]] = [() for _ in items]
        for name, indexes in groups.items():
            contract = by_name[name]
            assert contract is not None  # grouped only when found
            batch = contract.validate_batch([items[i][1] for i in indexes])
            for j, invalid in batch.invalid.items():
                errors[indexes[j]] = invalid.errors
        return errors, contracts

    def _fix_one(
        self, record: QuarantineRecord, latest: _Latest, job: FixJobRecord, request: FixRequest
    ) -> FixItem | FixResult:
        """The fix's result, or the item of a record left alone."""
        if record.status not in EDITABLE:
            return FixItem(record.id, ItemOutcome.SKIPPED)
        if latest.at is not None and latest.at > job.created_at:
            return FixItem(record.id, ItemOutcome.CONFLICT)
        ok, value = parse_json(latest.payload)
        if not ok:
            return FixItem(record.id, ItemOutcome.STEP_ERROR)
        result = request.fix.apply(value)
        if result.error is not None:
            return FixItem(record.id, ItemOutcome.STEP_ERROR)
        if not result.changed:
            return FixItem(record.id, ItemOutcome.SKIPPED)
        return result

    def _undo_body(self, job: FixJobRecord, fix: FixJobRecord) -> None:
        processed = 0
        counts: Counter[str] = Counter(self.fixes.item_counts(job.id))
        after: uuid.UUID | None = None
        while not self._stopping.is_set():
            page = self.fixes.items(fix.id, after=after, limit=PAGE)
            if not page:
                return
            after = page[-1].record_id
            done = self.fixes.done(job.id, [i.record_id for i in page])
            pending: list[FixItem] = []
            for item in page:
                if item.number is None or item.record_id in done:
                    continue
                processed += 1
                outcome = self._undo_one(item, job)
                counts[(outcome or ItemOutcome.REVERTED).value] += 1
                if outcome is not None:
                    pending.append(FixItem(item.record_id, outcome))
            self.fixes.add_items(job.id, pending)
            self._progress(job.id, processed, counts)

    def _undo_one(self, item: FixItem, job: FixJobRecord) -> ItemOutcome | None:
        """``None`` when reverted, else why not."""
        record = self.quarantine.get(item.record_id)
        if record is None:
            return ItemOutcome.SKIPPED
        if record.status is Status.REPROCESSED:
            return ItemOutcome.REPLAYED
        revisions = self.log.revisions(item.record_id)
        if not revisions or revisions[-1].number != item.number or item.base is None:
            return ItemOutcome.CONFLICT
        if record.status not in EDITABLE:
            return ItemOutcome.SKIPPED
        previous = (
            revisions[item.base - 1].payload if item.base else self.quarantine.payload(record)
        )
        ok_now, now = parse_json(revisions[-1].payload)
        ok_then, then = parse_json(previous)
        changes = diff_json(now, then, action="undo") if ok_now and ok_then else ()
        contract = self.hooks.contract(record)
        errors = contract.validate(previous).errors if contract is not None else ()
        revision = Revision(
            payload=previous,
            kind=RevisionKind.UNDO,
            author=job.actor,
            changes=changes,
            errors=errors,
        )
        stored = self.quarantine.retry.call(
            self.fixes.write_fix,
            item.record_id,
            revision,
            job_id=job.id,
            base=item.number,
            outcome=ItemOutcome.REVERTED,
            expected=EDITABLE,
        )
        return None if stored is not None else ItemOutcome.CONFLICT

    # -- make it a rule --------------------------------------------------------------------

    def rule_document(
        self, request: FixRequest, contract_name: str, version: str | None = None
    ) -> dict[str, Any]:
        """The next version of ``contract_name`` with the fix's steps appended to its
        ``remediation:`` rules (a minor version up unless ``version`` is given)."""
        rules = request.fix.remediation_rules()
        current = self.hooks.registry.get(contract_name)
        data = definition_of(inline_spec(current.spec))
        existing = list(data.get("remediation", []))
        added = [r.model_dump(mode="json", exclude_defaults=True) for r in rules]
        data["remediation"] = existing + [r for r in added if r not in existing]
        latest = max(Version.parse(v) for v in self.hooks.registry.versions(contract_name))
        data["version"] = version or f"{latest.major}.{latest.minor + 1}.0"
        return data

    def make_rule(
        self,
        request: FixRequest,
        contract_name: str,
        *,
        actor: str,
        version: str | None = None,
        compatibility: Compatibility = "backward",
    ) -> SchemaInfo:
        """Register :meth:`rule_document` through the compatibility check."""
        document = self.rule_document(request, contract_name, version)
        return register_schema(
            self.hooks.registry, document, compatibility=compatibility, actor=actor
        )

    # -- reading records -------------------------------------------------------------------

    def _records(self, flt: QuarantineFilter) -> Iterator[QuarantineRecord]:
        return self.quarantine.store.iter(flt, batch_size=PAGE)

    def _latest(
        self, record: QuarantineRecord, revised: Mapping[uuid.UUID, StoredRevision] | None = None
    ) -> _Latest:
        """The payload a fix starts from; ``revised``: the latest revisions already read."""
        if revised is None:
            revisions = self.log.revisions(record.id)
            last = revisions[-1] if revisions else None
        else:
            last = revised.get(record.id)
        if last is not None:
            return _Latest(last.number, last.payload, last.created_at)
        return _Latest(0, self.quarantine.payload(record), None)
