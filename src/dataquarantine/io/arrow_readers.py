"""CSV and Parquet readers on pyarrow's streaming readers (imports pyarrow: load lazily).

CSV rules:

* the first record is the header; every column is read as text, never inferred ("00123" stays
  "00123", "NULL" stays "NULL"); typing is the engine's job, driven by the contract;
* an empty cell (quoted or not) means the property is absent: it is left out of the row dict;
* quoted cells may hold delimiters, quotes and newlines; blank lines are skipped (as in JSONL);
* a row with the wrong number of fields, or a cell that is not UTF-8, is still a record: its
  value is ``None``, its raw is the row's text and ``RecordBatch.decode_errors`` says why.
  Rejected rows come after the good rows of their batch, each with its own line;
* every record's ``line`` is the physical line where it starts (quoted line breaks and empty
  lines counted).

Parquet: rows are converted by :mod:`dataquarantine.io.arrow_convert`; null columns are left out
of the row dict, as an empty CSV cell is. Memory is bounded by one row group.

An input with a header (or schema) but no rows yields one empty batch, so that a sink still
learns the columns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any, Final

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from dataquarantine.errors import InputError
from dataquarantine.io.arrow_convert import column_to_python
from dataquarantine.io.csv_lines import CsvRecordLines
from dataquarantine.io.records import InputFormat, RecordBatch

__all__ = ["arrow_rows", "csv_header", "read_csv_batches", "read_parquet_batches", "row_payload"]

_HEADER_CHUNK: Final = 1 << 16
_NEWLINE: Final = re.compile(rb"[\r\n]")
_CSV_SPECIAL: Final = (b",", b'"', b"\n", b"\r")


def read_csv_batches(uri: str, *, batch_size: int, block_size: int) -> Iterator[RecordBatch]:
    """Stream a CSV file as batches of at most ``batch_size`` rows (all cells as text).

    Every record carries the physical line where it starts. pyarrow numbers the rows it
    rejects (the header is row 1, empty lines do not count) but not the rows it accepts, so the
    good rows of each chunk take the row numbers left free by the rejected ones, and a second
    scan of the file (:class:`CsvRecordLines`) turns row numbers into physical lines.
    """
    header = _read_header(uri)
    if header is None:
        return
    _check_unique(uri, header)
    # pyarrow parses ahead: rows of later chunks may be rejected before a chunk is returned.
    rejected: dict[int, tuple[bytes, str]] = {}

    def on_invalid(row: Any) -> str:
        n = row.actual_columns
        reason = f"CSV row has {n} field{'' if n == 1 else 's'}, expected {row.expected_columns}"
        rejected[row.number] = (str(row.text).encode("utf-8", "backslashreplace"), reason)
        return "skip"

    try:
        reader = pacsv.open_csv(
            uri,
            read_options=pacsv.ReadOptions(block_size=max(block_size, 1 << 16), use_threads=False),
            parse_options=pacsv.ParseOptions(
                newlines_in_values=True, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.binary() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"cannot read CSV input {uri!r}: {exc}") from exc
    if reader.schema.names != header:
        raise InputError(f"cannot read the CSV header of {uri!r}")
    emitted = False
    with reader, open(uri, "rb") as scan:
        positions = CsvRecordLines(scan, block_size=max(block_size, 1 << 16))
        positions.take(1)  # the header
        next_row = 2  # pyarrow's number of the next row not yet handed out
        while True:
            try:
                chunk = reader.read_next_batch()
            except StopIteration:
                break
            except (OSError, pa.ArrowException) as exc:
                raise InputError(f"error reading CSV input {uri!r}: {exc}") from exc
            if not chunk.num_rows:  # its rejected rows are placed with the next good row
                continue
            lines, bad = _place_rows(positions, rejected, next_row, chunk.num_rows)
            next_row += chunk.num_rows + len(bad)
            for start in range(0, chunk.num_rows, batch_size):
                part = chunk.slice(start, batch_size)
                last = start + batch_size >= chunk.num_rows
                yield _csv_batch(uri, part, lines[start : start + batch_size], bad if last else [])
                emitted = True
        if rejected or not emitted:
            # rows rejected after the last good row, or a header-only file
            _, bad = _place_rows(positions, rejected, next_row, 0)
            empty = pa.RecordBatch.from_arrays([pa.array([], pa.binary()) for _ in header], header)
            yield _csv_batch(uri, empty, [], bad)


def _place_rows(
    positions: CsvRecordLines, rejected: dict[int, tuple[bytes, str]], first: int, good: int
) -> tuple[list[int], list[tuple[bytes, str, int]]]:
    """The lines of the next ``good`` accepted rows, and the rejected rows among them (popped
    from ``rejected``) with their lines. Rows are numbered from ``first`` on; with ``good`` 0,
    every remaining rejected row is placed."""
    if good:
        end = first + good
        inside: list[int] = []
        while True:  # each rejected row inside the range pushes its end one further
            found = sorted(n for n in rejected if first <= n < end)
            if len(found) == len(inside):
                break
            inside = found
            end = first + good + len(inside)
    else:
        inside = sorted(n for n in rejected if n >= first)
        end = inside[-1] + 1 if inside else first
    lines = positions.take(end - first)
    if not inside:
        return lines, []
    bad = [(*rejected.pop(n), lines[n - first]) for n in inside]
    skip = {n - first for n in inside}
    return [line for i, line in enumerate(lines) if i not in skip], bad


def parquet_row_groups(uri: str) -> list[int]:
    """The number of rows of each row group of a Parquet file (from its footer)."""
    try:
        with pq.ParquetFile(uri) as pfile:
            meta = pfile.metadata
            return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"cannot read Parquet input {uri!r}: {exc}") from exc


def read_parquet_batches(
    uri: str,
    *,
    batch_size: int,
    row_groups: Sequence[int] | None = None,
    first_row: int = 0,
) -> Iterator[RecordBatch]:
    """Stream a Parquet file as batches of at most ``batch_size`` rows (JSON-compatible dicts).

    ``row_groups``: only these row groups (consecutive), whose first row is row ``first_row``
    of the file (so that line numbers are the file's: ``validate --workers``)."""
    try:
        pfile = pq.ParquetFile(uri)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"cannot read Parquet input {uri!r}: {exc}") from exc
    with pfile:
        schema = pfile.schema_arrow
        _check_unique(uri, schema.names)
        row = first_row
        batches = pfile.iter_batches(batch_size=batch_size, row_groups=row_groups)
        while True:
            try:
                chunk = next(batches)
            except StopIteration:
                break
            except (OSError, pa.ArrowException) as exc:
                raise InputError(f"error reading Parquet input {uri!r}: {exc}") from exc
            yield _parquet_batch(uri, chunk, row)
            row += chunk.num_rows
        if row == 0 and row_groups is None:
            empty = pa.RecordBatch.from_arrays(
                [pa.array([], f.type) for f in schema], schema=schema
            )
            yield RecordBatch(uri, "parquet", [], [], [], None, empty)


