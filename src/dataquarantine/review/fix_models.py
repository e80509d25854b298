"""Values of bulk fixes: the request (steps and the set), the preview and the job view."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dataquarantine.errors import ConfigError
from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.results import ErrorCode, Violation
from dataquarantine.kernel.revisions import FieldChange
from dataquarantine.quarantine.envelope import QuarantineFilter
from dataquarantine.quarantine.fix_log import FixJobRecord, FixJobState
from dataquarantine.remediation.fix import Fix, StepError, parse_fix

__all__ = [
    "FixPreview",
    "FixRequest",
    "PreviewItem",
    "filter_from_dict",
    "filter_to_dict",
    "fix_set",
    "job_view",
]

#: Records a preview shows by default (chosen across the set).
DEFAULT_SAMPLE = 20


def filter_to_dict(flt: QuarantineFilter) -> dict[str, Any]:
    """The set of a job as JSON data (what a job stores)."""
    out: dict[str, Any] = {}
    for name in ("contract", "source_kind", "source_name", "run_id", "text", "path"):
        value = getattr(flt, name)
        if value is not None:
            out[name] = value
    if flt.code is not None:
        out["code"] = flt.code.value
    if flt.status is not None:
        out["status"] = flt.status.value
    for name in ("since", "until"):
        value = getattr(flt, name)
        if value is not None:
            out[name] = value.isoformat()
    return out


def filter_from_dict(data: Mapping[str, Any]) -> QuarantineFilter:
    """Inverse of :func:`filter_to_dict`; :class:`ConfigError` for an unknown value."""
    unknown = set(data) - {
        "contract",
        "code",
        "status",
        "source_kind",
        "source_name",
        "since",
        "until",
        "run_id",
        "text",
        "path",
    }
    if unknown:
        raise ConfigError(f"unknown filter field(s): {', '.join(sorted(unknown))}")
    try:
        return QuarantineFilter(
            contract=data.get("contract"),
            code=ErrorCode(data["code"]) if data.get("code") else None,
            status=Status(data["status"]) if data.get("status") else None,
            source_kind=data.get("source_kind"),
            source_name=data.get("source_name"),
            since=datetime.fromisoformat(data["since"]) if data.get("since") else None,
            until=datetime.fromisoformat(data["until"]) if data.get("until") else None,
            run_id=data.get("run_id"),
            text=data.get("text"),
            path=data.get("path"),
        )
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"bad filter: {exc}") from None


def fix_set(flt: QuarantineFilter | None) -> QuarantineFilter:
    """The set a fix takes: the filter, with ``quarantined`` when it names no status."""
    flt = flt or QuarantineFilter()
    return flt if flt.status is not None else dataclasses.replace(flt, status=Status.QUARANTINED)


@dataclass(frozen=True, slots=True)
class FixRequest:
    """What to fix (``steps``, parsed into ``fix``) and where (``filter``).

    Without a status in the filter only ``quarantined`` records are taken. ``reprocess``:
    reprocess each fixed record after the fix. ``confirm``: needed when the set is larger
    than the service's confirmation limit."""

    steps: tuple[Mapping[str, Any], ...]
    fix: Fix
    filter: QuarantineFilter = field(default_factory=QuarantineFilter)
    reprocess: bool = False
    confirm: bool = False

    @classmethod
    def of(
        cls,
        steps: Any,
        flt: QuarantineFilter | None = None,
        *,
        reprocess: bool = False,
        confirm: bool = False,
    ) -> FixRequest:
        """Parse ``steps``: :class:`~dataquarantine.errors.FixDefinitionError` names a bad
        one."""
        fix = parse_fix(steps)
        return cls(tuple(fix.describe()), fix, fix_set(flt), reprocess, confirm)

    def to_spec(self) -> dict[str, Any]:
        return {
            "steps": list(self.steps),
            "filter": filter_to_dict(self.filter),
            "reprocess": self.reprocess,
        }


@dataclass(frozen=True, slots=True)
class PreviewItem:
    """One sampled record: its changes and the re-validation of the fixed payload."""

    record_id: uuid.UUID
    changes: tuple[FieldChange, ...]
    errors: tuple[Violation, ...]
    step_error: StepError | None
    before: Any
    after: Any

    @property
    def valid(self) -> bool:
        return self.step_error is None and not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.record_id),
            "changes": [c.to_dict() for c in self.changes],
            "valid": self.valid,
            "errors": [v.to_dict() for v in self.errors],
            "step_error": self.step_error.to_dict() if self.step_error else None,
        }


@dataclass(frozen=True, slots=True)
class FixPreview:
    """A fix applied to a sample of the set (nothing written), and over the set: how many
    records the steps change, leave alone, or error on (with the first errors)."""

    total: int
    #: Records the counts cover (the whole set unless it is larger than the scan limit).
    scanned: int
    items: tuple[PreviewItem, ...]
    applies: int
    unchanged: int
    step_errors: int
    first_errors: tuple[tuple[uuid.UUID, StepError], ...]
    needs_confirmation: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "scanned": self.scanned,
            "applies": self.applies,
            "unchanged": self.unchanged,
            "step_errors": self.step_errors,
            "first_errors": [{"id": str(i), **e.to_dict()} for i, e in self.first_errors],
            "needs_confirmation": self.needs_confirmation,
            "items": [i.to_dict() for i in self.items],
        }


def job_view(job: FixJobRecord) -> dict[str, Any]:
    """A job as the API answers it (with its progress, 0..1)."""
    finished = job.state in (FixJobState.DONE, FixJobState.FAILED)
    progress = 1.0 if finished or (job.total == 0 and job.state is not FixJobState.QUEUED) else 0.0
    if not finished and job.total:
        progress = min(1.0, job.processed / job.total)
    return {
        "id": job.id,
        "kind": job.kind.value,
        "state": job.state.value,
        "actor": job.actor,
        "undo_of": job.undo_of,
        "total": job.total,
        "processed": job.processed,
        "progress": progress,
        "counts": dict(job.counts),
        "error": job.error,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "steps": list(job.spec.get("steps", [])),
        "filter": dict(job.spec.get("filter", {})),
        "reprocess": bool(job.spec.get("reprocess", False)),
    }
