"""The ``/api/v1/fixes`` routes: preview a bulk fix, run it as a job, follow it, undo it,
resume it after a restart, and turn its steps into a contract's remediation rules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from dataquarantine.api.models import BulkFilterBody, ErrorOut, SchemaOut, ViolationOut
from dataquarantine.api.security import actor_of, require_read, require_write
from dataquarantine.quarantine.envelope import QuarantineFilter
from dataquarantine.review import ReviewService
from dataquarantine.review.fix_models import FixPreview, FixRequest, job_view

__all__ = ["router"]

_READ = [Depends(require_read)]
_WRITE = [Depends(require_write)]

router = APIRouter(prefix="/api/v1/fixes", tags=["fixes"])


def _service(request: Request) -> ReviewService:
    svc: ReviewService = request.app.state.review
    return svc


Service = Annotated[ReviewService, Depends(_service)]
Actor = Annotated[str, Depends(actor_of)]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorOut} for code in codes}


Steps = Annotated[
    list[dict[str, Any]],
    Field(
        min_length=1,
        max_length=100,
        description="Ordered steps: {action, path, ...options}, a JSON Patch operation "
        "{op, path, value|from}, or {set: path, expr: CEL over record}. Paths may use * over "
        "array items.",
    ),
]


class FixBody(BulkFilterBody):
    """Steps, and the set as the list endpoint's filters (no status: ``quarantined``)."""

    steps: Steps


class PreviewBody(FixBody):
    sample: int = Field(default=20, ge=1, le=100, description="Records shown with their diff.")


class RunBody(FixBody):
    reprocess: bool = Field(default=False, description="Reprocess each record once fixed.")
    confirm: bool = Field(
        default=False, description="Needed when the set is larger than the configured limit."
    )


class RuleBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    contract: str = Field(min_length=1, max_length=200)
    steps: Steps | None = None
    job: str | None = Field(default=None, max_length=100, description="Take the steps of a job.")
    version: str | None = Field(default=None, max_length=100)
    register_version: bool = Field(default=False, description="Register it (else only propose it).")
    compatibility: Literal["backward", "none"] = "backward"


class ChangeOut(BaseModel):
    path: str
    action: str
    old: Any = None
    new: Any = None
    existed_before: bool = True


class StepErrorOut(BaseModel):
    step: int
    message: str


class PreviewItemOut(BaseModel):
    id: str
    valid: bool
    changes: list[ChangeOut]
    errors: list[ViolationOut]
    step_error: StepErrorOut | None = None


class FirstErrorOut(StepErrorOut):
    id: str


class PreviewOut(BaseModel):
    total: int
    scanned: int
    applies: int
    unchanged: int
    step_errors: int
    first_errors: list[FirstErrorOut]
    needs_confirmation: bool
    items: list[PreviewItemOut]

    @classmethod
    def of(cls, p: FixPreview) -> PreviewOut:
        return cls.model_validate(p.to_dict())


class FixJobOut(BaseModel):
    id: str
    kind: Literal["fix", "undo"]
    state: Literal["queued", "running", "done", "failed", "interrupted"]
    actor: str
    undo_of: str | None
    total: int
    processed: int
    progress: float
    counts: dict[str, int]
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    steps: list[dict[str, Any]]
    filter: dict[str, Any]
    reprocess: bool


class RuleOut(BaseModel):
    document: dict[str, Any]
    registered: SchemaOut | None = None


def _request(body: FixBody, *, reprocess: bool = False, confirm: bool = False) -> FixRequest:
    flt = QuarantineFilter(
        contract=body.schema_name,
        code=body.error_type,
        status=body.status,
        source_name=body.topic,
        since=body.start_date,
        until=body.end_date,
        text=body.q or None,
        path=body.path or None,
    )
    return FixRequest.of(body.steps, flt, reprocess=reprocess, confirm=confirm)


@router.post(
    "/preview",
    response_model=PreviewOut,
    dependencies=_WRITE,
    responses=_errors(400, 401),
    summary="Apply a fix to a sample of the set and count what it would do (nothing written)",
)
def preview(svc: Service, body: PreviewBody) -> PreviewOut:
    return PreviewOut.of(svc.fixes.preview(_request(body), sample=body.sample))


@router.post(
    "",
    response_model=FixJobOut,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=_WRITE,
    responses=_errors(400, 401),
    summary="Run a fix over the set as a background job",
)
def run(svc: Service, actor: Actor, body: RunBody) -> dict[str, Any]:
    request = _request(body, reprocess=body.reprocess, confirm=body.confirm)
    return job_view(svc.fixes.start(request, actor=actor))


@router.get(
    "",
    response_model=list[FixJobOut],
    dependencies=_READ,
    responses=_errors(401),
    summary="Fix jobs, newest first",
)
def jobs(svc: Service, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
    return [job_view(j) for j in svc.fixes.jobs(limit=limit)]


@router.get(
    "/{job_id}",
    response_model=FixJobOut,
    dependencies=_READ,
    responses=_errors(401, 404),
    summary="A fix job and its progress",
)
def job(svc: Service, job_id: str) -> dict[str, Any]:
    return job_view(svc.fixes.job(job_id))


@router.post(
    "/{job_id}/undo",
    response_model=FixJobOut,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=_WRITE,
    responses=_errors(400, 401, 404, 409),
    summary="Revert every record the job revised (records replayed or revised since: reported)",
)
def undo(svc: Service, actor: Actor, job_id: str) -> dict[str, Any]:
    return job_view(svc.fixes.undo(job_id, actor=actor))


@router.post(
    "/{job_id}/resume",
    response_model=FixJobOut,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=_WRITE,
    responses=_errors(401, 404, 409),
    summary="Continue a job interrupted by a restart",
)
def resume(svc: Service, job_id: str) -> dict[str, Any]:
    return job_view(svc.fixes.resume(job_id))


@router.post(
    "/rule",
    response_model=RuleOut,
    dependencies=_WRITE,
    responses=_errors(400, 401, 404, 409),
    summary="Propose (or register) a contract version with the fix's steps as remediation rules",
)
def make_rule(svc: Service, actor: Actor, body: RuleBody) -> RuleOut:
    steps: Any = body.steps
    if body.job is not None:
        steps = svc.fixes.job(body.job).spec.get("steps")
    request = FixRequest.of(steps or [])
    document = svc.fixes.rule_document(request, body.contract, body.version)
    if not body.register_version:
        return RuleOut(document=document)
    info = svc.register_schema(document, compatibility=body.compatibility, actor=actor)
    return RuleOut(document=document, registered=SchemaOut.of(info))
