"""Bearer-token checks and the request body size limit of the REST API."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit", "actor_of", "require_read", "require_write"]

_bearer = HTTPBearer(auto_error=False, description="DQ_API_TOKEN")
_ACTOR_HEADER = "x-dq-actor"


def _token_ok(request: Request, credentials: HTTPAuthorizationCredentials | None) -> bool:
    expected: str = request.app.state.api_token
    if credentials is None or credentials.scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(credentials.credentials.encode(), expected.encode())


def _unauthorized() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="a valid bearer token is required",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def require_write(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Every mutating endpoint: 401 without the right bearer token."""
    if not _token_ok(request, credentials):
        raise _unauthorized()


async def require_read(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Read endpoints: the token is needed when the settings say so."""
    if request.app.state.reads_need_token and not _token_ok(request, credentials):
        raise _unauthorized()


def actor_of(request: Request) -> str:
    """Who acts: the ``X-DQ-Actor`` header (free text, for the history), else ``api``."""
    value = request.headers.get(_ACTOR_HEADER, "").strip()
    return value[:200] or "api"


class BodyLimit:
    """ASGI middleware: answers 413 to a request body larger than ``max_bytes``, declared by
    Content-Length or counted while it streams in (chunked), without buffering it.

    A streamed body is answered as soon as it crosses the limit: the 413 is sent from here and
    the application sees the client as gone (``http.disconnect``), so no handler (FastAPI's
    body parser turns a failing read into a 400) can answer in its place.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._declared_too_large(scope):
            await self._reject(send)
            return
        seen = 0
        started = False
        rejected = False

        async def counting_receive() -> Message:
            nonlocal seen, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    rejected = True
                    if not started:
                        await self._reject(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return  # the 413 is the answer
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not rejected:
                raise

    def _declared_too_large(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    return True
        return False

    async def _reject(self, send: Send) -> None:
        body = b'{"detail":"request body too large"}'
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
