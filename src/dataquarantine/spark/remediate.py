"""The double pass on Spark: invalid records of contracts with ``remediation:`` rules, fixed
inside the engine tier's ``mapInArrow`` by :mod:`dataquarantine.remediation`, as the default
runner fixes them.

A record the fix makes valid is valid from then on: its row gets the fixed record (the fixed
JSON and the line's terminator for JSON lines; the fixed values in the input's columns for typed
rows, or, when they do not fit those columns, no remediation, as the default engine decides),
while its original payload, id and errors stay on the row for the store, which keeps the
original with status ``remediated`` and the fix as revision 1. Every attempt is described in
the :data:`~.columns.REMEDIATION` column, from which the run counts the double pass's
statistics (records by outcome, rule applications by action).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Final

import orjson
import pyarrow as pa

from dataquarantine.io.arrow_replace import replace_rows
from dataquarantine.kernel.results import BatchResult, ContractRef, ErrorCode, Violation
from dataquarantine.kernel.revisions import Revision, RevisionKind, change_from_dict
from dataquarantine.remediation import (
    AUTHOR,
    Attempt,
    AttemptReport,
    RecordOutcome,
    Remediation,
)
from dataquarantine.spark.columns import (
    LINE_VALUE,
    REMEDIATION,
    VALID,
    VIOLATION_FIELDS,
    WARNINGS,
    remediation_arrow_type,
)
from dataquarantine.validation.contract import Contract

__all__ = ["action_label", "revision_of", "with_remediation"]

#: Resolves a contract reference (``name@version``) to its contract in this worker.
Find = Callable[[str], Contract | None]


class _LastReport:
    """Remembers the report of the latest attempt (the record's outcome and actions)."""

    report: AttemptReport | None = None

    def observe_attempt(self, report: AttemptReport) -> None:
        self.report = report


_LAST: Final = _LastReport()
#: This worker process's double pass (it caches each contract's compiled rules).
_REMEDIATION: Final = Remediation(observers=(_LAST,))


@dataclasses.dataclass(frozen=True, slots=True)
class _Fix:
    outcome: RecordOutcome
    actions: tuple[str, ...]
    attempt: Attempt | None


def action_label(action: str, outcome: str) -> str:
    """One entry of the column's ``actions``: ``<action>:<outcome>``."""
    return f"{action}:{outcome}"


def _attempts(result: BatchResult, find: Find) -> dict[int, _Fix]:
    """The double pass for every invalid, decoded record whose contract has rules (those
    :func:`~dataquarantine.remediation.attempt_invalid` attempts), with each one's outcome:
    batch index -> what was done."""
    out: dict[int, _Fix] = {}
    found: dict[ContractRef, Contract | None] = {}
    for i, res in result.invalid.items():
        ref = res.contract
        if ref is None or res.value is None:
            continue
        if ref not in found:
            contract = find(str(ref))
            found[ref] = contract if _REMEDIATION.applies(contract) else None
        contract = found[ref]
        if contract is None:
            continue
        _LAST.report = None
        attempt = _REMEDIATION.attempt(contract, b"", res.value)
        report = _LAST.report
        if report is not None:
            labels = tuple(action_label(a, o.value) for a, o in report.actions)
            out[i] = _Fix(report.outcome, labels, attempt)
    return out


def _violation_rows(violations: tuple[Violation, ...]) -> list[dict[str, str | None]]:
    return [
        dict(zip(VIOLATION_FIELDS, (v.code.value, v.path, v.message, v.rule, v.keyword,
                                    v.severity.value), strict=True))
        for v in violations
    ]  # fmt: skip


def _cell(fix: _Fix) -> dict[str, Any]:
    revision = fix.attempt.revision if fix.attempt is not None else None
    return {
        "outcome": fix.outcome.value,
        "actions": list(fix.actions),
        "payload": revision.payload if revision else None,
        "changes": orjson.dumps([c.to_dict() for c in revision.changes]).decode()
        if revision
        else None,
        "errors": _violation_rows(revision.errors) if revision else [],
    }


def revision_of(cell: dict[str, Any] | None) -> Revision | None:
    """The revision 1 a :data:`~.columns.REMEDIATION` cell holds (``None``: nothing changed)."""
    if not cell or cell.get("payload") is None:
        return None
    errors = tuple(
        Violation.from_dict(
            {"code": v["code"], "path": v["path"] or "", "message": v["message"] or "",
             "rule": v["rule_id"], "keyword": v["keyword"], "severity": v["severity"]}
        )
        for v in cell["errors"]
    )  # fmt: skip
    changes = tuple(change_from_dict(c) for c in orjson.loads(cell["changes"] or "[]"))
    return Revision(
        payload=cell["payload"],
        kind=RevisionKind.REMEDIATION,
        author=AUTHOR,
        changes=changes,
        errors=errors,
    )


def _misfit(fix: _Fix, reason: str) -> _Fix:
    """A fixed typed row that does not fit the input's columns: not remediated after all."""
    assert fix.attempt is not None
    misfit = Violation(ErrorCode.SYSTEM_ERROR, "", reason)
    revision = dataclasses.replace(fix.attempt.revision, errors=(misfit,))
    attempt = dataclasses.replace(fix.attempt, revision=revision)
    return _Fix(RecordOutcome.STILL_INVALID, fix.actions, attempt)


def _fixed_lines(column: Any, fixed: dict[int, Attempt]) -> Any:
    """JSON lines: the fixed bytes with the original line's terminator (CSV records: the
    fixed record's JSON, which the typed output reads as it reads a record's cells)."""
    lines: list[bytes] = column.to_pylist()
    for i, attempt in fixed.items():
        line = lines[i]
        end = b"\r\n" if line.endswith(b"\r\n") else b"\n" if line.endswith(b"\n") else b""
        lines[i] = attempt.revision.payload + end
    return pa.array(lines, column.type)


def with_remediation(
    checked: Any, result: BatchResult, find: Find, *, kind: str, data_names: Sequence[str]
) -> Any:
    """``checked`` (the engine tier's batch, verdict columns included) after the double pass:
    remediated rows valid with their fixed record, and the :data:`~.columns.REMEDIATION`
    column appended. ``kind``: the input kind; typed rows have their columns first, named
    ``data_names`` (the records' fields)."""
    fixes = _attempts(result, find) if result.invalid else {}
    columns = list(checked.columns)
    names = list(checked.schema.names)
    fixed = {
        i: f.attempt
        for i, f in fixes.items()
        if f.outcome is RecordOutcome.REMEDIATED and f.attempt is not None
    }
    if fixed and kind == "rows":
        n_columns = len(data_names)
        data = pa.RecordBatch.from_arrays(columns[:n_columns], names=list(data_names))
        data, misfits = replace_rows(data, {i: a.value for i, a in fixed.items()})
        for i, reason in misfits.items():
            fixes[i] = _misfit(fixes[i], reason)
            del fixed[i]
        columns[:n_columns] = data.columns
    elif fixed and kind in ("jsonl", "csv"):
        at = names.index(LINE_VALUE)
        columns[at] = _fixed_lines(columns[at], fixed)
    if fixed:
        at = names.index(VALID)
        valid = columns[at].to_pylist()
        warnings = columns[names.index(WARNINGS)].to_pylist()
        for i in fixed:
            valid[i], warnings[i] = True, []
        columns[at] = pa.array(valid, pa.bool_())
        at = names.index(WARNINGS)
        columns[at] = pa.array(warnings, columns[at].type)
    kind_of = remediation_arrow_type()
    if fixes:
        cells: list[dict[str, Any] | None] = [None] * checked.num_rows
        for i, fix in fixes.items():
            cells[i] = _cell(fix)
        columns.append(pa.array(cells, kind_of))
    else:
        columns.append(pa.nulls(checked.num_rows, kind_of))
    return pa.RecordBatch.from_arrays(columns, names=[*names, REMEDIATION])
