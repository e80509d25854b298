"""Valid-record sinks: where ``validate --valid-out PATH`` writes the records that passed.

* JSONL input -> JSONL output: each valid line byte for byte, terminator included. A line that
  had no terminator (the last line of an input) is written without one; should more lines follow
  (several inputs into one sink) a ``\\n`` is put between, so lines never merge.
* CSV or Parquet input -> Parquet output with the input's columns (see
  :mod:`dataquarantine.io.parquet_sink`).

A regular file (or a new path) is written to a hidden temporary file in the target's folder and
renamed over the target by :meth:`ValidSink.close`: a crashed or aborted run never leaves a
partial file under the final name. A symbolic link is followed (the link stays, its target is
replaced); a FIFO or a device is written directly; see :mod:`dataquarantine.io.targets`.
``-`` writes JSONL to standard output. A failed write raises :class:`OutputError`.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Final

from dataquarantine.errors import ConfigError
from dataquarantine.io.outputs import PublishOnSuccess, ValidSink
from dataquarantine.io.records import InputFormat, RecordBatch
from dataquarantine.io.targets import AtomicTarget, OutputTarget, open_target, write_error

__all__ = [
    "STDOUT",
    "AtomicTarget",
    "JsonlValidSink",
    "PublishOnSuccess",
    "ValidSink",
    "open_valid_sink",
]

#: The output name that means standard output (JSONL only).
STDOUT: Final = "-"
_JSONL_SUFFIXES: Final = frozenset({".jsonl", ".ndjson", ".json"})
_PARQUET_SUFFIXES: Final = frozenset({".parquet", ".pq"})


def _copy(source: IO[bytes], target: IO[bytes], size: int) -> None:
    """``size`` bytes of ``source`` to ``target``, in the kernel when it can (``sendfile``)."""
    offset = 0
    try:
        while offset < size:
            sent = os.sendfile(target.fileno(), source.fileno(), offset, size - offset)
            if sent == 0:
                break
            offset += sent
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP) or offset:
            raise
    if offset < size:  # no sendfile for this pair: copy through user space
        source.seek(offset)
        while block := source.read(1 << 20):
            target.write(block)


def open_valid_sink(
    path: str | Path,
    input_format: InputFormat,
    *,
    column_types: Mapping[str, str] | None = None,
) -> ValidSink:
    """A sink for the valid records of ``input_format`` inputs, written to ``path``.

    JSONL input gives a JSONL file, CSV and Parquet input a Parquet file. ``column_types`` maps
    CSV columns to JSON Schema type names (``integer``, ``number``, ``boolean``, ``string``)
    for the Parquet column types. Raises :class:`ConfigError` when the path cannot be written or
    its extension names another format.
    """
    text = str(path)
    suffix = Path(text).suffix.lower()
    if input_format == "jsonl":
        if suffix in _PARQUET_SUFFIXES or suffix == ".csv":
            raise ConfigError(f"valid records of JSONL input are written as JSONL, not to {text!r}")
        return JsonlValidSink(text)
    if input_format not in ("csv", "parquet"):
        raise ConfigError(f"unknown input format {input_format!r}")
    if text == STDOUT:
        raise ConfigError("valid records of CSV/Parquet input are Parquet: give a file path")
    if suffix in _JSONL_SUFFIXES or suffix == ".csv":
        raise ConfigError(
            f"valid records of {input_format.upper()} input are written as Parquet, not to {text!r}"
        )
    from dataquarantine.extras import require_extra

    require_extra("parquet", "Parquet output")
    from dataquarantine.io.parquet_sink import ParquetValidSink  # lazy: imports pyarrow

    return ParquetValidSink(text, input_format, column_types=column_types)


class JsonlValidSink(PublishOnSuccess):
    """Writes the original JSONL lines of valid records, one ``write`` call per batch."""

    def __init__(self, path: str | Path, *, target: OutputTarget | None = None) -> None:
        """``target``: where to write instead of the one ``path`` names (e.g. a
        :class:`~dataquarantine.io.targets.DirectTarget` for a scratch file that needs no
        atomic rename nor fsync)."""
        self.path = str(path)
        self._target: OutputTarget | None = None
        if self.path == STDOUT and target is None:
            self._file: IO[bytes] = sys.stdout.buffer
        else:
            self._target = target if target is not None else open_target(self.path)
            self._file = self._target.open_file()
        self._needs_newline = False
        self._closed = False

    def write(
        self, batch: RecordBatch, valid: Sequence[int], values: Sequence[Any] | None = None
    ) -> None:
        """Write the original lines at ``valid`` (``values`` is not needed for JSONL)."""
        if self._closed:
            raise ConfigError(f"valid-record sink {self.path!r} is closed")
        if not valid:
            return
        originals = batch.originals
        if originals is None:
            raise ConfigError(
                f"{batch.uri!r}: the JSONL valid-record sink needs JSONL input, got {batch.format}"
            )
        lines = originals if len(valid) == len(originals) else [originals[i] for i in valid]
        try:
            if self._needs_newline:
                self._file.write(b"\n")
            # One write per line, not one join: a very long line is not copied again.
            self._file.writelines(lines)
        except OSError as exc:
            raise write_error(self.path, exc) from exc
        self._needs_newline = not lines[-1].endswith(b"\n")

    def append_file(self, path: str | Path) -> None:
        """Append what another JSONL sink wrote to ``path`` (a worker's part of the output),
        as if its lines had been written here: the result is byte for byte the same."""
        if self._closed:
            raise ConfigError(f"valid-record sink {self.path!r} is closed")
        try:
            with open(path, "rb") as part:
                size = os.fstat(part.fileno()).st_size
                if size == 0:
                    return
                if self._needs_newline:
                    self._file.write(b"\n")
                self._file.flush()
                _copy(part, self._file, size)
                self._needs_newline = os.pread(part.fileno(), 1, size - 1) != b"\n"
        except OSError as exc:
            raise write_error(self.path, exc) from exc

    def close(self) -> None:
        """Flush and publish the file under its final name."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._target is None:
                self._file.flush()
                return
            self._file.close()
        except OSError as exc:
            if self._target is not None:
                self._target.discard()
            raise write_error(self.path, exc) from exc
        self._target.commit()

    def abort(self) -> None:
        """Drop the output; the target path is left as it was (a pipe or device keeps what
        was already written to it)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._target is None:
                self._file.flush()
            else:
                self._file.close()
        except OSError:
            pass  # already failing: the original error is the one to report
        if self._target is not None:
            self._target.discard()
