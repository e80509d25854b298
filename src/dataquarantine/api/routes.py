"""The ``/api/v1`` routes. Handlers are plain (sync) functions: FastAPI runs them on its thread
pool, and the review service below them is blocking code."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Query, Request, Response, status

from dataquarantine.api.models import (
    BulkCloseBody,
    BulkFilterBody,
    BulkReprocessBody,
    ErrorOut,
    JobOut,
    PatchB64,
    PatchBody,
    ReasonBody,
    RecordDetailOut,
    RecordOut,
    RecordPageOut,
    RegisterSchemaBody,
    ReprocessBody,
    ReprocessOut,
    RevisionOut,
    SchemaOut,
    StatsOut,
)
from dataquarantine.api.security import actor_of, require_read, require_write
from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.results import ErrorCode
from dataquarantine.quarantine.envelope import QuarantineFilter
from dataquarantine.quarantine.history import Bucket
from dataquarantine.review import MAX_PAGE_SIZE, ReviewService

__all__ = ["router"]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorOut} for code in codes}


_READ = [Depends(require_read)]
_WRITE = [Depends(require_write)]
_AUTH = _errors(401)

router = APIRouter(prefix="/api/v1")


def service(request: Request) -> ReviewService:
    svc: ReviewService = request.app.state.review
    return svc


Service = Annotated[ReviewService, Depends(service)]
Actor = Annotated[str, Depends(actor_of)]


def _text(value: str | None) -> str | None:
    # NUL cannot be stored (it was replaced by U+FFFD on the way in): match what was stored.
    return value.replace("\x00", "\ufffd") if value is not None else None


def _body_filter(b: BulkFilterBody) -> QuarantineFilter:
    """The filters of a bulk request's body (the list endpoint's names)."""
    return _filter(
        b.topic, b.schema_name, b.error_type, b.status, b.start_date, b.end_date, b.q, b.path
    )


def _filter(
    topic: str | None,
    schema_name: str | None,
    error_type: ErrorCode | None,
    record_status: Status | None,
    start_date: datetime | None,
    end_date: datetime | None,
    q: str | None,
    path: str | None = None,
) -> QuarantineFilter:
    return QuarantineFilter(
        contract=_text(schema_name),
        code=error_type,
        status=record_status,
        source_name=_text(topic),
        since=start_date,
        until=end_date,
        text=_text(q) or None,
        path=_text(path) or None,
    )


# The list filters as query parameters (shared by the list, which takes them directly: one
# dependency less to solve on the hot endpoint, and the stats).
Topic = Annotated[
    str | None, Query(max_length=1000, description="Source: Kafka topic, file URI or table.")
]
SchemaName = Annotated[str | None, Query(max_length=1000, description="Contract name.")]
ErrorType = Annotated[ErrorCode | None, Query(description="Any violation has this code.")]
RecordStatus = Annotated[Status | None, Query()]
StartDate = Annotated[datetime | None, Query(description="Quarantined at or after (inclusive).")]
EndDate = Annotated[datetime | None, Query(description="Quarantined before (exclusive).")]
Text = Annotated[
    str | None, Query(max_length=1000, description="Substring of an error message (any case).")
]
ErrorPath = Annotated[
    str | None,
    Query(max_length=1000, description="Path of any violation (exact), e.g. /status."),
]


class _Filters:
    """The list filters as query parameters."""

    def __init__(
        self,
        topic: Topic = None,
        schema_name: SchemaName = None,
        error_type: ErrorType = None,
        status: RecordStatus = None,
        start_date: StartDate = None,
        end_date: EndDate = None,
        q: Text = None,
        path: ErrorPath = None,
    ) -> None:
        self.value = _filter(topic, schema_name, error_type, status, start_date, end_date, q, path)


Filters = Annotated[_Filters, Depends()]


@router.get(
    "/quarantine/records",
    response_model=RecordPageOut,
    dependencies=_READ,
    responses=_AUTH,
    summary="List quarantined records (newest first) with the true filtered total",
)
def list_records(
    request: Request,
    topic: Topic = None,
    schema_name: SchemaName = None,
    error_type: ErrorType = None,
    status: RecordStatus = None,
    start_date: StartDate = None,
    end_date: EndDate = None,
    q: Text = None,
    path: ErrorPath = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> Response:
    # The hot endpoint: the envelopes' own JSON form (RecordOut's shape), built by the store,
    # without a record object or a pydantic model per record.
    flt = _filter(topic, schema_name, error_type, status, start_date, end_date, q, path)
    items, total = service(request).list_json(flt, page=page, page_size=page_size)
    tail = f',"total":{total},"page":{page},"page_size":{page_size}}}'
    return Response(b'{"items":' + items + tail.encode(), media_type="application/json")


@router.get(
    "/quarantine/records/{record_id}",
    response_model=RecordDetailOut,
    dependencies=_READ,
    responses=_errors(401, 404),
    summary="A record with its original payload, revisions and history",
)
def get_record(svc: Service, record_id: uuid.UUID) -> RecordDetailOut:
    return RecordDetailOut.of_detail(svc.get(record_id))


def _patch_bytes(body: PatchBody) -> bytes:
    if isinstance(body, PatchB64):
        return base64.b64decode(body.payload_b64, validate=True)  # the pattern checked it
    try:
        return orjson.dumps(body.payload)
    except (orjson.JSONEncodeError, TypeError):  # integers beyond 64 bits
        return json.dumps(body.payload, ensure_ascii=False).encode("utf-8", "surrogatepass")


@router.patch(
    "/quarantine/records/{record_id}",
    response_model=RevisionOut,
    dependencies=_WRITE,
    responses=_errors(401, 404, 409),
    summary="Submit a corrected payload (stored as a new revision; the original is kept)",
)
def patch_record(svc: Service, actor: Actor, record_id: uuid.UUID, body: PatchBody) -> RevisionOut:
    return RevisionOut.of(svc.edit(record_id, _patch_bytes(body), actor=actor))


@router.post(
    "/quarantine/records/{record_id}/reprocess",
    response_model=ReprocessOut,
    dependencies=_WRITE,
    responses=_errors(401, 404, 409),
    summary="Re-validate the latest revision; publish it when valid",
)
def reprocess_record(
    svc: Service,
    actor: Actor,
    record_id: uuid.UUID,
    body: Annotated[ReprocessBody | None, Body()] = None,
) -> ReprocessOut:
    version = body.version if body is not None else None
    return ReprocessOut.of(svc.reprocess(record_id, actor=actor, version=version))


@router.post(
    "/quarantine/reprocess",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=_WRITE,
    responses=_AUTH,
    summary="Reprocess every record matching the filters, as a background job",
)
def bulk_reprocess(
    svc: Service, actor: Actor, body: Annotated[BulkReprocessBody | None, Body()] = None
) -> JobOut:
    b = body or BulkReprocessBody()
    return JobOut.of(svc.start_bulk_reprocess(_body_filter(b), actor=actor, version=b.version))


@router.post(
    "/quarantine/resolve",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=_WRITE,
    responses=_AUTH,
    summary="Resolve every open record matching the filters, as a background job",
)
def bulk_resolve(svc: Service, actor: Actor, body: BulkCloseBody) -> JobOut:
    return JobOut.of(svc.start_bulk_resolve(_body_filter(body), actor=actor, reason=body.reason))


@router.post(
    "/quarantine/discard",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=_WRITE,
    responses=_AUTH,
    summary="Discard every open record matching the filters, as a background job",
)
def bulk_discard(svc: Service, actor: Actor, body: BulkCloseBody) -> JobOut:
    return JobOut.of(svc.start_bulk_discard(_body_filter(body), actor=actor, reason=body.reason))


@router.get(
    "/jobs/{job_id}",
    response_model=JobOut,
    dependencies=_READ,
    responses=_errors(401, 404),
    summary="Progress of a background job",
)
def get_job(svc: Service, job_id: str) -> JobOut:
    return JobOut.of(svc.job(job_id))


@router.post(
    "/quarantine/records/{record_id}/resolve",
    response_model=RecordOut,
    dependencies=_WRITE,
    responses=_errors(401, 404, 409),
    summary="Mark a record resolved, with a reason",
)
def resolve_record(svc: Service, actor: Actor, record_id: uuid.UUID, body: ReasonBody) -> RecordOut:
    return RecordOut.of(svc.resolve(record_id, actor=actor, reason=body.reason))


@router.post(
    "/quarantine/records/{record_id}/discard",
    response_model=RecordOut,
    dependencies=_WRITE,
    responses=_errors(401, 404, 409),
    summary="Discard a record, with a reason",
)
def discard_record(svc: Service, actor: Actor, record_id: uuid.UUID, body: ReasonBody) -> RecordOut:
    return RecordOut.of(svc.discard(record_id, actor=actor, reason=body.reason))


@router.get(
    "/stats",
    response_model=StatsOut,
    dependencies=_READ,
    responses=_AUTH,
    summary="Counts by contract, error code, status and field; a time series for charts",
)
def stats(
    svc: Service,
    filters: Filters,
    bucket: Annotated[Bucket, Query(description="Width of a time-series point.")] = "hour",
    top: Annotated[int, Query(ge=1, le=100)] = 10,
) -> StatsOut:
    return StatsOut.of(svc.stats(filters.value, bucket=bucket, top=top))


@router.get(
    "/schemas",
    response_model=list[SchemaOut],
    dependencies=_READ,
    responses=_AUTH,
    summary="Contracts and their versions",
)
def list_schemas(svc: Service) -> list[SchemaOut]:
    return [SchemaOut.of(s) for s in svc.schemas()]


@router.post(
    "/schemas",
    response_model=SchemaOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=_WRITE,
    responses=_errors(400, 401, 409),
    summary="Register a new contract version (backward compatibility checked)",
)
def register_schema(svc: Service, actor: Actor, body: RegisterSchemaBody) -> SchemaOut:
    return SchemaOut.of(
        svc.register_schema(body.contract, compatibility=body.compatibility, actor=actor)
    )
