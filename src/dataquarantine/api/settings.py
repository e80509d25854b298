"""Settings of ``dataquarantine serve`` (``DQ_`` environment variables; options win)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from dataquarantine.review.settings import ReviewSettings

__all__ = ["ApiSettings"]


class ApiSettings(ReviewSettings):
    """The review service's settings plus HTTP: address, auth, limits, CORS."""

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8000, ge=0, le=65535)
    #: Bearer token of every mutating endpoint (``DQ_API_TOKEN``). Unset: ``serve`` makes a
    #: random one at start and prints it, so writes are never open to anyone.
    api_token: SecretStr | None = None
    #: Whether reads need the token too; unset means "yes when DQ_API_TOKEN is set".
    read_requires_token: bool | None = None
    #: Largest request body accepted (413 beyond).
    max_body_bytes: int = Field(default=10 << 20, ge=1024)
    #: One log line per request (uvicorn's access log).
    access_log: bool = True
    #: Origins allowed by CORS; empty (the default) turns CORS off.
    cors_origins: list[str] = Field(default_factory=list)
    #: Failed ``/login`` attempts one client address may make per window (429 beyond).
    login_max_failures: int = Field(default=5, ge=1, le=10_000)
    #: The login window, in seconds, counted from a client's first failure.
    login_window_seconds: float = Field(default=300.0, gt=0, le=86_400)
    #: Client addresses the login limiter remembers (least recently seen forgotten first).
    login_max_clients: int = Field(default=10_000, ge=1, le=10_000_000)

    def reads_need_token(self) -> bool:
        if self.read_requires_token is not None:
            return self.read_requires_token
        return self.api_token is not None
