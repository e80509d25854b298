"""``dataquarantine fix``: preview, run and undo a bulk fix described in a YAML file, list
the jobs, and turn a fix into a contract's remediation rules.

A fix file::

    filter:                 # the record list's filters (no status: quarantined)
      contract: users
      code: schema_violation
      path: /status         # a violation's path (exact)
    steps:
      - set: /status
        expr: record.status.lowerAscii()
      - action: e164_phone
        path: /contacts/*/phone
        region: FR
      - op: remove
        path: /legacy
    reprocess: false        # reprocess each fixed record

``run`` runs the job in this process and waits for it (jobs are kept in the store; a server
lists them too). Exit codes: 0 done, 1 the store could not be used or the job failed, 2 a bad
fix file, step or option.
"""

from __future__ import annotations

import getpass
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dataquarantine.cli.common import (
    ContractsOpt,
    ContractsUrlOpt,
    JsonOpt,
    PayloadsOpt,
    StoreOpt,
    exit_codes,
    settings_from,
    sub_command,
)
from dataquarantine.errors import ConfigError, DataQuarantineError

if TYPE_CHECKING:
    from dataquarantine.review import ReviewService
    from dataquarantine.review.fix_models import FixRequest

__all__ = ["fix_app"]

fix_app = typer.Typer(
    help="Fix many quarantined records at once: preview, run, undo.", no_args_is_help=True
)
fix_app.callback()(sub_command)

FixFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The YAML fix file.")]
ActorOpt = Annotated[
    str | None, typer.Option("--actor", help="Recorded as the author [default: the OS user].")
]


def _service(
    contracts: Path | None, contracts_url: str | None, store: str | None, payloads: str | None
) -> ReviewService:
    from dataquarantine.review import ReviewService, ReviewSettings

    base = settings_from(contracts, store, payloads, contracts_url=contracts_url)
    return ReviewService.open(ReviewSettings(**base.model_dump()))


def _request(path: Path, *, confirm: bool = False, reprocess: bool | None = None) -> FixRequest:
    from dataquarantine.review.fix_models import FixRequest, filter_from_dict
    from dataquarantine.safe_yaml import read_yaml

    data = read_yaml(path)
    if not isinstance(data, dict) or "steps" not in data:
        raise ConfigError(f"{path}: a fix file is a mapping with 'steps' (and 'filter')")
    unknown = set(data) - {"steps", "filter", "reprocess"}
    if unknown:
        raise ConfigError(f"{path}: unknown field(s) {', '.join(sorted(unknown))}")
    flt = filter_from_dict(data.get("filter") or {})
    again = bool(data.get("reprocess", False)) if reprocess is None else reprocess
    try:
        return FixRequest.of(data["steps"], flt, reprocess=again, confirm=confirm)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _actor(actor: str | None) -> str:
    return actor or getpass.getuser()


def _print_job(job: dict[str, Any], as_json: bool) -> None:
    from dataquarantine.cli import render

    if as_json:
        render.print_json(job)
        return
    counts = ", ".join(f"{k} {n}" for k, n in sorted(job["counts"].items())) or "nothing"
    render.console.print(
        f"{job['kind']} job {job['id']}: {job['state']}, {job['processed']}/{job['total']}"
        f" looked at; {counts}"
    )
    if job["error"]:
        render.console.print(f"error: {job['error']}")


def _follow(svc: ReviewService, job_id: str, as_json: bool) -> None:
    from dataquarantine.quarantine.fix_log import FixJobState
    from dataquarantine.review.fix_models import job_view

    while True:
        job = svc.fixes.job(job_id)
        if job.state not in (FixJobState.QUEUED, FixJobState.RUNNING):
            break
        time.sleep(0.2)
    _print_job(job_view(job), as_json)
    if job.state is not FixJobState.DONE:
        raise DataQuarantineError(f"job {job_id} ended {job.state.value}")


