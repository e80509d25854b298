"""Parquet valid-record sink for CSV and Parquet input (imports pyarrow: load lazily).

* Parquet input: the valid rows are taken from the original Arrow batch, so every type (and
  value) is preserved exactly.
* CSV input: columns in header order, built from the engine's coerced values, typed by the
  contract: ``integer`` -> int64, ``number`` -> float64, ``boolean`` -> bool, anything else ->
  string (non-string values JSON-encoded); a missing property is null. A value that does not
  fit its column (``"abc"`` or ``3.5`` in an integer column) is never truncated or dropped: it
  raises :class:`ConfigError`, since the column types then contradict the validated records.

The schema is fixed by the first batch; later batches (e.g. from further inputs) are aligned to
it by column name, and a batch with a column the schema lacks is refused (its values would be
lost). Rows are buffered into row groups of about :data:`ROW_GROUP_ROWS` rows.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Final

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from dataquarantine.errors import ConfigError
from dataquarantine.io.outputs import PublishOnSuccess
from dataquarantine.io.records import InputFormat, RecordBatch
from dataquarantine.io.targets import open_target, write_error

__all__ = [
    "ROW_GROUP_ROWS",
    "ParquetValidSink",
    "arrow_type",
    "csv_output_schema",
    "csv_rows_batch",
]

ROW_GROUP_ROWS: Final = 65_536
_ARROW_TYPES: Final[dict[str, pa.DataType]] = {
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "string": pa.string(),
}
_CONVERT_ERRORS: Final = (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError)


def arrow_type(json_type: str | None) -> pa.DataType:
    """The Arrow type of a CSV column whose contract type is ``json_type`` (string if unknown)."""
    return _ARROW_TYPES.get(json_type or "", pa.string())


class ParquetValidSink(PublishOnSuccess):
    """Writes valid records to one Parquet file through a single ``ParquetWriter``."""

    def __init__(
        self,
        path: str | Path,
        input_format: InputFormat,
        *,
        column_types: Mapping[str, str] | None = None,
    ) -> None:
        self.path = str(path)
        self.input_format = input_format
        self._column_types = dict(column_types or {})
        self._target = open_target(self.path)
        self._target.release()  # pyarrow opens a temporary file by name
        # A FIFO or device cannot seek: pyarrow writes it through a file object that counts.
        self._stream: _Positioned | None = None
        self._schema: pa.Schema | None = None
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._closed = False

    def write(
        self, batch: RecordBatch, valid: Sequence[int], values: Sequence[Any] | None = None
    ) -> None:
        """Append the rows at ``valid``; ``values`` (CSV) are the coerced records of the batch."""
        if self._closed:
            raise ConfigError(f"valid-record sink {self.path!r} is closed")
        if batch.table is None:
            raise ConfigError(
                f"{batch.uri!r}: the Parquet valid-record sink needs CSV or Parquet input, "
                f"got {batch.format}"
            )
        if batch.format == "parquet":
            out = self._from_parquet(batch, valid)
        else:
            out = self._from_csv(batch, valid, batch.values if values is None else values)
        if out.num_rows:
            self._pending.append(out)
            self._pending_rows += out.num_rows
            if self._pending_rows >= ROW_GROUP_ROWS:
                self._flush()

    def close(self) -> None:
        """Write the buffered rows and the footer, then publish the file under its name."""
        if self._closed:
            return
        self._closed = True
        try:
            self._flush()
            writer = self._writer or self._open_writer(self._schema or pa.schema([]))
            self._writer = None
            writer.close()
            if self._stream is not None:
                self._stream.close()
        except BaseException as exc:
            self._close_writer_quietly()
            self._target.discard()
            if isinstance(exc, (OSError, pa.ArrowException)):
                raise write_error(self.path, exc) from exc
            raise
        self._target.commit()

    def abort(self) -> None:
        """Drop the output; the target path is left as it was."""
        if self._closed:
            return
        self._closed = True
        self._pending.clear()
        self._close_writer_quietly()
        self._target.discard()

    def _close_writer_quietly(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(OSError, pa.ArrowException):
                writer.close()  # the file is being thrown away
        if self._stream is not None:
            with contextlib.suppress(OSError):
                self._stream.close()

    # -- building the output batches

    def _from_parquet(self, batch: RecordBatch, valid: Sequence[int]) -> pa.RecordBatch:
        table: pa.RecordBatch = batch.table
        if self._schema is None:
            self._schema = table.schema
        if len(valid) != table.num_rows:
            table = table.take(pa.array(valid, type=pa.int64()))
        return self._align(batch.uri, table)

    def _from_csv(
        self, batch: RecordBatch, valid: Sequence[int], values: Sequence[Any] | None
    ) -> pa.RecordBatch:
        names: list[str] = batch.table.schema.names
        if self._schema is None:
            self._schema = csv_output_schema(names, self._column_types)
        schema = self._schema
        extra = [name for name in names if schema.get_field_index(name) < 0]
        if extra:
            raise ConfigError(
                f"{batch.uri!r}: columns {extra} are not in the valid-record output "
                f"{self.path!r} (its columns come from the first input)"
            )
        if not valid or values is None:
            return _empty(schema)
        rows = [values[i] for i in valid]
        return csv_rows_batch(batch.uri, schema, rows, [batch.lines[i] for i in valid])

    def _align(self, uri: str, table: pa.RecordBatch) -> pa.RecordBatch:
        schema = self._schema
        assert schema is not None
        if table.schema.equals(schema, check_metadata=False):
            return table
        names = table.schema.names
        extra = [name for name in names if schema.get_field_index(name) < 0]
        if extra:
            raise ConfigError(
                f"{uri!r}: columns {extra} are not in the valid-record output {self.path!r} "
                "(its columns come from the first input)"
            )
        arrays = []
        try:
            for field in schema:
                if field.name in names:
                    arrays.append(table.column(field.name).cast(field.type))
                else:
                    arrays.append(pa.nulls(table.num_rows, field.type))
            return pa.RecordBatch.from_arrays(arrays, schema=schema)
        except pa.ArrowException as exc:
            raise ConfigError(
                f"{uri!r}: its columns do not match the valid-record output {self.path!r}: {exc}"
            ) from exc

    # -- writing

    def _open_writer(self, schema: pa.Schema) -> pq.ParquetWriter:
        try:
            if self._target.direct:
                self._stream = _Positioned(self._target.open_file())
                self._writer = pq.ParquetWriter(pa.PythonFile(self._stream, mode="w"), schema)
            else:
                self._writer = pq.ParquetWriter(str(self._target.write_path), schema)
        except (OSError, pa.ArrowException) as exc:
            raise write_error(self.path, exc) from exc
        return self._writer

    def _flush(self) -> None:
        if not self._pending:
            return
        schema = self._schema
        assert schema is not None
        writer = self._writer or self._open_writer(schema)
        table = pa.Table.from_batches(self._pending, schema=schema)
        self._pending.clear()
        self._pending_rows = 0
        try:
            writer.write_table(table, row_group_size=max(table.num_rows, 1))
        except (OSError, pa.ArrowException) as exc:
            raise write_error(self.path, exc) from exc


class _Positioned(io.RawIOBase):
    """A write-only file object that counts its position (a pipe cannot tell it)."""

    def __init__(self, file: IO[bytes]) -> None:
        super().__init__()
        self._file = file
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        n = len(memoryview(data))
        self._file.write(data)
        self._pos += n
        return n

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        try:
            self._file.close()  # flushes: a failed write surfaces here
        finally:
            super().close()


def csv_output_schema(names: Sequence[str], column_types: Mapping[str, str]) -> pa.Schema:
    """The valid output's schema for CSV input: the header's ``names`` in order, typed by
    ``column_types`` (a column's JSON type name; string when unknown)."""
    return pa.schema([pa.field(name, arrow_type(column_types.get(name))) for name in names])


def csv_rows_batch(
    uri: str, schema: pa.Schema, rows: Sequence[Any], lines: Sequence[int]
) -> pa.RecordBatch:
    """The engine's coerced CSV records ``rows`` (from the lines ``lines`` of ``uri``) as a
    batch of ``schema``; a value that does not fit its column raises :class:`ConfigError`."""
    records = [r if isinstance(r, dict) else {} for r in rows]
    numeric = [f for f in schema if f.type in (pa.int64(), pa.float64())]
    if all(_fits(field, [r.get(field.name) for r in records]) for field in numeric):
        try:  # fast path, strict for string and bool columns
            return pa.RecordBatch.from_pylist(records, schema=schema)
        except _CONVERT_ERRORS:
            pass
    arrays = [
        _column(uri, field, [r.get(field.name) for r in records], list(lines)) for field in schema
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _empty(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)


def _column(uri: str, field: pa.Field, col: list[Any], lines: list[int]) -> pa.Array:
    kind = field.type
    if kind == pa.string():
        try:
            return pa.array(col, kind)  # raises on any non-string value
        except _CONVERT_ERRORS:
            texts = [v if v is None or type(v) is str else _json_text(v) for v in col]
            return pa.array(texts, kind)
    if _fits(field, col):
        try:
            return pa.array(col, kind)
        except _CONVERT_ERRORS:
            pass
    convert = _SCALAR_CONVERTERS[str(kind)]
    out = []
    for v, line in zip(col, lines, strict=True):
        try:
            out.append(None if v is None else convert(v))
        except _CONVERT_ERRORS as exc:
            raise ConfigError(
                f"{uri}:{line}: column {field.name!r} is {kind} in the valid-record output "
                f"but the record holds {v!r}"
            ) from exc
    try:
        return pa.array(out, kind)
    except _CONVERT_ERRORS as exc:
        raise ConfigError(f"{uri}: column {field.name!r} does not fit {kind}: {exc}") from exc


def _fits(field: pa.Field, col: list[Any]) -> bool:
    """Whether pyarrow may convert ``col`` itself: it would silently turn 3.5 into 3 (int64)
    or True into 1.0 (float64); bool and string columns it checks strictly."""
    kind = field.type
    if kind == pa.int64():
        return all(v is None or type(v) is int for v in col)
    if kind == pa.float64():
        return all(v is None or type(v) is float or type(v) is int for v in col)
    return True


def _to_int(v: Any) -> int:
    if isinstance(v, bool):
        raise TypeError("a boolean is not an integer")
    if isinstance(v, float):
        if not v.is_integer():
            raise ValueError("not an integral number")
        return int(v)
    if isinstance(v, str):
        return int(v.strip())
    if isinstance(v, int):
        return v
    raise TypeError(f"{type(v).__name__} is not an integer")


def _to_float(v: Any) -> float:
    if isinstance(v, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(v, (int, float, str)):
        return float(v)
    raise TypeError(f"{type(v).__name__} is not a number")


def _to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "false"):
        return v.strip().lower() == "true"
    raise TypeError(f"{v!r} is not a boolean")


_SCALAR_CONVERTERS: Final[dict[str, Callable[[Any], Any]]] = {
    "int64": _to_int,
    "double": _to_float,
    "bool": _to_bool,
}


def _json_text(v: Any) -> str:
    try:
        return orjson.dumps(v).decode()
    except TypeError:  # an integer beyond 64 bits
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)
