"""Valid-record sinks: where ``validate --valid-out PATH`` writes the records that passed.

* JSONL input -> JSONL output: each valid line byte for byte, terminator included. A line that
  had no terminator (the last line of an input) is written without one; should more lines follow
  (several inputs into one sink) a ``\\n`` is put between, so lines never merge.
* CSV or Parquet input -> Parquet output with the input's columns (see
  :mod:`dataquarantine.io.parquet_sink`).

Output goes to a hidden temporary file in the target's folder, renamed over the target by
:meth:`ValidSink.close`: a crashed or aborted run never leaves a partial file under the final
name. ``-`` writes JSONL to standard output (no temporary file).
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Protocol, Self

from dataquarantine.errors import ConfigError
from dataquarantine.io.records import InputFormat, RecordBatch

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


class ValidSink(Protocol):
    """Receives the valid records of each batch, in order; commits the output on close."""

    def write(
        self, batch: RecordBatch, valid: Sequence[int], values: Sequence[Any] | None = None
    ) -> None:
        """Write the records at ``valid`` (ascending, distinct indices into ``batch``).

        ``values``: the engine's decoded/coerced value of every record of the batch (same
        indexing as the batch); used for CSV input, whose output columns are typed.
        """
        ...

    def close(self) -> None:
        """Flush and publish the output under its final name (idempotent)."""
        ...

    def abort(self) -> None:
        """Drop the output: the temporary file is removed, the target is left untouched."""
        ...


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
    from dataquarantine.io.parquet_sink import ParquetValidSink  # lazy: imports pyarrow

    return ParquetValidSink(text, input_format, column_types=column_types)


class AtomicTarget:
    """A hidden temporary file next to ``path``, renamed over it on :meth:`commit`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.tmp_path = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:12]}.part")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        try:
            # Created by name (not mkstemp) so that the umask, not 0600, sets the permissions.
            self.fd: int | None = os.open(self.tmp_path, flags, 0o666)
        except OSError as exc:
            raise ConfigError(f"cannot write {str(self.path)!r}: {exc.strerror or exc}") from exc
        self.done = False

    def open_file(self) -> IO[bytes]:
        """The temporary file as a binary file object (owns the descriptor from now on)."""
        fd, self.fd = self.fd, None
        if fd is None:
            raise ConfigError(f"{str(self.path)!r}: the temporary file was already opened")
        return os.fdopen(fd, "wb")

    def release(self) -> None:
        """Close the descriptor so that another writer can open :attr:`tmp_path` by name."""
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)

    def commit(self) -> None:
        """fsync the temporary file and rename it over the target (writers must be closed)."""
        if self.done:
            return
        self.release()
        try:
            with open(self.tmp_path, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(self.tmp_path, self.path)
        except OSError as exc:
            self.discard()
            raise ConfigError(f"cannot write {str(self.path)!r}: {exc.strerror or exc}") from exc
        self.done = True

    def discard(self) -> None:
        """Remove the temporary file (writers must be closed)."""
        self.release()
        self.done = True
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp_path)


class PublishOnSuccess:
    """Context-manager behaviour of the sinks: ``close()`` (publish) when the block succeeds,
    ``abort()`` (discard) when it raises."""

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class JsonlValidSink(PublishOnSuccess):
    """Writes the original JSONL lines of valid records, one ``write`` call per batch."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._target: AtomicTarget | None = None
        if self.path == STDOUT:
            self._file: IO[bytes] = sys.stdout.buffer
        else:
            self._target = AtomicTarget(self.path)
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
        if len(valid) == len(originals):
            data = b"".join(originals)
        else:
            data = b"".join([originals[i] for i in valid])
        if self._needs_newline:
            data = b"\n" + data
        self._needs_newline = not data.endswith(b"\n")
        try:
            self._file.write(data)
        except OSError as exc:
            raise ConfigError(f"cannot write {self.path!r}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        """Flush and publish the file under its final name."""
        if self._closed:
            return
        self._closed = True
        if self._target is None:
            self._file.flush()
            return
        try:
            self._file.close()
        except OSError as exc:
            self._target.discard()
            raise ConfigError(f"cannot write {self.path!r}: {exc.strerror or exc}") from exc
        self._target.commit()

    def abort(self) -> None:
        """Drop the output; the target path is left as it was."""
        if self._closed:
            return
        self._closed = True
        if self._target is None:
            self._file.flush()
            return
        self._file.close()
        self._target.discard()
