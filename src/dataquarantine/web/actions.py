"""The UI's form handlers: every mutation is a ``POST`` that passes ``Guard.mutation`` (same
origin, a CSRF token bound to the session, and a session when a token is configured), then
redirects (303) back to a page. ``POST /login`` is rate-limited per client address."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlencode

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dataquarantine.errors import DataQuarantineError
from dataquarantine.web.auth import SESSION_COOKIE, SESSION_SECONDS, cookie_name, safe_next
from dataquarantine.web.context import Web, WebContext, base_path, current_page, record_id_of
from dataquarantine.web.forms import RecordsQuery

if TYPE_CHECKING:
    from dataquarantine.review import ReviewService

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_REASON_MAX = 500
_RECORD_ACTIONS = ("edit", "reprocess", "resolve", "discard")


def _back_to_record(request: Request, rid: uuid.UUID, flash: str) -> Response:
    return RedirectResponse(f"{base_path(request)}/records/{rid}?flash={flash}", status_code=303)


async def _reprocess(
    request: Request, service: ReviewService, rid: uuid.UUID, actor: str
) -> Response:
    outcome = await run_in_threadpool(service.reprocess, rid, actor=actor)
    return _back_to_record(request, rid, outcome.status.value)


async def _edit(
    request: Request,
    web: WebContext,
    service: ReviewService,
    rid: uuid.UUID,
    form: dict[str, str],
    actor: str,
) -> Response:
    try:
        value = json.loads(form.get("payload", ""))
    except (ValueError, RecursionError) as exc:
        return web.guard.error(request, 422, f"The corrected payload is not valid JSON: {exc}")
    # Stored compact: the revision is the record as it would be sent on.
    payload = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    await run_in_threadpool(service.edit, rid, payload, actor=actor)
    if form.get("then") != "reprocess":
        return _back_to_record(request, rid, "saved")
    return await _reprocess(request, service, rid, actor)


async def _close(
    request: Request,
    web: WebContext,
    service: ReviewService,
    rid: uuid.UUID,
    form: dict[str, str],
    actor: str,
    action: Literal["resolve", "discard"],
) -> Response:
    reason = form.get("reason", "").strip()[:_REASON_MAX]
    if not reason:
        return web.guard.error(request, 422, f"Say why you {action} this record.")
    if action == "resolve":
        await run_in_threadpool(service.resolve, rid, actor=actor, reason=reason)
        return _back_to_record(request, rid, "resolved")
    await run_in_threadpool(service.discard, rid, actor=actor, reason=reason)
    return _back_to_record(request, rid, "discarded")


@router.post("/ui/records/{record_id}/{action}")
async def act_on_record(request: Request, record_id: str, action: str, web: Web) -> Response:
    if action not in _RECORD_ACTIONS:
        return web.guard.error(request, 404, f"Unknown action {action!r}.")
    allowed = await web.guard.mutation(request)
    if isinstance(allowed, Response):
        return allowed
    form, actor = allowed
    rid = record_id_of(record_id)
    if rid is None:
        return web.guard.error(request, 404, f"No quarantined record with id {record_id!r}.")
    service = web.service()
    try:
        if action == "edit":
            return await _edit(request, web, service, rid, form, actor)
        if action == "reprocess":
            return await _reprocess(request, service, rid, actor)
        return await _close(
            request, web, service, rid, form, actor, "resolve" if action == "resolve" else "discard"
        )
    except DataQuarantineError as exc:
        return web.failure(request, exc)


@router.post("/ui/bulk")
async def bulk(request: Request, web: Web) -> Response:
    allowed = await web.guard.mutation(request)
    if isinstance(allowed, Response):
        return allowed
    form, actor = allowed
    query = RecordsQuery.from_params(form)
    action = form.get("action", "")
    reason = form.get("reason", "").strip()[:_REASON_MAX]
    service = web.service()
    try:
        if action == "reprocess":
            job = await run_in_threadpool(
                service.start_bulk_reprocess, query.to_filter(), actor=actor
            )
        elif action in ("resolve", "discard"):
            if not reason:
                return web.guard.error(request, 422, f"Say why you {action} these records.")
            start = (
                service.start_bulk_resolve if action == "resolve" else service.start_bulk_discard
            )
            job = await run_in_threadpool(start, query.to_filter(), actor=actor, reason=reason)
        else:
            return web.guard.error(request, 422, f"Unknown bulk action {action!r}.")
    except DataQuarantineError as exc:
        return web.failure(request, exc)
    if request.headers.get("hx-request"):
        return web.page(request, "_job.html", job=job, refresh=current_page(request))
    return RedirectResponse(f"{base_path(request)}/jobs/{job.id}", status_code=303)


@router.post("/login")
async def login(request: Request, web: Web) -> Response:
    allowed = await web.guard.mutation(request, need_session=False)
    if isinstance(allowed, Response):
        return allowed
    form, _ = allowed
    nxt = safe_next(form.get("next"))
    client = request.client.host if request.client else "unknown"
    wait = web.limiter.retry_after(client)
    if wait is not None:
        response = web.guard.error(request, 429, f"Too many failed logins: try again in {wait} s.")
        response.headers["Retry-After"] = str(wait)
        return response
    if not web.guard.auth.check_token(form.get("token", "")):
        web.limiter.failed(client)
        return web.page(request, "login.html", status_code=401, nxt=nxt, failed=True, flash=None)
    web.limiter.succeeded(client)
    name = " ".join(form.get("name", "").split())[:40] or "reviewer"
    response = RedirectResponse(base_path(request) + nxt, status_code=303)
    response.set_cookie(
        cookie_name(SESSION_COOKIE, request.url.scheme),
        web.guard.auth.issue(f"web:{name}"),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
async def logout(request: Request, web: Web) -> Response:
    allowed = await web.guard.mutation(request, need_session=False)
    if isinstance(allowed, Response):
        return allowed
    target = "/login" if web.guard.auth.enabled else "/"
    response = RedirectResponse(
        f"{base_path(request)}{target}?{urlencode({'flash': 'logged_out'})}", status_code=303
    )
    response.delete_cookie(
        cookie_name(SESSION_COOKIE, request.url.scheme),
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response
