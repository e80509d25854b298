"""The three steps the operators run, as plain functions over the library (no Airflow import).

Each takes what its command takes and returns the summary the operator pushes to XCom; a bad
configuration (an unknown contract, an unreachable database, a bad gates file) raises a
:class:`~dataquarantine.errors.DataQuarantineError` with a clear message, which fails the task.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from dataquarantine.errors import ConfigError
from dataquarantine.extras import require_extra
from dataquarantine.settings import Settings

__all__ = [
    "GatesOutcome",
    "load_table",
    "run_gate_file",
    "settings_for",
    "url_of_connection",
    "validate_files",
]


def url_of_connection(
    *,
    conn_type: str,
    host: str | None,
    port: int | None,
    login: str | None,
    password: str | None,
    database: str | None,
    extra: Mapping[str, Any],
) -> str:
    """The ``postgresql://`` URL of an Airflow ``postgres`` connection (its ``schema`` field is
    the database; an extra ``schema`` (or ``search_path``) sets our ``?schema=``)."""
    if conn_type not in ("postgres", "postgresql"):
        raise ConfigError(f"connection type {conn_type!r} is not postgres")
    if not host:
        raise ConfigError("the connection has no host")
    auth = ""
    if login:
        auth = quote(login, safe="")
        if password:
            auth += ":" + quote(password, safe="")
        auth += "@"
    query = {k: str(extra[k]) for k in ("sslmode", "connect_timeout") if k in extra}
    search = extra.get("schema") or extra.get("search_path")
    if search:
        query["schema"] = str(search)
    tail = f"?{urlencode(query)}" if query else ""
    return f"postgresql://{auth}{host}:{port or 5432}/{quote(database or 'postgres')}{tail}"


def settings_for(
    *, store: str | None, payloads: str | None, contracts: str | Path | None = None
) -> Settings:
    """The ``DQ_*`` settings of the worker, overridden by what the task was given."""
    updates: dict[str, Any] = {}
    if store is not None:
        updates["store_url"] = store
    if payloads is not None:
        updates["payloads_url"] = payloads
    if contracts is not None:
        updates["contracts_dir"] = Path(contracts)
        updates["contracts_url"] = None
    return Settings().model_copy(update=updates)


def validate_files(
    inputs: Sequence[str],
    *,
    contract: str,
    contracts: str | Path,
    valid_out: str | None,
    store: str | None,
    payloads: str | None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """``dataquarantine validate INPUTS --contract C --valid-out V``: the run's summary."""
    from dataquarantine.quarantine.service import Quarantine
    from dataquarantine.registry import open_registry
    from dataquarantine.runner import ValidationRun
    from dataquarantine.validation.registry import Router

    settings = settings_for(store=store, payloads=payloads, contracts=contracts)
    for path in inputs:
        if not Path(path).is_file():
            raise ConfigError(f"input {path!r} does not exist")
    if valid_out:
        Path(valid_out).parent.mkdir(parents=True, exist_ok=True)
    live = open_registry(
        settings.contracts, poll_seconds=settings.contracts_poll_seconds, follow=False
    )
    try:
        router = Router(live.registry, contract=contract)
        quarantine = Quarantine.open(settings.store_url, settings.payloads_url)
        try:
            run = ValidationRun(
                router,
                quarantine,
                valid_out=Path(valid_out) if valid_out else None,
                run_id=run_id,
            )
            summary = run.run(list(inputs))
        finally:
            quarantine.close()
    finally:
        live.close()
    return summary.to_dict()


def load_table(
    db: str,
    *,
    contract: str | Path,
    staging: str | None,
    store: str | None,
    payloads: str | None,
    resume: bool,
    run_id: str | None = None,
) -> dict[str, Any]:
    """``dataquarantine load`` of one contract: the summary (read, loaded, quarantined by
    code). ``resume`` continues the last unfinished run after its last committed batch."""
    require_extra("postgres", "the load operator")
    from dataquarantine.load import LoadOptions, LoadRun
    from dataquarantine.quarantine.service import Quarantine
    from dataquarantine.validation.contract import Contract

    if not Path(contract).is_file():
        raise ConfigError(f"contract file {str(contract)!r} does not exist")
    compiled = Contract.from_file(contract)
    settings = settings_for(store=store, payloads=payloads)
    options = LoadOptions(staging=staging, resume=resume, run_id=run_id)
    load = LoadRun(compiled, db, options)
    quarantine = Quarantine.open(settings.store_url, settings.payloads_url)
    try:
        return load.run(quarantine).to_dict()
    finally:
        quarantine.close()


@dataclass(frozen=True, slots=True)
class GatesOutcome:
    """What a gates run found: whether every required gate passed, and the report."""

    passed: bool
    summary: dict[str, Any]
    failed: tuple[str, ...]
    informational: tuple[str, ...]


def run_gate_file(
    file: str | Path,
    db: str,
    *,
    junit: str | Path | None = None,
    allow_unrestricted_role: bool = False,
    log: Callable[[str], None] = print,
) -> GatesOutcome:
    """``dataquarantine gates run FILE --db DB``: log each informational gate, write JUnit
    when asked, and say which required gates failed (the caller fails the task)."""
    require_extra("postgres", "the gates operator")
    from dataquarantine.gates.model import load_gates
    from dataquarantine.gates.report import to_junit
    from dataquarantine.gates.runner import GateStatus, refuse_unsafe_gates, run_gates

    suite = load_gates(file)
    refuse_unsafe_gates(suite)
    run = run_gates(suite, db, allow_unrestricted_role=allow_unrestricted_role)
    info = tuple(r.name for r in run.results if r.status is GateStatus.INFO)
    for result in run.results:
        if result.status is GateStatus.INFO:
            rows = [dict(zip(result.samples.columns, r, strict=True)) for r in result.samples.rows]
            log(f"INFO {result.name}: {result.count} row(s) {rows}")
    if junit is not None:
        Path(junit).write_bytes(to_junit(run))
    failed = tuple(r.name for r in run.blocking)
    return GatesOutcome(run.passed, run.to_dict(), failed, info)
