"""Airflow 3 operators: validate files, the conformance load, quality gates.

Each operator is templatable (see ``template_fields``), takes its database from an Airflow
connection id (type ``postgres``) or a ``postgresql://`` URL, pushes its summary to XCom (the
return value), and, when Airflow's OpenLineage provider is installed, reports its inputs and
outputs through ``get_openlineage_facets_on_complete``. A bad configuration (an unknown
contract, a missing file, an unreachable database) fails the task with the library's message;
retries are Airflow's (``retries=`` on the task), and a retried load resumes after its last
committed batch: the load's checkpoints live in the target database, in the same transaction as
each batch, so they are exact whatever happened to the worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from dataquarantine.extras import require_extra

require_extra("airflow", "dataquarantine.airflow.operators")

from airflow.sdk import BaseOperator, Connection

from dataquarantine.airflow.steps import (
    load_table,
    run_gate_file,
    url_of_connection,
    validate_files,
)
from dataquarantine.errors import ConfigError, DataQuarantineError
from dataquarantine.masking import mask_secrets

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["GatesOperator", "LoadOperator", "ValidateOperator", "resolve_db"]


def resolve_db(db: str) -> str:
    """``db`` as a URL: itself when it is a ``postgresql://`` URL, else the Airflow connection
    of that id (a ``postgres`` connection)."""
    if "://" in db:
        if urlsplit(db).scheme not in ("postgresql", "postgres"):
            raise ConfigError(f"{mask_secrets(db)} is not a postgresql:// URL")
        return "postgresql" + db[db.index("://") :]
    try:
        conn = Connection.get(db)
    except Exception as exc:  # the SDK raises its own lookup errors; say which id
        raise ConfigError(f"Airflow connection {db!r}: {exc}") from None
    return url_of_connection(
        conn_type=conn.conn_type or "",
        host=conn.host,
        port=conn.port,
        login=conn.login,
        password=conn.password,
        database=conn.schema,
        extra=conn.extra_dejson,
    )


class _Step(BaseOperator):  # type: ignore[misc]
    """What the three operators share: the database, the stores, the lineage facets."""

    ui_color = "#e8f4ea"

    def __init__(
        self,
        *,
        db: str | None = None,
        store: str | None = None,
        payloads: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.db = db
        self.store = store
        self.payloads = payloads
        self._inputs: list[tuple[str, str]] = []
        self._outputs: list[tuple[str, str]] = []

    def _db_url(self) -> str:
        if not self.db:
            raise ConfigError(f"{self.task_id}: no db (a connection id or a postgresql:// URL)")
        return resolve_db(self.db)

    def _store_url(self) -> str | None:
        """``store`` may be a connection id too (the quarantine in PostgreSQL)."""
        if self.store and "://" not in self.store:
            return resolve_db(self.store)
        return self.store

    @staticmethod
    def _namespace(url: str) -> str:
        parts = urlsplit(url)
        return f"postgres://{parts.hostname}:{parts.port or 5432}"

    def _failed(self, exc: DataQuarantineError) -> RuntimeError:
        """The error that fails the task: its message, no traceback of ours to read."""
        return RuntimeError(f"{self.task_id}: {mask_secrets(str(exc))}")

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The step's datasets, for Airflow's OpenLineage provider (called only by it)."""
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import Dataset

        return OperatorLineage(
            inputs=[Dataset(namespace=ns, name=name) for ns, name in self._inputs],
            outputs=[Dataset(namespace=ns, name=name) for ns, name in self._outputs],
        )


class ValidateOperator(_Step):
    """``dataquarantine validate FILES --contract NAME --valid-out FILE``: invalid records go
    to the quarantine store, valid ones to ``valid_out``; the summary goes to XCom."""

    template_fields: Sequence[str] = (
        "files",
        "contract",
        "contracts",
        "valid_out",
        "store",
        "payloads",
        "run_name",
    )

    def __init__(
        self,
        *,
        files: Sequence[str] | str,
        contract: str,
        contracts: str,
        valid_out: str | None = None,
        run_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.files = files
        self.contract = contract
        self.contracts = contracts
        self.valid_out = valid_out
        self.run_name = run_name

    def execute(self, context: Context) -> dict[str, Any]:
        files = [self.files] if isinstance(self.files, str) else list(self.files)
        try:
            summary = validate_files(
                files,
                contract=self.contract,
                contracts=self.contracts,
                valid_out=self.valid_out,
                store=self._store_url(),
                payloads=self.payloads,
                run_id=self.run_name,
            )
        except DataQuarantineError as exc:
            raise self._failed(exc) from None
        self._inputs = [("file", f) for f in files]
        self._outputs = [("file", self.valid_out)] if self.valid_out else []
        self.log.info(
            "%s: %s records, %s valid, %s quarantined (%s remediated) %s",
            self.contract,
            summary["total"],
            summary["valid"],
            summary["quarantined"],
            summary["remediated"],
            summary["by_code"],
        )
        return summary


class LoadOperator(_Step):
    """``dataquarantine load``: orphans and invalid rows to the quarantine, the rest upserted
    with change history. A retry (``try_number`` > 1) resumes the unfinished run after its last
    committed batch. XCom: read, loaded, quarantined by code, history rows."""

    template_fields: Sequence[str] = ("db", "contract", "staging", "store", "payloads", "run_name")

    def __init__(
        self,
        *,
        contract: str,
        staging: str | None = None,
        run_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.contract = contract
        self.staging = staging
        self.run_name = run_name

    def execute(self, context: Context) -> dict[str, Any]:
        ti = context["ti"]
        resume = int(getattr(ti, "try_number", 1) or 1) > 1
        try:
            db = self._db_url()
            summary = load_table(
                db,
                contract=self.contract,
                staging=self.staging,
                store=self._store_url() or db,
                payloads=self.payloads,
                resume=resume,
                run_id=self.run_name,
            )
        except DataQuarantineError as exc:
            raise self._failed(exc) from None
        ns = self._namespace(db)
        self._inputs = [("file" if "/" in summary["staging"] else ns, summary["staging"])]
        self._outputs = [(ns, summary["target"])]
        self.log.info(
            "%s: %s read, %s loaded, %s quarantined %s%s",
            summary["target"],
            summary["read"],
            summary["loaded"]["total"],
            summary["quarantined"]["total"],
            summary["quarantined"]["by_code"],
            " (resumed)" if resume else "",
        )
        return summary


class GatesOperator(_Step):
    """``dataquarantine gates run FILE``: fails the task when a required gate fails, logs the
    informational gates, writes JUnit to ``junit`` when given. XCom: the JSON report."""

    template_fields: Sequence[str] = ("db", "gates_file", "junit")

    def __init__(
        self,
        *,
        gates_file: str,
        junit: str | None = None,
        allow_unrestricted_role: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.gates_file = gates_file
        self.junit = junit
        self.allow_unrestricted_role = allow_unrestricted_role

    def execute(self, context: Context) -> dict[str, Any]:
        try:
            db = self._db_url()
            outcome = run_gate_file(
                self.gates_file,
                db,
                junit=self.junit,
                allow_unrestricted_role=self.allow_unrestricted_role,
                log=self.log.info,
            )
        except DataQuarantineError as exc:
            raise self._failed(exc) from None
        self._inputs = [(self._namespace(db), self.gates_file)]
        if not outcome.passed:
            raise RuntimeError(f"{self.task_id}: required gate(s) failed: {list(outcome.failed)}")
        return outcome.summary
