"""The columns ``split`` adds, with their Spark and Arrow types.

The quarantine frame carries the input's columns plus these; the checked frame of
:func:`~dataquarantine.spark.frames.check` also carries :data:`VALID` and :data:`WARNINGS`.
"""

from __future__ import annotations

from typing import Any, Final

import pyarrow as pa
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    LongType,
    StringType,
    StructField,
    StructType,
)

__all__ = [
    "CONTRACT",
    "CONTRACT_VERSION",
    "CSV_ERROR",
    "CSV_LINE",
    "CSV_SCHEMA",
    "ERRORS",
    "FILE",
    "ID",
    "JSONL_SCHEMA",
    "LINE_OFFSET",
    "LINE_PATH",
    "LINE_VALUE",
    "PAYLOAD",
    "REMEDIATION",
    "ROW",
    "RUN_ID",
    "VALID",
    "VIOLATION_FIELDS",
    "WARNINGS",
    "engine_fields",
    "ref",
    "remediation_arrow_type",
    "remediation_type",
    "violations_arrow_type",
]

#: The store's deterministic record id (a UUID string), see docs/spark.md.
ID: Final = "_dq_id"
CONTRACT: Final = "_dq_contract"
CONTRACT_VERSION: Final = "_dq_contract_version"
RUN_ID: Final = "_dq_run_id"
#: ``array<struct<code, path, message, rule_id, keyword, severity>>``: the error violations.
ERRORS: Final = "_dq_errors"
#: The warn-severity violations (same type); a row with only warnings is valid.
WARNINGS: Final = "_dq_warnings"
#: The bytes the store keeps: the line without its terminator (JSON lines), or the row as
#: JSON (typed input), exactly as the default engine quarantines them.
PAYLOAD: Final = "_dq_payload"
#: The double pass of an invalid record (null when none was made): ``outcome`` (``remediated``,
#: ``still_invalid``, ``unchanged``), ``actions`` (``<action>:<applied|failed>`` per rule run)
#: and the fix the store keeps as revision 1 (``payload``, ``changes`` as JSON text, ``errors``
#: left; null payload when nothing changed). Only with ``remediate=True``.
REMEDIATION: Final = "_dq_remediation"
#: The verdict (checked frame only).
VALID: Final = "_dq_valid"
#: The source of typed file input: the file's URI (named as the default engine names it) and
#: the row's 1-based position in it (Spark's ``_metadata.row_index`` + 1), as in the store's
#: file source. JSON lines carry theirs in the ``path`` and ``offset`` input columns.
FILE: Final = "_dq_file"
ROW: Final = "_dq_row"

#: The columns of :func:`~dataquarantine.spark.jsonl.read_jsonl`: the file's URI, the byte
#: offset where the line starts, and the line's bytes as in the file (terminator included).
LINE_PATH: Final = "path"
LINE_OFFSET: Final = "offset"
LINE_VALUE: Final = "value"
JSONL_SCHEMA: Final = StructType(
    [
        StructField(LINE_PATH, StringType(), nullable=False),
        StructField(LINE_OFFSET, LongType(), nullable=False),
        StructField(LINE_VALUE, BinaryType(), nullable=False),
    ]
)

#: The columns of :func:`~dataquarantine.spark.csv_input.read_csv`: the file's URI, the record's
#: line (as the default engine numbers CSV records), the record (its row object as JSON text
#: cells, or the row's text when it could not be decoded) and the reader's reason for that.
CSV_LINE: Final = "line"
CSV_ERROR: Final = "error"
CSV_SCHEMA: Final = StructType(
    [
        StructField(LINE_PATH, StringType(), nullable=False),
        StructField(CSV_LINE, LongType(), nullable=False),
        StructField(LINE_VALUE, BinaryType(), nullable=False),
        StructField(CSV_ERROR, StringType(), nullable=True),
    ]
)

VIOLATION_FIELDS: Final = ("code", "path", "message", "rule_id", "keyword", "severity")


def _violations_type() -> ArrayType:
    fields = [StructField(name, StringType(), nullable=True) for name in VIOLATION_FIELDS]
    return ArrayType(StructType(fields), containsNull=False)


def violations_arrow_type() -> Any:
    """The Arrow type of :data:`ERRORS` and :data:`WARNINGS` (as Spark hands it over)."""
    item = pa.struct([pa.field(name, pa.string()) for name in VIOLATION_FIELDS])
    return pa.list_(pa.field("element", item, nullable=False))


def remediation_type() -> StructType:
    """The Spark type of :data:`REMEDIATION`."""
    return StructType(
        [
            StructField("outcome", StringType(), nullable=False),
            StructField("actions", ArrayType(StringType(), containsNull=False), nullable=False),
            StructField("payload", BinaryType(), nullable=True),
            StructField("changes", StringType(), nullable=True),
            StructField("errors", _violations_type(), nullable=False),
        ]
    )


def remediation_arrow_type() -> Any:
    """The Arrow type of :data:`REMEDIATION` (as Spark hands it over)."""
    return pa.struct(
        [
            pa.field("outcome", pa.string(), nullable=False),
            pa.field("actions", pa.list_(pa.field("element", pa.string(), nullable=False))),
            pa.field("payload", pa.binary()),
            pa.field("changes", pa.string()),
            pa.field("errors", violations_arrow_type()),
        ]
    )


def engine_fields(remediation: bool = False) -> list[StructField]:
    """The fields the engine tier appends to its input rows, in order (with
    :data:`REMEDIATION` last when the double pass runs)."""
    fix = [StructField(REMEDIATION, remediation_type(), nullable=True)] if remediation else []
    return [
        StructField(VALID, BooleanType(), nullable=False),
        StructField(ERRORS, _violations_type(), nullable=False),
        StructField(WARNINGS, _violations_type(), nullable=False),
        StructField(PAYLOAD, BinaryType(), nullable=True),
        StructField(ID, StringType(), nullable=True),
        *fix,
    ]


def ref(name: str) -> Column:
    """A top-level column by its exact name (dots and backticks are not paths)."""
    return F.col("`" + name.replace("`", "``") + "`")
