"""What the UI's route functions share: the per-app :class:`WebContext` (review service,
authentication, CSRF guard, login limiter) and its ``Depends`` provider.

Every mutation passes :meth:`Guard.mutation`: same origin, a CSRF token bound to the session,
and a session when a token is configured.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dataquarantine.errors import (
    DataQuarantineError,
    JobNotFoundError,
    RecordNotFoundError,
    StatusConflictError,
    is_transient,
)
from dataquarantine.masking import mask_secrets
from dataquarantine.web.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    WebAuth,
    cookie_name,
    safe_next,
    same_origin,
)
from dataquarantine.web.forms import FormTooLargeError, read_form
from dataquarantine.web.limits import LoginLimiter
from dataquarantine.web.render import Renderer

if TYPE_CHECKING:
    from dataquarantine.review import ReviewService

__all__ = [
    "ANONYMOUS_ACTOR",
    "FLASH",
    "Guard",
    "Web",
    "WebContext",
    "base_path",
    "current_page",
    "record_id_of",
    "web_context",
]

#: The history's actor for changes made without a configured token.
ANONYMOUS_ACTOR = "web"

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


class Guard:
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


@dataclass(frozen=True, slots=True)
class WebContext:
    """One mounted UI: where its review service comes from, its guard and its login limiter."""

    service: Callable[[], ReviewService]
    guard: Guard
    limiter: LoginLimiter

    @classmethod
    def create(
        cls,
        service_provider: Callable[[], ReviewService],
        *,
        api_token: str | None = None,
        read_requires_token: bool | None = None,
        login_limiter: LoginLimiter | None = None,
    ) -> WebContext:
        auth = WebAuth(api_token, read_requires_token)
        limiter = login_limiter if login_limiter is not None else LoginLimiter()
        return cls(service_provider, Guard(auth, Renderer(auth)), limiter)

    def page(self, request: Request, template: str, status_code: int = 200, **ctx: Any) -> Response:
        """A full page (or fragment) with the page frame's context."""
        return self.guard.renderer.page(
            request, template, {**self.guard.chrome(request), **ctx}, status_code=status_code
        )

    def failure(self, request: Request, exc: DataQuarantineError) -> Response:
        """The error page of a review-service error: 404, 409, 503 (transient) or 500."""
        if isinstance(exc, RecordNotFoundError | JobNotFoundError):
            return self.guard.error(request, 404, str(exc))
        if isinstance(exc, StatusConflictError):
            return self.guard.error(request, 409, str(exc))
        if is_transient(exc):
            return self.guard.error(
                request, 503, f"The quarantine store is unavailable: {mask_secrets(exc)}"
            )
        return self.guard.error(request, 500, mask_secrets(f"{type(exc).__name__}: {exc}"))

    async def bind(self, request: Request) -> None:
        """A router dependency: makes this context the request's (see :func:`web_context`)."""
        request.state.web = self


async def web_context(request: Request) -> WebContext:
    """The ``Depends`` provider of the mounted UI's context (bound by its router)."""
    context: WebContext = request.state.web
    return context


Web = Annotated[WebContext, Depends(web_context)]


def base_path(request: Request) -> str:
    """Where the app is mounted (``root_path``), without a trailing slash."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def record_id_of(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def current_page(request: Request) -> str:
    """The page an htmx request came from (path and query only), else the records list."""
    parts = urlsplit(request.headers.get("hx-current-url", ""))
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return safe_next(target, default=f"{base_path(request)}/records")
