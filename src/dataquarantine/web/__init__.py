"""The web UI: server-rendered pages (Jinja2 + htmx) over the review service.

``mount_web(app, service_provider, api_token=...)`` adds the pages at ``/`` and the vendored
static files at ``/static`` to a FastAPI app (``dataquarantine serve`` does it). Pages call the
review service in Python; see ``docs/ui.md`` for the pages and the authentication model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from dataquarantine.extras import require_extra

require_extra("server", "the web UI")

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from dataquarantine.web.limits import LoginLimiter
from dataquarantine.web.render import STATIC_DIR
from dataquarantine.web.routes import create_web_router

if TYPE_CHECKING:
    from dataquarantine.review import ReviewService

__all__ = ["STATIC_DIR", "LoginLimiter", "create_web_router", "mount_web"]


def mount_web(
    app: FastAPI,
    service_provider: Callable[[], ReviewService],
    *,
    api_token: str | None = None,
    read_requires_token: bool | None = None,
    login_limiter: LoginLimiter | None = None,
) -> None:
    """Serve the UI from ``app``: pages at ``/``, static files at ``/static``.

    ``service_provider`` is called per request, so the service may be created at startup.
    """
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="dq-static")
    app.include_router(
        create_web_router(
            service_provider,
            api_token=api_token,
            read_requires_token=read_requires_token,
            login_limiter=login_limiter,
        )
    )
