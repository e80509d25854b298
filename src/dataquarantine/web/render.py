"""Template rendering for the web UI: one Jinja2 environment (autoescape always on), the CSRF
cookie, and the security headers every page carries."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from dataquarantine.web.auth import CSRF_COOKIE, SESSION_SECONDS, new_csrf_token

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

    def __init__(self) -> None:
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

    def csrf_token(self, request: Request) -> tuple[str, bool]:
        """The request's CSRF token and whether it is new (then the cookie must be set)."""
        token = request.cookies.get(CSRF_COOKIE)
        if token and 20 <= len(token) <= 100:
            return token, False
        existing = request.scope.get("dq_csrf_new")
        if isinstance(existing, str):
            return existing, True
        token = new_csrf_token()
        request.scope["dq_csrf_new"] = token
        return token, True

    def page(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any],
        *,
        status_code: int = 200,
    ) -> Response:
        csrf, new = self.csrf_token(request)
        html = self.env.get_template(template).render(
            {
                "request": request,
                "base": request.scope.get("root_path", "").rstrip("/"),
                "csrf_token": csrf,
                **context,
            }
        )
        response = HTMLResponse(html, status_code=status_code)
        self.secure(request, response, csrf if new else None)
        return response

    @staticmethod
    def secure(request: Request, response: Response, new_csrf: str | None = None) -> None:
        """Add the security headers, and the CSRF cookie when it was just made."""
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if new_csrf is not None:
            response.set_cookie(
                CSRF_COOKIE,
                new_csrf,
                max_age=SESSION_SECONDS,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
                path="/",
            )
