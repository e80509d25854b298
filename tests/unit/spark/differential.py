"""Helpers of the differential tests: verdicts through Spark and through the engine, as values.

A verdict is ``(valid, errors, warnings)`` where each violation is the tuple
``(code, path, message, rule_id, keyword, severity)``: equal verdicts mean the same codes,
paths, messages and rule ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fixtures.spark import require_spark

require_spark()

from dataquarantine.io.arrow_readers import read_parquet_batches
from dataquarantine.io.readers import iter_jsonl
from dataquarantine.kernel.results import ValidationResult, Violation
from dataquarantine.spark import ERRORS, VALID, WARNINGS, check
from dataquarantine.validation.contract import Contract

Verdict = tuple[bool, tuple[tuple[Any, ...], ...], tuple[tuple[Any, ...], ...]]


def _violation(v: Violation) -> tuple[Any, ...]:
    return (v.code.value, v.path, v.message, v.rule, v.keyword, v.severity.value)


def engine_verdict(result: ValidationResult) -> Verdict:
    return (
        result.valid,
        tuple(map(_violation, result.errors)),
        tuple(map(_violation, result.warnings)),
    )


def _spark_violations(items: list[Any]) -> tuple[tuple[Any, ...], ...]:
    return tuple(
        (i["code"], i["path"], i["message"], i["rule_id"], i["keyword"], i["severity"])
        for i in items
    )


def spark_verdict(row: Any) -> Verdict:
    return (row[VALID], _spark_violations(row[ERRORS]), _spark_violations(row[WARNINGS]))


def jsonl_records(path: Path) -> list[bytes]:
    """The payloads the default reader hands to the engine, in file order."""
    with path.open("rb") as stream:
        return [raw for batch in iter_jsonl(stream, str(path)) for raw in batch.raws]


def parquet_rows(path: Path) -> list[tuple[int, Any, bytes]]:
    """``(line, row, payload)`` of each row, as the default Parquet reader gives them."""
    out: list[tuple[int, Any, bytes]] = []
    for batch in read_parquet_batches(str(path), batch_size=1000):
        assert batch.values is not None
        out.extend(zip(batch.lines, batch.values, batch.raws, strict=True))
    return out


def spark_jsonl_verdicts(
    df: Any, contract: Contract, **options: Any
) -> list[tuple[bytes, Verdict]]:
    """``(payload-or-line, verdict)`` per record of a ``read_jsonl`` frame, in file order."""
    rows = check(df, contract, **options).orderBy("path", "offset").collect()
    return [(row["value"], spark_verdict(row)) for row in rows]


def spark_parquet_verdicts(df: Any, contract: Contract) -> dict[int, tuple[Verdict, Any, Any]]:
    """``{line: (verdict, payload, id)}`` of every row of a Parquet frame."""
    rows = check(df, contract).collect()
    return {row["_dq_row"]: (spark_verdict(row), row["_dq_payload"], row["_dq_id"]) for row in rows}
