"""Template rendering for the web UI: one Jinja2 environment (autoescape always on), the CSRF
token (and the browser-id cookie it is bound to), and the security headers every page carries."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from dataquarantine.web.auth import (
    SESSION_SECONDS,
    SID_COOKIE,
    WebAuth,
    cookie_name,
    new_session_id,
)

__all__ = ["SECURITY_HEADERS", "STATIC_DIR", "TEMPLATE_DIR", "Renderer", "humanize_age"]

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

#: No inline script or style anywhere, so the policy can be strict: injected markup that got
#: past escaping still could not run.
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def humanize_age(moment: datetime, now: datetime | None = None) -> str:
    """``3 min ago``, ``5 h ago``, ``2 d ago`` (future moments read ``just now``)."""
    now = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = int((now - moment).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def _utc(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _thousands(n: int) -> str:
    return f"{n:,}".replace(",", "\u202f")


class Renderer:
    """Renders templates into responses that carry the CSRF cookie and security headers."""

    def __init__(self, auth: WebAuth | None = None) -> None:
        self.auth = auth if auth is not None else WebAuth()
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATE_DIR),
            autoescape=True,  # every template, whatever its extension
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["utc"] = _utc
        self.env.filters["age"] = humanize_age
        self.env.filters["thousands"] = _thousands
        self.env.filters["json"] = _json

    def csrf_token(self, request: Request) -> tuple[str, str | None]:
        """The request's CSRF token, and the new browser id to set when it had none."""
        binding = self.auth.binding(request.cookies, request.url.scheme)
        if binding is not None:
            return self.auth.csrf_token(binding), None
        sid = request.scope.get("dq_sid_new")
        if not isinstance(sid, str):
            sid = new_session_id()
            request.scope["dq_sid_new"] = sid
        return self.auth.csrf_token(f"sid:{sid}"), sid

    def page(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any],
        *,
        status_code: int = 200,
    ) -> Response:
        csrf, new_sid = self.csrf_token(request)
        html = self.env.get_template(template).render(
            {
                "request": request,
                "base": request.scope.get("root_path", "").rstrip("/"),
                "csrf_token": csrf,
                **context,
            }
        )
        response = HTMLResponse(html, status_code=status_code)
        self.secure(request, response, new_sid)
        return response

    @staticmethod
    def secure(request: Request, response: Response, new_sid: str | None = None) -> None:
        """Add the security headers, and the browser-id cookie when it was just made."""
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if new_sid is not None:
            response.set_cookie(
                cookie_name(SID_COOKIE, request.url.scheme),
                new_sid,
                max_age=SESSION_SECONDS,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
                path="/",
            )
