"""The same contracts, verdicts and quarantine on Apache Spark (extra ``spark``).

``split(df, contract)`` returns the valid rows and the quarantined rows of a DataFrame as two
lazy DataFrames: no Spark job runs until they are used. Rows go through the engine itself,
batched inside ``mapInArrow``, unless a conservative native predicate already proves them
valid. ``read_jsonl(spark, paths)`` reads JSON lines with the byte offsets the record ids need.
See docs/spark.md.
"""

from __future__ import annotations

from dataquarantine.extras import require_extra

require_extra("spark", "dataquarantine.spark")

from dataquarantine.spark.columns import (
    CONTRACT,
    CONTRACT_VERSION,
    ERRORS,
    ID,
    JSONL_SCHEMA,
    PAYLOAD,
    RUN_ID,
    VALID,
    WARNINGS,
)
from dataquarantine.spark.frames import check, split
from dataquarantine.spark.jsonl import read_jsonl
from dataquarantine.spark.native import surely_valid
from dataquarantine.spark.references import Parent, jdbc_parents

__all__ = [
    "CONTRACT",
    "CONTRACT_VERSION",
    "ERRORS",
    "ID",
    "JSONL_SCHEMA",
    "PAYLOAD",
    "RUN_ID",
    "VALID",
    "WARNINGS",
    "Parent",
    "check",
    "jdbc_parents",
    "read_jsonl",
    "split",
    "surely_valid",
]
