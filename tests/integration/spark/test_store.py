"""The Spark store writer against PostgreSQL: the store holds what the default engine stores
for the same input, a retried task and a re-run write nothing twice, and the run reconciles."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.spark import require_spark

require_spark()

import pyarrow as pa
import pyarrow.parquet as pq

from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR, write_jsonl
from dataquarantine.quarantine.envelope import FileSource, QuarantineRecord
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.runner import ValidationRun
from dataquarantine.spark import read_jsonl, split
from dataquarantine.spark.run import run
from dataquarantine.spark.store import write_quarantine
from dataquarantine.validation.contract import Contract
from dataquarantine.validation.registry import ContractRegistry, Router

pytestmark = pytest.mark.postgres

ORDERS: dict[str, Any] = {
    "name": "orders",
    "version": "1.0.0",
    "schema": {
        "type": "object",
        "required": ["id", "sku"],
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "sku": {"type": "string", "pattern": "^SKU-[0-9]{3}$"},
            "qty": {"type": "integer", "maximum": 10},
        },
    },
}


def _parquet(path: Path, n: int = 300) -> Path:
    rows = [
        {
            "id": i if i % 17 else -i,
            "sku": f"SKU-{i % 1000:03d}" if i % 11 else "bad",
            "qty": i % 12,
        }
        for i in range(1, n + 1)
    ]
    schema = pa.schema([("id", pa.int64()), ("sku", pa.string()), ("qty", pa.int64())])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, row_group_size=64)
    return path


def _default_engine(contract: Contract, inputs: list[str], store: str, payloads: Path) -> Any:
    registry = ContractRegistry()
    registry.add(contract)
    with Quarantine.open(store, str(payloads)) as quarantine:
        run_ = ValidationRun(
            Router(registry, contract=str(contract.ref)), quarantine, remediate=False
        )
        return run_.run(inputs)


def _stored(store: str, payloads: Path) -> dict[str, tuple[Any, ...]]:
    """Every stored record by id: source, errors, contract, payload bytes."""
    with Quarantine.open(store, str(payloads)) as quarantine:
        return {
            str(r.id): (r.source, r.errors, r.contract, r.contract_version, data)
            for r, data in quarantine.iter_payloads()
        }


def _records(store: str, payloads: Path) -> list[QuarantineRecord]:
    with Quarantine.open(store, str(payloads)) as quarantine:
        return list(quarantine.iter())


def test_parquet_store_contents_equal_the_default_engines(
    spark: Any, tmp_path: Path, pg_schema_url_factory: Any
) -> None:
    contract = Contract.from_dict(ORDERS)
    path = _parquet(tmp_path / "orders.parquet")
    default_store, spark_store = pg_schema_url_factory(), pg_schema_url_factory()
    summary = _default_engine(contract, [str(path)], default_store, tmp_path / "p1")
    got = run(
        spark.read.parquet(str(path)),
        contract,
        store=spark_store,
        payloads=str(tmp_path / "p2"),
        valid_out=str(tmp_path / "valid"),
    )
    assert (got.total, got.valid, got.quarantined) == (
        summary.total,
        summary.valid,
        summary.quarantined,
    )
    assert got.reconciles and got.quarantined > 20
    assert got.by_code == dict(summary.by_code)
    assert got.violations_by_code == dict(summary.violations_by_code)
    assert _stored(spark_store, tmp_path / "p2") == _stored(default_store, tmp_path / "p1")
    assert spark.read.parquet(str(tmp_path / "valid")).count() == summary.valid


def test_jsonl_records_are_stored_by_offset_with_the_default_engines_bytes(
    spark: Any, tmp_path: Path, pg_schema_url: str
) -> None:
    contract = Contract.from_file(DEMO_CONTRACTS_DIR / "user_event-1.1.0.yaml")
    path = tmp_path / "events.jsonl"
    write_jsonl(path, 400, bad_ratio=0.2, seed=3)
    df = read_jsonl(spark, str(path), split_bytes=8192)
    _, quarantine = split(df, contract, run_id="r1")
    counts = write_quarantine(quarantine, store=pg_schema_url, payloads=str(tmp_path / "p"))
    records = _records(pg_schema_url, tmp_path / "p")
    assert counts.rows == counts.inserted == len(records) > 50
    data = path.read_bytes()
    stored = _stored(pg_schema_url, tmp_path / "p")
    for record in records:
        source = record.source
        assert isinstance(source, FileSource) and source.line is None
        assert source.offset is not None and source.uri == path.resolve().as_uri()
        line = data[source.offset :].split(b"\n", 1)[0]
        assert stored[str(record.id)][-1] == line  # the line's bytes, byte for byte
        assert record.run_id == "r1" and record.contract == "user_event"
    again = write_quarantine(quarantine, store=pg_schema_url, payloads=str(tmp_path / "p"))
    assert (again.rows, again.inserted) == (counts.rows, 0)
    assert len(_records(pg_schema_url, tmp_path / "p")) == len(records)


def _failing_once(marks: Path, batches: Iterator[Any]) -> Iterator[Any]:
    """Passes rows on in slices of 10; the first attempt of each task fails after 60 rows
    (and leaves a mark), when the store stage downstream has written some of them."""
    from pyspark import TaskContext

    context = TaskContext.get()
    assert context is not None
    first = context.attemptNumber() == 0
    passed = 0
    for batch in batches:
        for start in range(0, batch.num_rows, 10):
            yield batch.slice(start, 10)
            passed += 10
            if first and passed >= 60:
                (marks / f"failed-{context.partitionId()}").touch()
                raise RuntimeError("injected failure of a first attempt")


def test_a_retried_task_and_a_rerun_write_each_record_once(
    spark: Any, tmp_path: Path, pg_schema_url_factory: Any
) -> None:
    contract = Contract.from_file(DEMO_CONTRACTS_DIR / "user_event-1.1.0.yaml")
    path = tmp_path / "events.jsonl"
    write_jsonl(path, 600, bad_ratio=0.3, seed=5)
    clean_store, flaky_store = pg_schema_url_factory(), pg_schema_url_factory()
    clean = run(
        read_jsonl(spark, str(path)),
        contract,
        store=clean_store,
        payloads=str(tmp_path / "p"),
        run_id="clean",
    )
    expected = {str(r.id) for r in _records(clean_store, tmp_path / "p")}
    assert len(expected) == clean.quarantined > 100
    marks = tmp_path / "marks"
    marks.mkdir()
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "10")
    try:
        df = read_jsonl(spark, str(path), split_bytes=40_000)
        flaky = df.mapInArrow(functools.partial(_failing_once, marks), df.schema)
        got = run(
            flaky,
            contract,
            store=flaky_store,
            payloads=str(tmp_path / "p"),
            valid_out=str(tmp_path / "valid"),
            valid_format="jsonl",
            run_id="flaky",
            max_chunk_bytes=1,
        )
    finally:
        spark.conf.unset("spark.sql.execution.arrow.maxRecordsPerBatch")
    assert len(list(marks.iterdir())) >= 2, "first attempts failed and were retried"
    assert (got.total, got.valid, got.quarantined) == (clean.total, clean.valid, clean.quarantined)
    assert {str(r.id) for r in _records(flaky_store, tmp_path / "p")} == expected
    assert _stored(flaky_store, tmp_path / "p") == _stored(clean_store, tmp_path / "p")
    valid = b"".join(p.read_bytes() for p in sorted((tmp_path / "valid").glob("part-*")))
    assert valid.count(b"\n") == clean.valid

    again = run(
        read_jsonl(spark, str(path)),
        contract,
        store=clean_store,
        payloads=str(tmp_path / "p"),
        run_id="again",
    )
    assert again.quarantined == clean.quarantined
    records = _records(clean_store, tmp_path / "p")
    assert {str(r.id) for r in records} == expected
    assert {r.run_id for r in records} == {"clean"}, "a re-run adds nothing"