def _csv_batch(
    uri: str, chunk: pa.RecordBatch, lines: list[int], rejected: list[tuple[bytes, str, int]]
) -> RecordBatch:
    names = chunk.schema.names
    arrays: list[pa.Array] = []
    columns: list[list[Any]] = []
    errors: dict[int, str] = {}
    for name, arr in zip(names, chunk.columns, strict=True):
        try:
            text = arr.cast(pa.string())
        except pa.ArrowInvalid:
            arrays.append(arr)
            columns.append(_decode_cells(name, arr.to_pylist(), errors))
        else:
            arrays.append(text)
            columns.append(text.to_pylist())
    rows = _rows(names, columns, chunk.num_rows)
    for name, arr in zip(names, chunk.columns, strict=True):
        if pc.min(pc.binary_length(arr)).as_py() != 0:
            continue
        for i in pc.indices_nonzero(pc.equal(pc.binary_length(arr), 0)).to_pylist():
            rows[i].pop(name, None)
    raws = [orjson.dumps(r) for r in rows]
    values = rows
    if errors:
        cells = [arr.to_pylist() for arr in chunk.columns]
        for i in errors:
            values[i] = None
            raws[i] = _csv_line([col[i] for col in cells])
    lines = list(lines)
    for raw, reason, line in rejected:
        errors[len(raws)] = reason
        raws.append(raw)
        values.append(None)
        lines.append(line)
    table = pa.RecordBatch.from_arrays(arrays, names=names)
    return RecordBatch(uri, "csv", raws, lines, values, None, table, errors or None)


