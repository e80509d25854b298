"""The bronze step: each source, as extracted, to Parquet, plus a lineage manifest.

Bronze keeps what the source said. CSV cells are typed only where that loses nothing: a column
becomes an integer, number or boolean column (the type its contract gives it) only when every
cell is an exact literal of that type and prints back to the very same text; otherwise the
column stays text, and the double-pass judges it. JSON values keep their JSON types, and the
PostgreSQL table keeps its column types, except that dates and timestamps are written as RFC 3339
text (UTC, ``Z``, full precision): the very text the contracts validate, so what bronze holds is
what the quarantine shows. An empty CSV cell is a null (a missing property).

The manifest (``manifest.json``, rewritten each run) lists, for every source: where it came
from, the Parquet file, its row count, the SHA-256 of the file, ``extracted_at`` and the
``run_id``. The data being deterministic, a re-run gives the same checksums.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from dataquarantine.io.arrow_convert import column_to_python
from dataquarantine.validation.contract import Contract

_ARROW: dict[str, pa.DataType] = {
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
}
#: Exact literals (RE2 syntax, where ``$`` is the very end of the text).
_LITERAL = {
    "integer": r"^-?(0|[1-9][0-9]*)$",
    "number": r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$",
    "boolean": r"^(true|false)$",
}


@dataclass(frozen=True)
class LineageEntry:
    """One source's line in the lineage manifest."""

    source: str
    source_kind: str
    source_uri: str
    contract: str
    file: str
    rows: int
    sha256: str
    extracted_at: str
    run_id: str


def _typed(column: pa.Array, json_type: str | None) -> pa.Array:
    """``column`` (text) as ``json_type`` when every value is an exact literal of it."""
    if json_type not in _ARROW:
        return column
    values = column.drop_null()
    if len(values) and not pc.all(pc.match_substring_regex(values, _LITERAL[json_type])).as_py():
        return column
    try:
        typed = column.cast(_ARROW[json_type])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return column
    printed = typed.drop_null().cast(pa.string())
    if json_type == "number" and not pc.all(pc.equal(printed, values)).as_py():
        return column  # "1.50" or "1e3" would not print back as written: keep the text
    return typed


def read_csv(path: Path, contract: Contract) -> pa.Table:
    """A CSV source: every cell read as text, then typed losslessly by the contract."""
    with path.open("rb") as f:
        header = f.readline().decode("utf-8").rstrip("\r\n").split(",")
    table = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        ),
    )
    types = contract.column_types()
    columns = [_typed(table.column(n).combine_chunks(), types.get(n)) for n in table.column_names]
    return pa.table(columns, names=table.column_names)


def read_jsonl(path: Path, contract: Contract) -> pa.Table:
    """A JSON-lines source: columns in first-seen order, values with their JSON types.

    A column whose values do not share one type is stored as JSON text. A line that is not a
    JSON object stops the step: bronze never drops a record."""
    rows: list[dict[str, Any]] = []
    with path.open("rb") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path.name}:{number}: not JSON ({exc})") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path.name}:{number}: not a JSON object")
            rows.append(row)
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    types = contract.column_types()
    arrays = []
    for name in names:
        values = [row.get(name) for row in rows]
        target = _ARROW.get(types.get(name, ""))
        try:
            arrays.append(pa.array(values, type=target))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            arrays.append(pa.array([None if v is None else json.dumps(v) for v in values]))
    return pa.table(arrays, names=list(names))


def read_table(url: str, schema: str, table: str) -> pa.Table:
    """A PostgreSQL source table, whole, with its column types (timestamps in UTC)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, connect_timeout=10) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        cur = conn.execute(
            sql.SQL("SELECT * FROM {} ORDER BY 1").format(sql.Identifier(schema, table))
        )
        names = [d.name for d in cur.description or ()]
        rows = cur.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    arrays = []
    for values in columns:
        arr = pa.array(list(values))
        if pa.types.is_null(arr.type):
            arr = arr.cast(pa.string())
        elif pa.types.is_temporal(arr.type):
            arr = pa.array(column_to_python(arr), pa.string())
        arrays.append(arr)
    return pa.table(arrays, names=names)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_bronze(
    table: pa.Table,
    out: Path,
    *,
    source: str,
    source_kind: str,
    source_uri: str,
    contract: Contract,
    run_id: str,
) -> LineageEntry:
    """Write ``table`` to ``out`` (atomically) and describe it for the manifest."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(out)
    return LineageEntry(
        source=source,
        source_kind=source_kind,
        source_uri=source_uri,
        contract=str(contract.ref),
        file=out.name,
        rows=table.num_rows,
        sha256=sha256_of(out),
        extracted_at=datetime.now(UTC).isoformat(timespec="seconds"),
        run_id=run_id,
    )


def write_manifest(entries: list[LineageEntry], path: Path, run_id: str) -> None:
    doc = {"run_id": run_id, "sources": [asdict(e) for e in entries]}
    path.write_text(json.dumps(doc, indent=2) + "\n")
