"""dbt's stored test failures into the quarantine (no Airflow import).

``dbt test --store-failures`` (or ``store_failures: true``) keeps each failing test's rows in a
table of the audit schema. :func:`failed_tests` reads which tests failed from dbt's
``target/run_results.json`` and ``target/manifest.json``; :func:`quarantine_failures` reads
each test's table and stores every row as an envelope with code ``dbt_test_failure`` (``rule``:
the test, ``keyword``: its kind such as ``unique``), so the review UI shows gold-layer failures
beside the others. A row's id derives from the test and the row's bytes: re-reading the same
failures stores nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from dataquarantine.contracts.model import field_to_pointer
from dataquarantine.db.connect import connect, translate
from dataquarantine.db.errors import driver_errors
from dataquarantine.db.url import PostgresTarget, parse_store_url
from dataquarantine.errors import ConfigError
from dataquarantine.kernel.results import ContractRef, ErrorCode, Violation
from dataquarantine.quarantine.envelope import QuarantineItem, TableSource
from dataquarantine.quarantine.service import Quarantine

__all__ = ["FailedTest", "failed_tests", "quarantine_failures"]


@dataclass(frozen=True, slots=True)
class FailedTest:
    """One dbt test that found rows (failed, or warned), and where dbt stored them."""

    name: str
    kind: str
    model: str
    column: str | None
    failures: int
    relation: str | None
    message: str


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read dbt's {path.name}: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: not a JSON object")
    return doc


def failed_tests(target_dir: str | Path) -> list[FailedTest]:
    """The tests of dbt's last ``test`` (or ``build``) in ``target_dir`` that found rows: failed
    ones, and those whose severity is ``warn``."""
    target = Path(target_dir)
    results = _read_json(target / "run_results.json").get("results", [])
    nodes: Mapping[str, Any] = _read_json(target / "manifest.json").get("nodes", {})
    out: list[FailedTest] = []
    for result in results:
        uid = str(result.get("unique_id", ""))
        if not uid.startswith("test.") or result.get("status") not in ("fail", "warn"):
            continue
        node = nodes.get(uid, {})
        meta = node.get("test_metadata") or {}
        kwargs = meta.get("kwargs") or {}
        refs = [r.get("name", "") for r in node.get("refs", []) if isinstance(r, dict)]
        out.append(
            FailedTest(
                name=str(node.get("name", uid)),
                kind=str(meta.get("name", "singular")),
                model=refs[0] if refs else str(node.get("attached_node") or ""),
                column=kwargs.get("column_name") or node.get("column_name"),
                failures=int(result.get("failures") or 0),
                relation=result.get("relation_name") or node.get("relation_name"),
                message=str(result.get("message") or ""),
            )
        )
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _rows(db: PostgresTarget, relation: str) -> Iterator[dict[str, Any]]:
    label = f"reading dbt failures from {relation}"
    try:
        with connect(db, autocommit=True, application_name="dataquarantine dbt failures") as conn:
            cur = conn.execute(f"SELECT * FROM {relation}")
            names = [c.name for c in cur.description or ()]
            rows = cur.fetchall()
    except driver_errors() as exc:
        raise translate(exc, label) from exc
    for row in rows:
        yield {n: _jsonable(v) for n, v in zip(names, row, strict=True)}


def quarantine_failures(
    target_dir: str | Path,
    db_url: str,
    quarantine: Quarantine,
    *,
    project: str = "dbt",
    run_id: str = "",
) -> dict[str, int]:
    """Store the rows of every failed test as ``dbt_test_failure`` envelopes; the number of
    rows read per test (a test without a stored table counts as one record, its message)."""
    db = parse_store_url(db_url)
    if not isinstance(db, PostgresTarget):
        raise ConfigError("the dbt failures are read from a postgresql:// database")
    counts: dict[str, int] = {}
    for test in failed_tests(target_dir):
        rows = list(_rows(db, test.relation)) if test.relation else [{"message": test.message}]
        path = field_to_pointer(test.column) if test.column else ""
        violation = Violation(
            ErrorCode.DBT_TEST_FAILURE,
            path,
            f"dbt test {test.name} failed on {test.model}: {test.failures} failing row(s)",
            rule=test.name,
            keyword=test.kind,
        )
        items = [
            QuarantineItem.identified(
                TableSource(table=test.model, key=test.name),
                json.dumps(row, sort_keys=True, separators=(",", ":")).encode(),
                (violation,),
                ContractRef(f"{project}.{test.model}", "dbt"),
                run_id,
            )
            for row in rows
        ]
        quarantine.write(items)
        counts[test.name] = len(items)
    return counts
