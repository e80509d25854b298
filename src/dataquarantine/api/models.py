"""Request and response bodies of the REST API (pydantic: they are the OpenAPI schema)."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.results import ErrorCode, Severity, Violation
from dataquarantine.kernel.revisions import RevisionKind
from dataquarantine.quarantine.envelope import QuarantineRecord
from dataquarantine.quarantine.history import Event, EventAction, QuarantineStats, StoredRevision
from dataquarantine.review.models import (
    Job,
    JobState,
    Page,
    RecordDetail,
    ReprocessOutcome,
    SchemaInfo,
    parse_json,
)

__all__ = [
    "BulkCloseBody",
    "BulkFilterBody",
    "BulkReprocessBody",
    "ErrorOut",
    "JobOut",
    "PatchB64",
    "PatchBody",
    "PatchJson",
    "ReadyOut",
    "ReasonBody",
    "RecordDetailOut",
    "RecordOut",
    "RecordPageOut",
    "RegisterSchemaBody",
    "ReprocessBody",
    "ReprocessOut",
    "RevisionOut",
    "SchemaOut",
    "StatsOut",
]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ErrorOut(_Out):
    detail: str
    reasons: list[str] | None = None


class ReadyOut(_Out):
    """``/ready``: which dependencies failed, by name only (never a URL or an error text)."""

    status: Literal["ready", "unavailable"]
    failed: list[Literal["store", "payloads"]] = []


class ViolationOut(_Out):
    code: ErrorCode
    path: str
    message: str
    rule: str | None = None
    keyword: str | None = None
    severity: Severity = Severity.ERROR

    @classmethod
    def of(cls, v: Violation) -> ViolationOut:
        return cls.model_validate(v.to_dict())


class PayloadRefOut(_Out):
    key: str
    offset: int
    length: int
    sha256: str


class RecordOut(_Out):
    id: uuid.UUID
    contract: str | None
    contract_version: str | None
    source: dict[str, Any]
    errors: list[ViolationOut]
    error_code: ErrorCode
    status: Status
    attempts: int
    quarantined_at: datetime
    run_id: str
    payload: PayloadRefOut

    @classmethod
    def of(cls, r: QuarantineRecord) -> RecordOut:
        """The envelope's own JSON form (:meth:`QuarantineRecord.to_dict`), as a model."""
        return cls.model_validate(r.to_dict())


class RecordPageOut(_Out):
    items: list[RecordOut]
    total: int = Field(description="The true number of records matching the filters.")
    page: int
    page_size: int

    @classmethod
    def of(cls, page: Page) -> RecordPageOut:
        return cls(
            items=[RecordOut.of(r) for r in page.items],
            total=page.total,
            page=page.page,
            page_size=page.page_size,
        )


class PayloadOut(_Out):
    """Bytes, exact (base64), and parsed when they are one JSON document."""

    b64: str
    size: int
    is_json: bool
    json_value: Any = Field(default=None, alias="json")

    @classmethod
    def of(cls, data: bytes) -> PayloadOut:
        ok, value = parse_json(data)
        return cls.model_validate(
            {
                "b64": base64.b64encode(data).decode(),
                "size": len(data),
                "is_json": ok,
                "json": value,
            }
        )


class ChangeOut(_Out):
    path: str
    action: str
    old: Any = None
    new: Any = None
    existed_before: bool = True


class RevisionOut(_Out):
    number: int
    kind: RevisionKind
    author: str
    created_at: datetime
    valid: bool
    payload: PayloadOut
    changes: list[ChangeOut]
    errors: list[ViolationOut]

    @classmethod
    def of(cls, r: StoredRevision) -> RevisionOut:
        return cls(
            number=r.number,
            kind=r.kind,
            author=r.author,
            created_at=r.created_at,
            valid=r.valid,
            payload=PayloadOut.of(r.payload),
            changes=[ChangeOut(**c.to_dict()) for c in r.changes],
            errors=[ViolationOut.of(v) for v in r.errors],
        )


class EventOut(_Out):
    at: datetime
    actor: str
    action: EventAction
    from_status: Status | None
    to_status: Status | None
    reason: str | None
    detail: dict[str, Any]

    @classmethod
    def of(cls, e: Event) -> EventOut:
        return cls(
            at=e.at,
            actor=e.actor,
            action=e.action,
            from_status=e.from_status,
            to_status=e.to_status,
            reason=e.reason,
            detail=dict(e.detail),
        )


class RecordDetailOut(RecordOut):
    original: PayloadOut
    revisions: list[RevisionOut]
    events: list[EventOut]

    @classmethod
    def of_detail(cls, d: RecordDetail) -> RecordDetailOut:
        return cls(
            **RecordOut.of(d.record).model_dump(),
            original=PayloadOut.of(d.payload),
            revisions=[RevisionOut.of(r) for r in d.revisions],
            events=[EventOut.of(e) for e in d.events],
        )


