"""Deterministic record ids of Spark rows: the store's ``uuid5(coordinates#sha256(payload))``.

Coordinates never depend on how Spark partitions the input:

* typed file input (Parquet): ``file:<uri>:<row>``, the row index in its file + 1 (Spark's
  ``_metadata.row_index``), which is :class:`~dataquarantine.quarantine.envelope.FileSource`'s
  coordinates: the default engine gives the same record of the same file the same id;
* JSON lines (:func:`~dataquarantine.spark.jsonl.read_jsonl`): ``file:<uri>@<offset>``, the
  byte offset where the line starts. Spark cannot number lines without reading every file from
  its start, so these ids differ from the default engine's (which numbers lines); two
  identical lines of one file still get two ids.
"""

from __future__ import annotations

import hashlib

from dataquarantine.quarantine.envelope import FileSource, uuid5

__all__ = ["line_coordinates", "record_id", "row_coordinates"]


def row_coordinates(uri: str, row: int) -> str:
    """The coordinates of row ``row`` (1-based) of a typed file."""
    return FileSource(uri=uri, line=row).coordinates


def line_coordinates(uri: str, offset: int) -> str:
    """The coordinates of the JSON line starting at byte ``offset`` of ``uri``."""
    return FileSource(uri=uri, line=None, offset=offset).coordinates


def record_id(coordinates: str, payload: bytes) -> str:
    """The store's id of the record at ``coordinates`` with these payload bytes."""
    return str(uuid5(f"{coordinates}#{hashlib.sha256(payload).hexdigest()}"))
