"""The UI's bulk fix flow: from a filtered records table, "Fix all N…" opens the step editor;
"Preview" shows the diffs and outcomes of a sample and the counts over the set; "Run" starts
the job and shows its progress and results, with "Undo" and "Make this a rule".

Pages are ``GET``; every ``POST`` passes ``Guard.mutation`` (same origin, CSRF, session). The
preview is a ``POST`` that writes nothing and answers the editor page with its results."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dataquarantine.errors import (
    ConfigError,
    ContractError,
    DataQuarantineError,
    DuplicateContractError,
    IncompatibleContractError,
)
from dataquarantine.review.fix_models import FixRequest, fix_set, job_view
from dataquarantine.safe_yaml import load_yaml
from dataquarantine.web.context import Web, base_path
from dataquarantine.web.forms import RecordsQuery

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

#: What the editor starts with (a comment block is ignored by YAML).
EXAMPLE = """\
# One step per item, applied in order. Paths may use * over array items.
# - action: e164_phone        # trim, lowercase, uppercase, coerce_int, coerce_float,
#   path: /phone              # e164_phone, iso_timestamp, default, rename
#   region: FR
# - op: replace               # JSON Patch: add, remove, replace, move, copy, test
#   path: /status
#   value: active
# - set: /amount              # a CEL expression over record
#   expr: double(record.amount) / 100.0
"""
_STEPS_MAX = 20_000


def _parse(form: dict[str, str]) -> FixRequest:
    text = form.get("steps", "")
    if len(text) > _STEPS_MAX:
        raise ConfigError(f"the steps are longer than {_STEPS_MAX} characters")
    steps = load_yaml(text) if text.strip() else None
    query = RecordsQuery.from_params(form)
    return FixRequest.of(
        steps or [],
        query.to_filter(),
        reprocess=form.get("reprocess") == "on",
        confirm=form.get("confirm") == "on",
    )


def _editor(
    request: Request, web: Web, form: dict[str, str], status_code: int = 200, **ctx: Any
) -> Response:
    query = RecordsQuery.from_params(form)
    if "total" not in ctx:
        ctx["total"] = web.service().counts.get(fix_set(query.to_filter()))
    return web.page(
        request,
        "fix.html",
        status_code=status_code,
        nav="records",
        query=query,
        steps=form.get("steps", EXAMPLE),
        reprocess=form.get("reprocess") == "on",
        **{"problem": None, "preview": None, "items": [], **ctx},
    )


@router.get("/fixes/new")
def new_fix(request: Request, web: Web) -> Response:
    if (denied := web.guard.read(request)) is not None:
        return denied
    form = dict(request.query_params)
    try:
        total = web.service().counts.get(fix_set(RecordsQuery.from_params(form).to_filter()))
    except DataQuarantineError as exc:
        return web.failure(request, exc)
    return _editor(request, web, form, total=total)


@router.post("/ui/fixes/preview")
async def preview(request: Request, web: Web) -> Response:
    allowed = await web.guard.mutation(request)
    if isinstance(allowed, Response):
        return allowed
    form, _ = allowed
    try:
        fix = _parse(form)
        result = await run_in_threadpool(web.service().fixes.preview, fix)
    except ConfigError as exc:
        return _editor(request, web, form, 422, problem=str(exc))
    except DataQuarantineError as exc:
        return web.failure(request, exc)
    items = [
        {
            **item.to_dict(),
            "before": json.dumps(item.before, indent=2, ensure_ascii=False),
            "after": json.dumps(item.after, indent=2, ensure_ascii=False),
        }
        for item in result.items
    ]
    return _editor(request, web, form, preview=result, items=items, total=result.total)


@router.post("/ui/fixes/run")
async def run(request: Request, web: Web) -> Response:
    allowed = await web.guard.mutation(request)
    if isinstance(allowed, Response):
        return allowed
    form, actor = allowed
    try:
        fix = _parse(form)
        job = await run_in_threadpool(web.service().fixes.start, fix, actor=actor)
    except ConfigError as exc:
        return _editor(request, web, form, 422, problem=str(exc))
    except DataQuarantineError as exc:
        return web.failure(request, exc)
    return RedirectResponse(f"{base_path(request)}/fixes/{job.id}", status_code=303)


@router.get("/fixes/{job_id}")
def fix_job(request: Request, job_id: str, web: Web) -> Response:
    if (denied := web.guard.read(request)) is not None:
        return denied
    service = web.service()
    try:
        job = job_view(service.fixes.job(job_id))
    except DataQuarantineError as exc:
        return web.failure(request, exc)
    partial = bool(request.headers.get("hx-request"))
    contracts = sorted(service.registry.names()) if job["kind"] == "fix" else []
    chosen = job["filter"].get("contract")
    return web.page(
        request,
        "_fix_job.html" if partial else "fix_job.html",
        nav="records",
        job=job,
        contracts=contracts,
        chosen=chosen,
        records_url=RecordsQuery(contract=chosen or "").url(),
    )


@router.post("/ui/fixes/{job_id}/undo")
async def undo(request: Request, job_id: str, web: Web) -> Response:
    allowed = await web.guard.mutation(request)
    if isinstance(allowed, Response):
        return allowed
    _, actor = allowed
    try:
        job = await run_in_threadpool(web.service().fixes.undo, job_id, actor=actor)
    except ConfigError as exc:
        return web.guard.error(request, 400, str(exc))
    except DataQuarantineError as exc:
        return web.failure(request, exc)
    return RedirectResponse(f"{base_path(request)}/fixes/{job.id}", status_code=303)


@router.post("/ui/fixes/{job_id}/rule")
async def rule(request: Request, job_id: str, web: Web) -> Response:
    """Propose the contract version (``register`` absent) or register it."""
    allowed = await web.guard.mutation(request)
    if isinstance(allowed, Response):
        return allowed
    form, actor = allowed
    service = web.service()
    contract = form.get("contract", "")
    try:
        job = service.fixes.job(job_id)
        fix = FixRequest.of(job.spec.get("steps"))
        document = await run_in_threadpool(service.fixes.rule_document, fix, contract)
        if form.get("register") == "yes":
            await run_in_threadpool(service.register_schema, document, actor=actor)
            return RedirectResponse(f"{base_path(request)}/contracts", status_code=303)
    except (IncompatibleContractError, DuplicateContractError) as exc:
        return web.guard.error(request, 409, str(exc))
    except (ConfigError, ContractError) as exc:
        return web.guard.error(request, 400, str(exc))
    except DataQuarantineError as exc:
        return web.failure(request, exc)
    return web.page(
        request,
        "fix_rule.html",
        nav="records",
        job_id=job_id,
        contract=contract,
        document=document,
        yaml=_yaml(document),
    )


def _yaml(document: dict[str, Any]) -> str:
    import yaml

    return str(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
