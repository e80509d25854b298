"""The Spark store writer with SQLite: allowed on a local master (the Python workers take the
file's write lock in turn), refused for ``:memory:`` and for a cluster; relative paths are made
absolute for the executors."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from tests.fixtures.spark import require_spark

require_spark()

from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR, write_jsonl
from dataquarantine.errors import ConfigError
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.spark import read_jsonl, run, split, write_quarantine
from dataquarantine.spark.store import StoreTarget, check_target
from dataquarantine.validation.contract import Contract


def test_sqlite_on_a_local_master_stores_each_record_once(spark: Any, tmp_path: Path) -> None:
    contract = Contract.from_file(DEMO_CONTRACTS_DIR / "user_event-1.1.0.yaml")
    path = tmp_path / "events.jsonl"
    write_jsonl(path, 300, bad_ratio=0.2, seed=9)
    df = read_jsonl(spark, str(path), split_bytes=10_000)  # several partitions, two writers
    store, payloads = f"sqlite:///{tmp_path / 'q.db'}", f"file://{tmp_path / 'p'}"
    got = run(df, contract, store=store, payloads=payloads, run_id="r1")
    assert got.reconciles and got.quarantined > 30
    assert got.by_contract == {"user_event@1.1.0": (got.total, got.valid, got.quarantined)}
    _, quarantine = split(df, contract, run_id="r2")
    again = write_quarantine(quarantine, store=store, payloads=payloads)
    assert (again.rows, again.inserted) == (got.quarantined, 0)
    with Quarantine.open(store, payloads) as stored:
        assert stored.count() == got.quarantined
        assert {r.run_id for r in stored.iter()} == {"r1"}
        assert all(data for _, data in stored.iter_payloads())


def test_relative_paths_become_absolute(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    target = check_target(spark, StoreTarget("sqlite:///q.db", "file://payloads"))
    assert target.store == f"sqlite:///{tmp_path / 'q.db'}"
    assert target.payloads == f"file://{tmp_path / 'payloads'}"
    plain = check_target(spark, StoreTarget("sqlite:///q.db", "payloads"))
    assert plain.payloads == target.payloads


@pytest.mark.parametrize(
    ("master", "store", "message"),
    [
        ("local[2]", "sqlite:///:memory:", "memory"),
        ("spark://cluster:7077", "sqlite:///q.db", "single writer"),
        ("yarn", "sqlite:///q.db", "postgresql://"),
    ],
)
def test_sqlite_refused_where_executors_cannot_share_it(
    tmp_path: Path, master: str, store: str, message: str
) -> None:
    fake = SimpleNamespace(sparkContext=SimpleNamespace(master=master))
    with pytest.raises(ConfigError, match=message):
        check_target(fake, StoreTarget(store, str(tmp_path / "p")))  # type: ignore[arg-type]


def test_a_frame_that_is_not_a_quarantine_frame_is_refused(spark: Any, tmp_path: Path) -> None:
    df = spark.createDataFrame([(1,)], "x long")
    with pytest.raises(ConfigError, match="not a quarantine frame"):
        write_quarantine(df, store=f"sqlite:///{tmp_path / 'q.db'}", payloads=str(tmp_path))
