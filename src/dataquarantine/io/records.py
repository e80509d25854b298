"""Value types shared by the file readers and the valid-record sinks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = [
    "DEFAULT_MAX_RECORD_BYTES",
    "INPUT_FORMATS",
    "InputFormat",
    "RecordBatch",
    "oversize_reason",
]

InputFormat = Literal["jsonl", "csv", "parquet"]
INPUT_FORMATS: Final[tuple[InputFormat, ...]] = ("jsonl", "csv", "parquet")
#: JSONL records larger than this are not parsed (``DQ_MAX_RECORD_BYTES``).
DEFAULT_MAX_RECORD_BYTES: Final = 16 << 20


def oversize_reason(size: int, limit: int) -> str:
    """The ``parse_error`` message of a JSONL record larger than ``limit`` bytes."""
    return (
        f"record of {size:,} bytes is larger than the limit of {limit:,} bytes "
        "(DQ_MAX_RECORD_BYTES); it was not parsed"
    )


@dataclass(slots=True)
class RecordBatch:
    """A batch of records read from one input, all lists indexed alike.

    ``raws``: one payload per record. JSONL: the line without its terminator (any bytes; decoding
    is the engine's job). CSV/Parquet: ``orjson`` bytes of the row object in ``values``.

    ``lines``: 1-based position of each record. JSONL: the physical line number (blank lines are
    skipped but counted). CSV: the record ordinal + 1, the header being line 1, so it is the
    physical line when no cell holds a newline and the file has no blank line. Parquet: the row
    index + 1.

    ``values``: ``None`` for JSONL (the engine decodes ``raws``); CSV/Parquet: the row dicts.

    ``originals``: JSONL only: each line exactly as in the file, terminator included (``\\n``,
    ``\\r\\n`` or none for a last line without one).

    ``table``: CSV/Parquet: the ``pyarrow.RecordBatch`` the rows came from.

    ``decode_errors``: CSV only: ``{index: reason}`` for rows the reader could not decode (wrong
    number of fields, invalid UTF-8). Such a record has ``values[index] is None`` and its raw is
    the row's text; it must be quarantined as a parse error, never dropped.
    """

    uri: str
    format: InputFormat
    raws: list[bytes]
    lines: list[int]
    values: list[Any] | None
    originals: list[bytes] | None
    table: Any = None
    decode_errors: dict[int, str] | None = None

    def __len__(self) -> int:
        return len(self.raws)