@fix_app.command("preview")
def fix_preview(
    fix_file: FixFile,
    sample: Annotated[int, typer.Option("--sample", min=1, max=100)] = 20,
    contracts: ContractsOpt = None,
    contracts_url: ContractsUrlOpt = None,
    store: StoreOpt = None,
    payloads: PayloadsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Apply the fix to a sample of its set and count what it would do; nothing is written."""
    from dataquarantine.cli import render

    with exit_codes():
        request = _request(fix_file)
        svc = _service(contracts, contracts_url, store, payloads)
        try:
            preview = svc.fixes.preview(request, sample=sample)
        finally:
            svc.close()
        data = preview.to_dict()
        if as_json:
            render.print_json(data)
            return
        render.console.print(
            f"{preview.total} records in the set; of {preview.scanned} looked at, the steps"
            f" change {preview.applies}, leave {preview.unchanged}, error on"
            f" {preview.step_errors}"
        )
        for item in preview.items:
            outcome = "valid" if item.valid else "still invalid"
            if item.step_error is not None:
                outcome = f"step {item.step_error.index + 1} errors: {item.step_error.message}"
            render.console.print(f"{item.record_id}: {outcome}", highlight=False)
            for c in item.changes:
                render.console.print(f"  {c.path}: {c.old!r} -> {c.new!r}", highlight=False)
        if preview.needs_confirmation:
            render.console.print("the set is over the confirmation limit: run with --confirm")


@fix_app.command("run")
def fix_run(
    fix_file: FixFile,
    reprocess: Annotated[
        bool | None, typer.Option("--reprocess/--no-reprocess", help="Overrides the file.")
    ] = None,
    confirm: Annotated[bool, typer.Option("--confirm", help="Run over a large set.")] = False,
    actor: ActorOpt = None,
    contracts: ContractsOpt = None,
    contracts_url: ContractsUrlOpt = None,
    store: StoreOpt = None,
    payloads: PayloadsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the fix over its set as a job, and wait for it."""
    with exit_codes():
        request = _request(fix_file, confirm=confirm, reprocess=reprocess)
        svc = _service(contracts, contracts_url, store, payloads)
        try:
            job = svc.fixes.start(request, actor=_actor(actor))
            _follow(svc, job.id, as_json)
        finally:
            svc.close()


@fix_app.command("undo")
def fix_undo(
    job_id: Annotated[str, typer.Argument(help="The fix job to revert.")],
    actor: ActorOpt = None,
    contracts: ContractsOpt = None,
    contracts_url: ContractsUrlOpt = None,
    store: StoreOpt = None,
    payloads: PayloadsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revert every record a fix job revised (records revised or replayed since: reported)."""
    with exit_codes():
        svc = _service(contracts, contracts_url, store, payloads)
        try:
            job = svc.fixes.undo(job_id, actor=_actor(actor))
            _follow(svc, job.id, as_json)
        finally:
            svc.close()


@fix_app.command("jobs")
def fix_jobs(
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 20,
    store: StoreOpt = None,
    payloads: PayloadsOpt = None,
    contracts: ContractsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List fix and undo jobs, newest first."""
    from dataquarantine.cli import render
    from dataquarantine.review.fix_models import job_view

    with exit_codes():
        svc = _service(contracts, None, store, payloads)
        try:
            jobs = [job_view(j) for j in svc.fixes.jobs(limit=limit)]
        finally:
            svc.close()
        if as_json:
            render.print_json(jobs)
        for job in [] if as_json else jobs:
            _print_job(job, False)


@fix_app.command("rule")
def fix_rule(
    fix_file: FixFile,
    contract: Annotated[str, typer.Option("--contract", help="The contract to extend.")],
    version: Annotated[str | None, typer.Option("--version")] = None,
    register: Annotated[bool, typer.Option("--register", help="Register the version.")] = False,
    actor: ActorOpt = None,
    contracts: ContractsOpt = None,
    contracts_url: ContractsUrlOpt = None,
    store: StoreOpt = None,
    payloads: PayloadsOpt = None,
) -> None:
    """Print the next contract version with the fix's steps as remediation rules (and
    register it with --register, through the compatibility check)."""
    import yaml

    from dataquarantine.cli import render

    with exit_codes():
        request = _request(fix_file)
        svc = _service(contracts, contracts_url, store, payloads)
        try:
            document = svc.fixes.rule_document(request, contract, version)
            if register:
                svc.register_schema(document, actor=_actor(actor))
        finally:
            svc.close()
        render.console.print(
            yaml.safe_dump(document, sort_keys=False, allow_unicode=True), highlight=False
        )
