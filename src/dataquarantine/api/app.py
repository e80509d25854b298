"""The FastAPI application: REST API under ``/api/v1``, probes, Prometheus, and the web UI.

>>> from dataquarantine.api import create_app
>>> app = create_app()  # doctest: +SKIP   (opens the stores named by the DQ_ settings)
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request, Response, status
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dataquarantine import __version__
from dataquarantine.api.fixes import router as fixes_router
from dataquarantine.api.models import ErrorOut, ReadyOut
from dataquarantine.api.routes import router
from dataquarantine.api.security import BodyLimit
from dataquarantine.api.settings import ApiSettings
from dataquarantine.errors import (
    ConfigError,
    ContractError,
    ContractNotFoundError,
    DataQuarantineError,
    DuplicateContractError,
    IncompatibleContractError,
    JobNotFoundError,
    RecordNotFoundError,
    StatusConflictError,
    is_transient,
)
from dataquarantine.infra.prometheus import RemediationMetrics, new_registry
from dataquarantine.masking import mask_secrets
from dataquarantine.remediation import Remediation
from dataquarantine.review import ReviewService

__all__ = ["ApiMetrics", "create_app"]

log = logging.getLogger("dataquarantine.api")

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ApiMetrics:
    """``dataquarantine_api_requests_total{method, route, status}``,
    ``dataquarantine_api_request_duration_seconds{method, route}`` (route = the path template,
    so ids never become labels) and ``dataquarantine_reprocess_total{contract, outcome}``
    (``reprocessed``, ``still_invalid`` or ``dead``: a record that failed its last attempt);
    ``dataquarantine_contract_registry_up`` and ``dataquarantine_contract_registry_errors_total``
    (the contract registry's state, from :class:`~dataquarantine.registry.LiveRegistry`)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "dataquarantine_api_requests",
            "HTTP requests served by the review API",
            ("method", "route", "status"),
            registry=registry,
        )
        self.duration = Histogram(
            "dataquarantine_api_request_duration_seconds",
            "Time to serve a review API request",
            ("method", "route"),
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.registry_up = Gauge(
            "dataquarantine_contract_registry_up",
            "1 while the contract registry answered the last attempt, 0 during an outage.",
            registry=registry,
        )
        self.registry_errors = Counter(
            "dataquarantine_contract_registry_errors",
            "Failed attempts to reach the contract registry (the contracts in use stay).",
            registry=registry,
        )
        self.reprocess = Counter(
            "dataquarantine_reprocess",
            "Reprocess attempts by contract and outcome (reprocessed/still_invalid/dead).",
            ("contract", "outcome"),
            registry=registry,
        )

    def observe_reprocess(self, contract: str, outcome: str) -> None:
        self.reprocess.labels(contract, outcome).inc()

    def observe(self, method: str, route: str, code: int, seconds: float) -> None:
        self.requests.labels(method, route, str(code)).inc()
        self.duration.labels(method, route).observe(seconds)

    def registry_checked(self, up: bool) -> None:
        """A :class:`~dataquarantine.registry.RegistryObserver`: the registry's state."""
        self.registry_up.set(1 if up else 0)
        if not up:
            self.registry_errors.inc()


class _Observe:
    """ASGI middleware feeding :class:`ApiMetrics` (cheaper than an ``http`` middleware)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        code = 500

        async def capture(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe(scope["method"], route, code, time.perf_counter() - started)


def _error(
    code: int,
    detail: str,
    reasons: tuple[str, ...] | None = None,
    *,
    secrets_of: tuple[str, ...] = (),
) -> JSONResponse:
    body = ErrorOut(
        detail=mask_secrets(detail, *secrets_of),
        reasons=[mask_secrets(r, *secrets_of) for r in reasons] if reasons is not None else None,
    )
    return JSONResponse(body.model_dump(exclude_none=True), status_code=code)


def _urls(request: Request) -> tuple[str, ...]:
    """The configured URLs, whose secrets no answer may echo (even as a driver wrote them)."""
    settings: ApiSettings = request.app.state.settings
    return (settings.store_url, settings.payloads_url)


async def _on_error(request: Request, exc: Exception) -> Response:
    code, detail, reasons = _classify(exc)
    if code == status.HTTP_500_INTERNAL_SERVER_ERROR:
        log.error("request failed: %s", mask_secrets(exc, *_urls(request)))
    return _error(code, detail, reasons, secrets_of=_urls(request))


def _classify(exc: Exception) -> tuple[int, str, tuple[str, ...] | None]:
    """The status, detail and reasons answering one of our exceptions."""
    if isinstance(exc, RecordNotFoundError | JobNotFoundError | ContractNotFoundError):
        return status.HTTP_404_NOT_FOUND, str(exc), None
    if isinstance(exc, IncompatibleContractError):
        return status.HTTP_409_CONFLICT, str(exc), exc.reasons
    if isinstance(exc, StatusConflictError | DuplicateContractError):
        return status.HTTP_409_CONFLICT, str(exc), None
    if isinstance(exc, ContractError | ConfigError):
        # 400, not 422: FastAPI's 422 means "the body does not match the schema".
        return status.HTTP_400_BAD_REQUEST, str(exc), None
    if is_transient(exc):
        return status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), None
    return status.HTTP_500_INTERNAL_SERVER_ERROR, f"{type(exc).__name__}: {exc}", None


def create_app(
    settings: ApiSettings | None = None, *, service: ReviewService | None = None
) -> FastAPI:
    """The application over ``service`` (else one opened from ``settings``; the app then owns
    and closes it at shutdown).

    Without ``settings.api_token`` a random token is generated (``app.state.api_token``):
    mutating endpoints always need a bearer token. The web UI (``dataquarantine.web``) is
    mounted at ``/`` when that package is present.
    """
    settings = settings if settings is not None else ApiSettings()
    owned = service is None
    review = service if service is not None else ReviewService.open(settings)
    if owned:  # the serving process: fix jobs a stopped server left running are interrupted
        review.fixes.mark_interrupted()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            review.close()

    app = FastAPI(
        title="DataQuarantine review API",
        version=__version__,
        description="Review, fix and replay quarantined records. Mutating endpoints need "
        "`Authorization: Bearer <DQ_API_TOKEN>`; reads need it when configured.",
        lifespan=lifespan,
    )
    token = settings.api_token.get_secret_value() if settings.api_token else None
    app.state.settings = settings
    app.state.review = review
    app.state.api_token = token or secrets.token_urlsafe(32)
    app.state.token_generated = token is None
    app.state.reads_need_token = settings.reads_need_token()
    registry = new_registry()
    metrics = ApiMetrics(registry)
    app.state.metrics = metrics
    if review.live is not None:
        review.live.observers.append(metrics)
        metrics.registry_checked(review.live.up)
    # Reprocess's double pass counts its actions in this app's /metrics.
    review.remediation = Remediation(observers=[RemediationMetrics(registry)])
    review.reprocess_observers.append(metrics.observe_reprocess)

    app.add_exception_handler(DataQuarantineError, _on_error)
    app.include_router(router)
    app.include_router(fixes_router)
    _probes(app, review, registry)

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH"],
            allow_headers=["Authorization", "Content-Type", "X-DQ-Actor"],
        )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(_Observe, metrics=metrics)
    _mount_web(app, review, settings)
    return app


def _probes(app: FastAPI, review: ReviewService, registry: CollectorRegistry) -> None:
    @app.get("/health", tags=["probes"], summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/ready",
        tags=["probes"],
        summary="Readiness: the store and the payload storage answer",
        description="Names the dependencies that failed, never their URL or error text "
        "(the probe is open to anyone).",
        response_model=ReadyOut,
        responses={503: {"model": ReadyOut}},
    )
    def ready(request: Request) -> Any:
        failed = review.quarantine.failing()
        if not failed:
            return ReadyOut(status="ready")
        for name, exc in failed.items():
            log.warning("not ready: %s: %s", name, mask_secrets(exc, *_urls(request)))
        body = ReadyOut(status="unavailable", failed=list(failed))
        return JSONResponse(body.model_dump(), status_code=status.HTTP_503_SERVICE_UNAVAILABLE)

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _mount_web(app: FastAPI, review: ReviewService, settings: ApiSettings) -> None:
    try:
        from dataquarantine.web import LoginLimiter, mount_web
    except ImportError:
        return
    limiter = LoginLimiter(
        max_failures=settings.login_max_failures,
        window_seconds=settings.login_window_seconds,
        max_clients=settings.login_max_clients,
    )
    app.state.login_limiter = limiter
    # The effective token, generated or not: the UI's forms are mutations too.
    mount_web(
        app,
        lambda: review,
        api_token=app.state.api_token,
        read_requires_token=app.state.reads_need_token,
        login_limiter=limiter,
    )
