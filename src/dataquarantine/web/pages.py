"""The UI's pages: plain ``GET`` routes over the review service (htmx swaps fragments when
present; everything works without JavaScript too). Reads may need a session (``Guard.read``)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dataquarantine.errors import DataQuarantineError
from dataquarantine.kernel.lifecycle import CLOSABLE, EDITABLE, Status
from dataquarantine.kernel.results import ErrorCode
from dataquarantine.web.auth import safe_next
from dataquarantine.web.context import (
    FLASH,
    Web,
    base_path,
    current_page,
    record_id_of,
)
from dataquarantine.web.forms import PAGE_SIZES, RecordsQuery
from dataquarantine.web.views import (
    RANGES,
    dashboard,
    error_rows,
    payload_panel,
    revision_views,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/")
def dashboard_page(request: Request, web: Web) -> Response:
    if (denied := web.guard.read(request)) is not None:
        return denied
    range_key = request.query_params.get("range", "7d")
    if range_key not in RANGES:
        range_key = "7d"
    _, back, bucket = RANGES[range_key]
    now = datetime.now(UTC)
    flt = RecordsQuery().to_filter()
    if back is not None:
        flt = RecordsQuery(since=(now - back).date().isoformat()).to_filter()
    try:
        stats = web.service().stats(flt, bucket=bucket)
    except DataQuarantineError as exc:
        return web.failure(request, exc)
    return web.page(
        request,
        "dashboard.html",
        nav="dashboard",
        view=dashboard(stats, range_key, now=now, base=base_path(request)),
        ranges=RANGES,
    )


@router.get("/records")
def records_page(request: Request, web: Web) -> Response:
    if (denied := web.guard.read(request)) is not None:
        return denied
    query = RecordsQuery.from_params(request.query_params)
    try:
        result = web.service().list(query.to_filter(), page=query.page, page_size=query.size)
    except DataQuarantineError as exc:
        return web.failure(request, exc)
    pages = max(1, -(-result.total // query.size))
    partial = bool(request.headers.get("hx-request")) and not request.headers.get("hx-boosted")
    return web.page(
        request,
        "_results.html" if partial else "records.html",
        nav="records",
        query=query,
        problems=query.problems(),
        result=result,
        pages=pages,
        codes=[c.value for c in ErrorCode],
        statuses=[s.value for s in Status],
        page_sizes=PAGE_SIZES,
    )


@router.get("/records/{record_id}")
def record_page(request: Request, record_id: str, web: Web) -> Response:
    if (denied := web.guard.read(request)) is not None:
        return denied
    rid = record_id_of(record_id)
    if rid is None:
        return web.guard.error(request, 404, f"No quarantined record with id {record_id!r}.")
    try:
        detail = web.service().get(rid)
    except DataQuarantineError as exc:
        return web.failure(request, exc)
    revisions = sorted(detail.revisions, key=lambda r: r.number)
    latest = revisions[-1] if revisions else None
    current_errors = latest.errors if latest is not None else detail.record.errors
    current = payload_panel(detail.latest_payload, current_errors)
    flash = FLASH.get(request.query_params.get("flash", ""))
    return web.page(
        request,
        "record.html",
        nav="records",
        detail=detail,
        record=detail.record,
        latest=latest,
        current=current,
        original=payload_panel(detail.payload, detail.record.errors),
        errors=error_rows(detail.record.errors, current.decoded.value, current.decoded.is_json),
        revisions=revision_views(detail.payload, revisions),
        events=sorted(detail.events, key=lambda e: e.at, reverse=True),
        flash=flash,
        can_edit=detail.record.status in EDITABLE,
        can_close=detail.record.status in CLOSABLE,
    )


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: str, web: Web) -> Response:
    if (denied := web.guard.read(request)) is not None:
        return denied
    try:
        job = web.service().job(job_id)
    except DataQuarantineError as exc:
        return web.failure(request, exc)
    partial = bool(request.headers.get("hx-request"))
    return web.page(
        request,
        "_job.html" if partial else "job.html",
        nav="records",
        job=job,
        refresh=current_page(request),
    )


@router.get("/contracts")
def contracts_page(request: Request, web: Web) -> Response:
    if (denied := web.guard.read(request)) is not None:
        return denied
    try:
        schemas = web.service().schemas()
    except DataQuarantineError as exc:
        return web.failure(request, exc)
    return web.page(request, "contracts.html", nav="contracts", schemas=schemas)


@router.get("/login")
def login_page(request: Request, web: Web) -> Response:
    nxt = safe_next(request.query_params.get("next"))
    if not web.guard.auth.enabled:
        return RedirectResponse(base_path(request) + nxt, status_code=303)
    flash = FLASH.get(request.query_params.get("flash", ""))
    return web.page(request, "login.html", nxt=nxt, failed=False, flash=flash)
