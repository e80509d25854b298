"""The driver's memory stays flat as the input grows: ``split`` and the writes of both frames
on N and on 4N rows leave the driver's Python RSS and its JVM heap (after a collection) where
they were. Nothing is collected to the driver: 4N rows held there would cost tens of MB."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from tests.fixtures.spark import require_spark

require_spark()

from dataquarantine.spark import split
from dataquarantine.validation.contract import Contract

N = 25_000
#: What the driver may grow by between the N and the 4N runs (noise: allocator, py4j).
PYTHON_SLACK_MB = 16
JVM_SLACK_MB = 32

CONTRACT = Contract.from_dict(
    {
        "name": "flat",
        "version": "1.0.0",
        "schema": {
            "type": "object",
            "required": ["id", "name"],
            "properties": {"id": {"type": "integer"}, "name": {"type": "string", "pattern": "^n"}},
        },
        # a rule: no native tier, every row crosses into the Python workers
        "rules": [{"id": "even", "expr": "record.id % 20 != 7"}],
    }
)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _jvm_used_mb(spark: Any) -> float:
    jvm = spark.sparkContext._jvm
    jvm.java.lang.System.gc()
    runtime = jvm.java.lang.Runtime.getRuntime()
    return float(runtime.totalMemory() - runtime.freeMemory()) / 2**20


def _parquet(path: Path, n: int) -> Path:
    names = [f"n{i:09d}" if i % 50 else f"x{i}" for i in range(n)]
    pq.write_table(pa.table({"id": pa.array(range(n), pa.int64()), "name": names}), path)
    return path


def _run(spark: Any, source: Path, out: Path) -> tuple[float, float]:
    """Driver growth of one split + writes: (Python RSS MB, JVM heap MB after a GC)."""
    gc.collect()
    rss, heap = _rss_mb(), _jvm_used_mb(spark)
    valid, quarantine = split(spark.read.parquet(str(source)), CONTRACT, run_id="flat")
    valid.write.parquet(str(out / "valid"))
    quarantine.write.parquet(str(out / "quarantine"))
    gc.collect()
    return _rss_mb() - rss, _jvm_used_mb(spark) - heap


def test_driver_memory_does_not_grow_with_the_input(spark: Any, tmp_path: Path) -> None:
    small = _parquet(tmp_path / "small.parquet", N)
    large = _parquet(tmp_path / "large.parquet", 4 * N)
    _run(spark, small, tmp_path / "warm-up")  # first use: classes, workers, py4j objects
    py_small, jvm_small = _run(spark, small, tmp_path / "small")
    py_large, jvm_large = _run(spark, large, tmp_path / "large")
    assert py_large <= max(py_small, 0) + PYTHON_SLACK_MB, (py_small, py_large)
    assert jvm_large <= max(jvm_small, 0) + JVM_SLACK_MB, (jvm_small, jvm_large)
    rows = spark.read.parquet(str(tmp_path / "large" / "quarantine")).count()
    assert rows == 4 * N // 50 + 4 * N // 20  # the writes did happen (names, then the rule)
