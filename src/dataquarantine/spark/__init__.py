"""The same contracts, verdicts and quarantine on Apache Spark (extra ``spark``).

``split(df, contract)`` returns the valid rows and the quarantined rows of a DataFrame as two
lazy DataFrames: no Spark job runs until they are used. Rows go through the engine itself,
batched inside ``mapInArrow``, unless a conservative native predicate already proves them
valid. ``read_jsonl(spark, paths)`` reads JSON lines with the byte offsets the record ids need,
``read_csv(spark, paths)`` CSV records (``typed_csv`` types ``split``'s valid ones).
``write_quarantine(quarantine, store=..., payloads=...)`` writes the quarantine frame into the
quarantine store from the executors, idempotently; ``run(df, contract, store=..., ...)`` does
the split, the store and the valid output in one pass and returns the reconciled counts.
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
from dataquarantine.spark.csv_input import read_csv
from dataquarantine.spark.csv_output import typed_csv
from dataquarantine.spark.frames import check, split
from dataquarantine.spark.jsonl import read_jsonl
from dataquarantine.spark.native import surely_valid
from dataquarantine.spark.references import Parent, jdbc_parents
from dataquarantine.spark.run import SparkRun, run
from dataquarantine.spark.store import WriteCounts, write_quarantine

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
    "SparkRun",
    "WriteCounts",
    "check",
    "jdbc_parents",
    "read_csv",
    "read_jsonl",
    "run",
    "split",
    "surely_valid",
    "typed_csv",
    "write_quarantine",
]
