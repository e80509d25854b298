"""The UI's router: the pages (``web/pages.py``) and form handlers (``web/actions.py``), bound to
one :class:`~dataquarantine.web.context.WebContext` (service, authentication, login limiter)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends

from dataquarantine.web import actions, fixes, pages
from dataquarantine.web.context import ANONYMOUS_ACTOR, WebContext
from dataquarantine.web.limits import LoginLimiter

if TYPE_CHECKING:
    from dataquarantine.review import ReviewService

__all__ = ["ANONYMOUS_ACTOR", "create_web_router"]


def create_web_router(
    service_provider: Callable[[], ReviewService],
    *,
    api_token: str | None = None,
    read_requires_token: bool | None = None,
    login_limiter: LoginLimiter | None = None,
) -> APIRouter:
    """The UI's routes (mount without prefix; static files are mounted by ``mount_web``).

    ``service_provider`` is called per request. The routes reach this router's context through
    the ``Web`` dependency: a router dependency binds it first, so two apps never share one.
    """
    context = WebContext.create(
        service_provider,
        api_token=api_token,
        read_requires_token=read_requires_token,
        login_limiter=login_limiter,
    )
    router = APIRouter(include_in_schema=False, dependencies=[Depends(context.bind)])
    router.include_router(pages.router)
    router.include_router(actions.router)
    router.include_router(fixes.router)
    return router