def arrow_rows(chunk: pa.RecordBatch) -> list[Any]:
    """The rows of an Arrow batch as the engine sees Parquet rows: JSON-compatible dicts, null
    columns left out. :func:`row_payload` gives the bytes the quarantine keeps of one."""
    names = chunk.schema.names
    columns = [column_to_python(arr) for arr in chunk.columns]
    rows = _rows(names, columns, chunk.num_rows)
    for name, arr in zip(names, chunk.columns, strict=True):
        if arr.null_count:
            for i in pc.indices_nonzero(arr.is_null()).to_pylist():
                rows[i].pop(name, None)
    return rows


def row_payload(row: dict[str, Any]) -> bytes:
    """A row of :func:`arrow_rows` as JSON bytes (its raw payload)."""
    try:
        return orjson.dumps(row)
    except TypeError:  # an integer beyond 64 bits (from a wide decimal)
        return json.dumps(row, separators=(",", ":"), ensure_ascii=False).encode()


def _parquet_batch(uri: str, chunk: pa.RecordBatch, row: int) -> RecordBatch:
    rows = arrow_rows(chunk)
    raws = [row_payload(r) for r in rows]
    lines = list(range(row + 1, row + 1 + chunk.num_rows))
    return RecordBatch(uri, _PARQUET, raws, lines, rows, None, chunk)


_PARQUET: Final[InputFormat] = "parquet"


def _rows(names: list[str], columns: list[list[Any]], num_rows: int) -> list[Any]:
    """One dict per row (a list of ``Any``: undecodable rows are later replaced by ``None``)."""
    rows: list[Any] = [{} for _ in range(num_rows)]
    for name, column in zip(names, columns, strict=True):
        # Column-wise filling is faster than one dict(zip(...)) per row.
        for row, value in zip(rows, column, strict=True):
            row[name] = value
    return rows


def _decode_cells(name: str, cells: list[bytes], errors: dict[int, str]) -> list[str | None]:
    out: list[str | None] = []
    for i, cell in enumerate(cells):
        try:
            out.append(cell.decode("utf-8"))
        except UnicodeDecodeError:
            errors.setdefault(i, f"CSV column {name!r} is not valid UTF-8")
            out.append(None)
    return out


def _csv_line(cells: list[bytes]) -> bytes:
    """One CSV line from raw cells (the raw payload of a row that cannot be decoded)."""
    return b",".join(
        b'"' + cell.replace(b'"', b'""') + b'"'
        if any(special in cell for special in _CSV_SPECIAL)
        else cell
        for cell in cells
    )


def csv_header(uri: str) -> list[str] | None:
    """The column names of a CSV file's header, as :func:`read_csv_batches` reads them
    (``None`` for an empty file)."""
    return _read_header(uri)


def _read_header(uri: str) -> list[str] | None:
    """The header's column names as pyarrow parses them; ``None`` for an empty file."""
    try:
        with open(uri, "rb") as f:
            head = b""
            while True:
                chunk = f.read(_HEADER_CHUNK)
                head += chunk
                end = _header_end(head)
                if end >= 0:
                    head = head[:end]
                    break
                if not chunk:
                    break
    except OSError as exc:
        raise InputError(f"cannot read CSV input {uri!r}: {exc.strerror or exc}") from exc
    if not head.strip(b"\r\n"):
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"the CSV header of {uri!r} is not valid UTF-8 (byte {exc.start}): "
            "column names must be UTF-8 text"
        ) from None
    try:
        table = pacsv.read_csv(
            pa.BufferReader(head), parse_options=pacsv.ParseOptions(newlines_in_values=True)
        )
    except pa.ArrowException as exc:
        raise InputError(f"cannot read the CSV header of {uri!r}: {exc}") from exc
    return list(table.schema.names)


def _header_end(data: bytes) -> int:
    """Index just past the first line break outside quotes, or -1 when there is none yet."""
    pos = 0
    while (match := _NEWLINE.search(data, pos)) is not None:
        end = match.end()
        if data.count(b'"', 0, end) % 2 == 0 and data[:end].strip(b"\r\n"):
            if data[end - 1 : end] == b"\r" and end < len(data) and data[end] == 0x0A:
                end += 1
            return end
        pos = end
    return -1


def _check_unique(uri: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError(f"input {uri!r} has two columns named {name!r}")
        seen.add(name)
