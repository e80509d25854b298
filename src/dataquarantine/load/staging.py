"""The table a load reads: a staging table, or a file (CSV, JSONL, Parquet) copied into a
scratch table with ``COPY`` (:func:`staging_table`).

The scratch table is ``UNLOGGED``, has only ``text`` columns (a bad value is then a contract
violation found by the engine, not a failed ``COPY``) and is named after the SHA-256 of the
file: created and filled in one transaction, so it exists complete or not at all, and a
resumed run finds the same rows on the same pages. A completed load drops it.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from psycopg import sql

from dataquarantine.contracts.loader import inside_folder
from dataquarantine.contracts.model import FILE_STAGING_SUFFIXES, IDENTIFIER_RE
from dataquarantine.db.url import validate_identifier
from dataquarantine.errors import ConfigError
from dataquarantine.load.catalog import columns_of, regclass
from dataquarantine.load.connection import Connection, first_row, translated
from dataquarantine.load.plan import ident

__all__ = [
    "SCRATCH_PREFIX",
    "contained_file",
    "drop_scratch",
    "load_file",
    "source_table",
    "staging_table",
]

SCRATCH_PREFIX = "dq_staging_"
_CHUNK = 1 << 20


def contained_file(base_dir: Path | None, name: str) -> Path:
    """The contract's ``load.staging`` file, which must lie inside the contract's folder once
    links are resolved: the rule of ``$ref``. ConfigError otherwise (and without a folder)."""
    if base_dir is None:
        raise ConfigError(
            f"staging file {name!r} needs a contract folder to resolve it against "
            "(the contract was not read from a file); use --staging"
        )
    path = inside_folder(base_dir, base_dir / name)
    if path is None or Path(name).is_absolute():
        raise ConfigError(f"staging file {name!r} points outside the contract's folder")
    return path


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _chunks(path: Path, skip_first_line: bool = False) -> Iterator[bytes]:
    with path.open("rb") as f:
        if skip_first_line:
            f.readline()
        yield from iter(lambda: f.read(_CHUNK), b"")


def _csv_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        header = next(csv.reader(f), None)
    if not header:
        raise ConfigError(f"staging file {path} has no header row")
    for name in header:
        try:
            validate_identifier(name)
        except ConfigError:
            raise ConfigError(
                f"staging file {path}: column {name!r} is not a plain SQL identifier"
            ) from None
    return header


def _create(conn: Connection, table: str, columns: list[str]) -> None:
    cols = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in columns)
    conn.execute(sql.SQL("CREATE UNLOGGED TABLE {} ({})").format(ident(table), cols))


def _copy_csv(conn: Connection, table: str, path: Path) -> None:
    header = _csv_header(path)
    _create(conn, table, header)
    stmt = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER true)").format(
        ident(table), sql.SQL(", ").join(sql.Identifier(c) for c in header)
    )
    with conn.cursor().copy(stmt) as copy:
        for block in _chunks(path):
            copy.write(block)


def _copy_jsonl(conn: Connection, table: str, path: Path, columns: list[str]) -> None:
    raw = f"{table}_raw"
    conn.execute(sql.SQL("CREATE TEMP TABLE {} (doc jsonb) ON COMMIT DROP").format(ident(raw)))
    # CSV with control characters as quote and delimiter: each line is one jsonb value, and
    # backslashes reach the JSON parser untouched (COPY's text format would unescape them).
    stmt = sql.SQL(
        "COPY {} (doc) FROM STDIN WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
    ).format(ident(raw))
    with conn.cursor().copy(stmt) as copy, path.open("rb") as f:
        for line in f:
            if line.strip():
                copy.write(line if line.endswith(b"\n") else line + b"\n")
    _create(conn, table, columns)
    conn.execute(
        sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
            ident(table),
            sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            sql.SQL(", ").join(sql.SQL("doc->>{}").format(sql.Literal(c)) for c in columns),
            ident(raw),
        )
    )


def _textual(batch: Any) -> Any:
    """``batch`` with every column the CSV writer would render differently from the file
    readers of ``validate`` (dates and times, decimals, binary, nested) as text: RFC 3339
    timestamps, JSON for nested values."""
    import orjson
    import pyarrow as pa

    from dataquarantine.io.arrow_convert import column_to_python

    columns = []
    for original in batch.columns:
        col, t = original, original.type
        nested = pa.types.is_nested(t)
        if nested or pa.types.is_temporal(t) or pa.types.is_decimal(t) or pa.types.is_binary(t):
            values = column_to_python(col)
            text = [
                None
                if v is None
                else (orjson.dumps(v).decode() if nested or not isinstance(v, str) else v)
                for v in values
            ]
            col = pa.array(text, pa.string())
        columns.append(col)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _copy_parquet(conn: Connection, table: str, path: Path) -> None:
    from dataquarantine.extras import require_extra

    require_extra("parquet", "a Parquet staging file")
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    columns = list(pf.schema_arrow.names)
    for name in columns:
        validate_identifier(name)
    _create(conn, table, columns)
    stmt = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        ident(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    options = pa_csv.WriteOptions(include_header=False)
    with conn.cursor().copy(stmt) as copy:
        for batch in pf.iter_batches(batch_size=65_536):
            buf = io.BytesIO()
            pa_csv.write_csv(_textual(batch), buf, write_options=options)
            copy.write(buf.getvalue())


def load_file(conn: Connection, path: Path, columns: list[str]) -> str:
    """Copy ``path`` into its scratch table (kept if it already exists) and return the name.

    ``columns`` are the columns a JSONL file is read into (CSV and Parquet bring their own).
    ``conn`` must not be in autocommit mode; this commits.
    """
    if not path.is_file():
        raise ConfigError(f"staging file {path} does not exist")
    table = SCRATCH_PREFIX + _digest(path)[:24]
    exists = first_row(conn.execute("SELECT to_regclass(%s)", (table,)).fetchone(), "lookup")[0]
    if exists is not None:
        return table
    suffix = path.suffix.lower()
    if suffix == ".csv":
        _copy_csv(conn, table, path)
    elif suffix in (".jsonl", ".ndjson"):
        _copy_jsonl(conn, table, path, columns)
    elif suffix == ".parquet":
        _copy_parquet(conn, table, path)
    else:
        raise ConfigError(f"staging file {path}: use .csv, .jsonl, .ndjson or .parquet")
    conn.execute(sql.SQL("ANALYZE {}").format(ident(table)))
    conn.commit()
    return table


def drop_scratch(conn: Connection, table: str) -> None:
    """Drop a scratch table made by :func:`load_file` (refuses any other name)."""
    if not table.startswith(SCRATCH_PREFIX):
        raise ConfigError(f"refusing to drop {table!r}: not a scratch staging table")
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident(table)))
    conn.commit()


def source_table(label: str) -> str:
    """The ``table`` of the envelopes' TableSource for staging ``label``: the staging table,
    or the file name."""
    return Path(label).name if label.lower().endswith(FILE_STAGING_SUFFIXES) else label


def staging_table(
    conn: Connection, label: str, *, base_dir: Path | None, target: str, operator_given: bool
) -> tuple[str, bool]:
    """The table to read for staging ``label`` and whether it is a scratch copy of a file
    (copied here, into a table with the columns of ``target``).

    A file the operator named (``operator_given``, ``--staging``) may be any file they can
    read, relative to the contract's folder ``base_dir``; the contract's own must lie inside
    that folder (:func:`contained_file`)."""
    if not label.lower().endswith(FILE_STAGING_SUFFIXES):
        if not IDENTIFIER_RE.match(label):
            raise ConfigError(f"staging {label!r} is not a plain SQL identifier")
        return label, False
    if operator_given:
        path = Path(label)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
    else:
        path = contained_file(base_dir, label)
    oid = regclass(conn, target)
    if oid is None:
        raise ConfigError(f"target table {target!r} does not exist")
    columns = [c for c in columns_of(conn, oid) if c not in ("created_at", "last_updated_at")]
    with translated(f"copying {path.name} into a scratch table"):
        return load_file(conn, path, columns), True