class PatchJson(_In):
    """A corrected payload as a JSON value (stored as compact JSON text)."""

    payload: Any


#: Standard base64 with padding (what ``base64.b64decode(validate=True)`` accepts).
B64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


class PatchB64(_In):
    """A corrected payload as exact bytes (base64)."""

    payload_b64: str = Field(pattern=B64_PATTERN)


#: The PATCH body: ``{"payload": <JSON value>}`` or ``{"payload_b64": "..."}``.
PatchBody = PatchJson | PatchB64


class ReprocessBody(_In):
    version: str | None = Field(
        default=None, description="Contract version to validate against; latest when absent."
    )


class ReprocessOut(_Out):
    id: uuid.UUID
    status: Status
    errors: list[ViolationOut]
    attempts: int

    @classmethod
    def of(cls, o: ReprocessOutcome) -> ReprocessOut:
        return cls(
            id=o.id,
            status=o.status,
            errors=[ViolationOut.of(v) for v in o.errors],
            attempts=o.attempts,
        )


class BulkFilterBody(_In):
    """The list endpoint's filters, as the body of a bulk request."""

    topic: str | None = Field(default=None, max_length=1000)
    schema_name: str | None = Field(default=None, max_length=1000)
    error_type: ErrorCode | None = None
    status: Status | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    q: str | None = Field(default=None, max_length=1000)
    #: Path of any violation (exact), e.g. ``/status``.
    path: str | None = Field(default=None, max_length=1000)


class BulkReprocessBody(BulkFilterBody):
    """The list endpoint's filters; no status means ``quarantined`` (never ``dead``)."""

    version: str | None = Field(default=None, max_length=200)


class BulkCloseBody(BulkFilterBody):
    """The list endpoint's filters (any status; only open records are closed) and a reason."""

    reason: str = Field(min_length=1, max_length=4000)


class JobOut(_Out):
    id: str
    state: JobState
    progress: float
    total: int
    processed: int
    reprocessed: int
    still_invalid: int
    dead: int
    closed: int
    skipped: int
    failed: int
    created_at: datetime
    finished_at: datetime | None
    error: str | None

    @classmethod
    def of(cls, j: Job) -> JobOut:
        return cls(
            id=j.id,
            state=j.state,
            progress=j.progress,
            total=j.total,
            processed=j.processed,
            reprocessed=j.reprocessed,
            still_invalid=j.still_invalid,
            dead=j.dead,
            closed=j.closed,
            skipped=j.skipped,
            failed=j.failed,
            created_at=j.created_at,
            finished_at=j.finished_at,
            error=j.error,
        )


class ReasonBody(_In):
    reason: str = Field(min_length=1, max_length=4000)


class CountOut(_Out):
    key: str
    count: int


class PointOut(_Out):
    at: datetime
    code: str
    count: int


class StatsOut(_Out):
    total: int
    bucket: Literal["hour", "day"]
    by_contract: list[CountOut]
    by_code: list[CountOut]
    by_status: list[CountOut]
    by_field: list[CountOut]
    series: list[PointOut]

    @classmethod
    def of(cls, s: QuarantineStats) -> StatsOut:
        def counts(items: Any) -> list[CountOut]:
            return [CountOut(key=c.key, count=c.count) for c in items]

        return cls(
            total=s.total,
            bucket=s.bucket,
            by_contract=counts(s.by_contract),
            by_code=counts(s.by_code),
            by_status=counts(s.by_status),
            by_field=counts(s.by_field),
            series=[PointOut(at=p.at, code=p.code, count=p.count) for p in s.series],
        )


class SchemaVersionOut(_Out):
    version: str
    kind: str
    source: str | None
    registered_by: str | None = None
    registered_at: datetime | None = None
    verdict: str = "unchecked"
    fingerprint: str | None = None


class SchemaOut(_Out):
    name: str
    latest: str
    versions: list[SchemaVersionOut]

    @classmethod
    def of(cls, s: SchemaInfo) -> SchemaOut:
        return cls(
            name=s.name,
            latest=s.latest,
            versions=[
                SchemaVersionOut(
                    version=v.version,
                    kind=v.kind,
                    source=v.source,
                    registered_by=v.registered_by,
                    registered_at=v.registered_at,
                    verdict=v.verdict,
                    fingerprint=v.fingerprint,
                )
                for v in s.versions
            ],
        )


class RegisterSchemaBody(_In):
    contract: dict[str, Any] = Field(
        description="The contract as its YAML fields (name, version, schema, rules...); "
        "the schema must be inline."
    )
    compatibility: Literal["backward", "none"] = "backward"
