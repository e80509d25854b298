"""Rows of a Parquet record batch replaced by fixed values (the remediated records), typed
as the batch's columns: what the valid sink of typed input writes for a remediated record."""

from __future__ import annotations

from typing import Any

__all__ = ["replace_rows"]


def _row_batch(value: Any, schema: Any) -> Any:
    """One row as a record batch of ``schema``. Temporal columns reached the engine as RFC
    3339 text (see :mod:`dataquarantine.io.arrow_convert`): a fixed value is text too, and is
    parsed back into the column's type."""
    import pyarrow as pa
    import pyarrow.types as pat

    if not isinstance(value, dict):
        raise TypeError(f"a Parquet row must be an object, not {type(value).__name__}")
    arrays = []
    for column in schema:
        cell = value.get(column.name)
        kind = column.type
        temporal = pat.is_timestamp(kind) or pat.is_date(kind) or pat.is_time(kind)
        if isinstance(cell, str) and temporal:
            arrays.append(pa.array([cell], pa.string()).cast(kind))
        else:
            arrays.append(pa.array([cell], kind))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def replace_rows(table: Any, rows: dict[int, Any]) -> tuple[Any, dict[int, str]]:
    """``table`` (a ``pyarrow.RecordBatch``) with row ``i`` replaced by ``rows[i]``, and the
    rows that do not fit its schema, with the reason (those keep their original row)."""
    import pyarrow as pa  # lazy: only Parquet input needs it

    parts = [table]
    index = list(range(table.num_rows))
    misfits: dict[int, str] = {}
    for i, value in rows.items():
        try:
            parts.append(_row_batch(value, table.schema))
        except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
            misfits[i] = f"the remediated record does not fit the Parquet columns: {exc}"
            continue
        index[i] = sum(p.num_rows for p in parts) - 1
    if len(parts) == 1:
        return table, misfits
    combined = pa.Table.from_batches(parts).take(pa.array(index, type=pa.int64()))
    return combined.combine_chunks().to_batches()[0], misfits
