"""The web UI's routes: server-rendered pages over the review service (called in Python).

Reads are plain ``GET`` pages (htmx swaps fragments when present; everything works without
JavaScript too). Every mutation is a ``POST`` that passes :meth:`_Guard.mutation`: same
origin, a CSRF token bound to the session, and a session when a token is configured; then it
redirects (303) back to a page. ``POST /login`` is rate-limited per client address.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dataquarantine.errors import (
    DataQuarantineError,
    JobNotFoundError,
    RecordNotFoundError,
    StatusConflictError,
    is_transient,
)
from dataquarantine.kernel.lifecycle import CLOSABLE, EDITABLE, Status
from dataquarantine.kernel.results import ErrorCode
from dataquarantine.masking import mask_secrets
from dataquarantine.web.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    SESSION_SECONDS,
    WebAuth,
    cookie_name,
    safe_next,
    same_origin,
)
from dataquarantine.web.forms import PAGE_SIZES, FormTooLargeError, RecordsQuery, read_form
from dataquarantine.web.limits import LoginLimiter
from dataquarantine.web.render import Renderer
from dataquarantine.web.views import (
    RANGES,
    dashboard,
    error_rows,
    payload_panel,
    revision_views,
)

if TYPE_CHECKING:
    from dataquarantine.review import ReviewService

__all__ = ["ANONYMOUS_ACTOR", "create_web_router"]

#: The history's actor for changes made without a configured token.
ANONYMOUS_ACTOR = "web"
_REASON_MAX = 500

#: Messages shown after a redirect, by code (the query string never carries free text).
FLASH: dict[str, tuple[str, str]] = {
    "saved": ("ok", "Correction saved as a new revision. Reprocess to send it on."),
    "reprocessed": ("ok", "Reprocessed: the record is valid and was sent on."),
    "quarantined": ("info", "Still invalid after reprocessing: see the errors below."),
    "dead": ("error", "Still invalid and out of attempts: the record is now dead."),
    "resolved": ("ok", "Marked resolved."),
    "discarded": ("ok", "Discarded."),
    "logged_out": ("ok", "Logged out."),
}


class _Guard:
    """Authentication and CSRF checks shared by the handlers."""

    def __init__(self, auth: WebAuth, renderer: Renderer) -> None:
        self.auth = auth
        self.renderer = renderer

    def actor(self, request: Request) -> str | None:
        """The logged-in actor (``None``: no valid session)."""
        return self.auth.verify(
            request.cookies.get(cookie_name(SESSION_COOKIE, request.url.scheme))
        )

    def read(self, request: Request) -> Response | None:
        """A redirect to the login page when reads need a session and there is none."""
        if self.auth.reads_protected and self.actor(request) is None:
            return self._to_login(request)
        return None

    def _to_login(self, request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        base = request.scope.get("root_path", "").rstrip("/")
        if request.headers.get("hx-request"):
            response = Response(status_code=204)
            response.headers["HX-Redirect"] = f"{base}/login?next={quote(target)}"
            return response
        return RedirectResponse(f"{base}/login?next={quote(target)}", status_code=303)

    async def mutation(
        self, request: Request, *, need_session: bool = True
    ) -> tuple[dict[str, str], str] | Response:
        """The form and actor of an allowed mutation, else the error response to send."""
        headers = request.headers
        if not same_origin(
            request.url.scheme,
            headers.get("host"),
            origin=headers.get("origin"),
            referer=headers.get("referer"),
            fetch_site=headers.get("sec-fetch-site"),
        ):
            return self.error(request, 403, "Refused: the request did not come from this UI.")
        try:
            form = await read_form(request)
        except FormTooLargeError:
            return self.error(request, 413, "The form is too large.")
        submitted = form.get(CSRF_FIELD) or headers.get(CSRF_HEADER)
        binding = self.auth.binding(request.cookies, request.url.scheme)
        if not self.auth.csrf_ok(binding, submitted):
            return self.error(
                request, 403, "The form expired or came from another site: reload and retry."
            )
        if not self.auth.enabled or not need_session:
            return form, ANONYMOUS_ACTOR
        actor = self.actor(request)
        if actor is None:
            if request.headers.get("hx-request"):
                return self.error(request, 401, "Log in to change records.")
            return self._to_login(request)
        return form, actor

    def error(self, request: Request, status: int, message: str) -> Response:
        return self.renderer.page(
            request,
            "error.html",
            {"status": status, "message": message, **self.chrome(request)},
            status_code=status,
        )

    def chrome(self, request: Request) -> dict[str, Any]:
        """What the page frame needs: who is logged in and whether login exists."""
        return {
            "auth_enabled": self.auth.enabled,
            "actor": self.actor(request),
            "nav": "",
            "flash": None,
        }


def _record_id(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _current_page(request: Request) -> str:
    """The page an htmx request came from (path and query only), else the records list."""
    parts = urlsplit(request.headers.get("hx-current-url", ""))
    base = str(request.scope.get("root_path", "")).rstrip("/")
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return safe_next(target, default=f"{base}/records")


def create_web_router(
    service_provider: Callable[[], ReviewService],
    *,
    api_token: str | None = None,
    read_requires_token: bool | None = None,
    login_limiter: LoginLimiter | None = None,
) -> APIRouter:
    """The UI's routes (mount without prefix; static files are mounted by ``mount_web``)."""
    router = APIRouter(include_in_schema=False)
    auth = WebAuth(api_token, read_requires_token)
    renderer = Renderer(auth)
    guard = _Guard(auth, renderer)
    limiter = login_limiter if login_limiter is not None else LoginLimiter()

    def page(request: Request, template: str, status_code: int = 200, **ctx: Any) -> Response:
        return renderer.page(
            request, template, {**guard.chrome(request), **ctx}, status_code=status_code
        )

    def failure(request: Request, exc: DataQuarantineError) -> Response:
        if isinstance(exc, RecordNotFoundError | JobNotFoundError):
            return guard.error(request, 404, str(exc))
        if isinstance(exc, StatusConflictError):
            return guard.error(request, 409, str(exc))
        if is_transient(exc):
            return guard.error(
                request, 503, f"The quarantine store is unavailable: {mask_secrets(exc)}"
            )
        return guard.error(request, 500, mask_secrets(f"{type(exc).__name__}: {exc}"))

    def base(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    # -- pages --------------------------------------------------------------------------

    @router.get("/")
    def dashboard_page(request: Request) -> Response:
        if (denied := guard.read(request)) is not None:
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
            stats = service_provider().stats(flt, bucket=bucket)
        except DataQuarantineError as exc:
            return failure(request, exc)
        return page(
            request,
            "dashboard.html",
            nav="dashboard",
            view=dashboard(stats, range_key, now=now, base=base(request)),
            ranges=RANGES,
        )

    @router.get("/records")
    def records_page(request: Request) -> Response:
        if (denied := guard.read(request)) is not None:
            return denied
        query = RecordsQuery.from_params(request.query_params)
        try:
            result = service_provider().list(
                query.to_filter(), page=query.page, page_size=query.size
            )
        except DataQuarantineError as exc:
            return failure(request, exc)
        pages = max(1, -(-result.total // query.size))
        partial = bool(request.headers.get("hx-request")) and not request.headers.get("hx-boosted")
        return page(
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
    def record_page(request: Request, record_id: str) -> Response:
        if (denied := guard.read(request)) is not None:
            return denied
        rid = _record_id(record_id)
        if rid is None:
            return guard.error(request, 404, f"No quarantined record with id {record_id!r}.")
        try:
            detail = service_provider().get(rid)
        except DataQuarantineError as exc:
            return failure(request, exc)
        revisions = sorted(detail.revisions, key=lambda r: r.number)
        latest = revisions[-1] if revisions else None
        current_errors = latest.errors if latest is not None else detail.record.errors
        current = payload_panel(detail.latest_payload, current_errors)
        flash = FLASH.get(request.query_params.get("flash", ""))
        return page(
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
    def job_page(request: Request, job_id: str) -> Response:
        if (denied := guard.read(request)) is not None:
            return denied
        try:
            job = service_provider().job(job_id)
        except DataQuarantineError as exc:
            return failure(request, exc)
        partial = bool(request.headers.get("hx-request"))
        return page(
            request,
            "_job.html" if partial else "job.html",
            nav="records",
            job=job,
            refresh=_current_page(request),
        )

    # -- mutations ----------------------------------------------------------------------

    def back_to_record(request: Request, rid: uuid.UUID, flash: str) -> Response:
        return RedirectResponse(f"{base(request)}/records/{rid}?flash={flash}", status_code=303)

    @router.post("/ui/records/{record_id}/{action}")
    async def act_on_record(request: Request, record_id: str, action: str) -> Response:
        if action not in ("edit", "reprocess", "resolve", "discard"):
            return guard.error(request, 404, f"Unknown action {action!r}.")
        allowed = await guard.mutation(request)
        if isinstance(allowed, Response):
            return allowed
        form, actor = allowed
        rid = _record_id(record_id)
        if rid is None:
            return guard.error(request, 404, f"No quarantined record with id {record_id!r}.")
        service = service_provider()
        try:
            if action == "edit":
                try:
                    value = json.loads(form.get("payload", ""))
                except (ValueError, RecursionError) as exc:
                    return guard.error(
                        request, 422, f"The corrected payload is not valid JSON: {exc}"
                    )
                # Stored compact: the revision is the record as it would be sent on.
                payload = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
                await run_in_threadpool(service.edit, rid, payload, actor=actor)
                if form.get("then") != "reprocess":
                    return back_to_record(request, rid, "saved")
                action = "reprocess"
            if action == "reprocess":
                outcome = await run_in_threadpool(service.reprocess, rid, actor=actor)
                return back_to_record(request, rid, outcome.status.value)
            reason = form.get("reason", "").strip()[:_REASON_MAX]
            if not reason:
                return guard.error(request, 422, f"Say why you {action} this record.")
            if action == "resolve":
                await run_in_threadpool(service.resolve, rid, actor=actor, reason=reason)
                return back_to_record(request, rid, "resolved")
            await run_in_threadpool(service.discard, rid, actor=actor, reason=reason)
            return back_to_record(request, rid, "discarded")
        except DataQuarantineError as exc:
            return failure(request, exc)

    @router.post("/ui/bulk")
    async def bulk(request: Request) -> Response:
        allowed = await guard.mutation(request)
        if isinstance(allowed, Response):
            return allowed
        form, actor = allowed
        query = RecordsQuery.from_params(form)
        action = form.get("action", "")
        reason = form.get("reason", "").strip()[:_REASON_MAX]
        service = service_provider()
        try:
            if action == "reprocess":
                job = await run_in_threadpool(
                    service.start_bulk_reprocess, query.to_filter(), actor=actor
                )
            elif action in ("resolve", "discard"):
                if not reason:
                    return guard.error(request, 422, f"Say why you {action} these records.")
                start = (
                    service.start_bulk_resolve
                    if action == "resolve"
                    else service.start_bulk_discard
                )
                job = await run_in_threadpool(start, query.to_filter(), actor=actor, reason=reason)
            else:
                return guard.error(request, 422, f"Unknown bulk action {action!r}.")
        except DataQuarantineError as exc:
            return failure(request, exc)
        if request.headers.get("hx-request"):
            return page(request, "_job.html", job=job, refresh=_current_page(request))
        return RedirectResponse(f"{base(request)}/jobs/{job.id}", status_code=303)

    # -- login ----------------------------------------------------------------------------

    @router.get("/login")
    def login_page(request: Request) -> Response:
        nxt = safe_next(request.query_params.get("next"))
        if not guard.auth.enabled:
            return RedirectResponse(base(request) + nxt, status_code=303)
        flash = FLASH.get(request.query_params.get("flash", ""))
        return page(request, "login.html", nxt=nxt, failed=False, flash=flash)

    @router.post("/login")
    async def login(request: Request) -> Response:
        allowed = await guard.mutation(request, need_session=False)
        if isinstance(allowed, Response):
            return allowed
        form, _ = allowed
        nxt = safe_next(form.get("next"))
        client = request.client.host if request.client else "unknown"
        wait = limiter.retry_after(client)
        if wait is not None:
            response = guard.error(request, 429, f"Too many failed logins: try again in {wait} s.")
            response.headers["Retry-After"] = str(wait)
            return response
        if not guard.auth.check_token(form.get("token", "")):
            limiter.failed(client)
            return page(request, "login.html", status_code=401, nxt=nxt, failed=True, flash=None)
        limiter.succeeded(client)
        name = " ".join(form.get("name", "").split())[:40] or "reviewer"
        response = RedirectResponse(base(request) + nxt, status_code=303)
        response.set_cookie(
            cookie_name(SESSION_COOKIE, request.url.scheme),
            guard.auth.issue(f"web:{name}"),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        allowed = await guard.mutation(request, need_session=False)
        if isinstance(allowed, Response):
            return allowed
        target = "/login" if guard.auth.enabled else "/"
        response = RedirectResponse(
            f"{base(request)}{target}?{urlencode({'flash': 'logged_out'})}", status_code=303
        )
        response.delete_cookie(
            cookie_name(SESSION_COOKIE, request.url.scheme),
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    return router
