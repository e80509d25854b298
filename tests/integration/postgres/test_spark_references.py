"""Foreign keys on Spark against PostgreSQL tables read over JDBC, differential against the load:
the same staged rows give the same quarantined keys, violations and missing references."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.fixtures.spark import POSTGRESQL_JDBC_JAR, require_spark

require_spark()

from tests.integration.postgres.load_db import (
    CALL_COLUMNS,
    LoadDb,
    contract_dict,
    make_load_db,
)

from dataquarantine.load import LoadOptions, LoadRun
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.spark import ERRORS, jdbc_parents, split
from dataquarantine.spark.columns import VIOLATION_FIELDS
from dataquarantine.validation.contract import Contract

# customers 1..50, agents 1..5 (load_db)
ROWS = [
    ("CL1", 1, 1, 60, "open"),
    ("CL2", 2, None, 30, "pending"),  # a null reference is no orphan
    ("CL3", 999, 1, 5, "open"),
    ("CL4", 1, 77, 5, "open"),
    ("CL5", 998, 78, 5, "open"),
    ("CL6", 997, 1, -1, "lost"),  # an orphan that also breaks a rule and the schema
    ("CL7", 3, 2, 5, "lost"),
    *((f"CL{n}", n % 60 + 1, n % 7 + 1, n, "resolved") for n in range(100, 400)),
]


@pytest.fixture
def db(pg_schema_url: str) -> Iterator[LoadDb]:
    if not os.path.exists(POSTGRESQL_JDBC_JAR):
        missing = f"no PostgreSQL JDBC driver at {POSTGRESQL_JDBC_JAR}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(missing, pytrace=False)
        pytest.skip(missing)
    yield make_load_db(pg_schema_url)


def _jdbc_url(db: LoadDb) -> str:
    parts = urlsplit(db.base)
    return (
        f"jdbc:postgresql://{parts.hostname}:{parts.port or 5432}{parts.path}"
        f"?user={parts.username or 'postgres'}&currentSchema={db.schema}"
    )


def _parquet(path: Path) -> Path:
    columns = list(zip(*ROWS, strict=True))
    types = (pa.string(), pa.int64(), pa.int32(), pa.int32(), pa.string())
    arrays = [pa.array(c, t) for c, t in zip(columns, types, strict=True)]
    pq.write_table(pa.table(dict(zip(CALL_COLUMNS, arrays, strict=True))), path)
    return path


def _load_verdicts(db: LoadDb, tmp_path: Path) -> dict[str, tuple[Any, ...]]:
    db.stage(ROWS)
    contract = Contract.from_dict(contract_dict())
    q = Quarantine.open(f"sqlite:///{tmp_path / 'q.db'}", f"file://{tmp_path / 'payloads'}")
    try:
        LoadRun(contract, db.url, LoadOptions()).run(q)
    finally:
        q.close()
    out = {}
    for key, detail in db.rows("SELECT source_key, detail FROM data_quality_quarantine"):
        errors = tuple(
            (e["code"], e["path"], e["message"], e.get("rule"), e.get("keyword"))
            for e in detail["errors"]
        )
        out[key] = (errors, tuple(detail["missing_references"]))
    return out


def test_jdbc_parents_give_the_loads_verdicts(spark: Any, db: LoadDb, tmp_path: Path) -> None:
    contract = Contract.from_dict(contract_dict())
    parents = jdbc_parents(spark, _jdbc_url(db), contract.spec.references)
    assert {t: p.broadcast for t, p in parents.items()} == {"customers": True, "agents": True}
    calls = spark.read.parquet(str(_parquet(tmp_path / "calls.parquet")))
    _, quarantine = split(calls, contract, references=parents)
    got = {}
    for row in quarantine.collect():
        errors = [tuple(e[f] for f in VIOLATION_FIELDS) for e in row[ERRORS]]
        fks = [e for e in errors if e[0] == "fk_violation"]
        missing = tuple(
            spec.missing(row[spec.field_column])
            for spec in contract.spec.references
            if any(e[1] == spec.path for e in fks)
        )
        got[row["call_log_key"]] = (tuple(e[:5] for e in errors), missing)
    expected = _load_verdicts(db, tmp_path)
    assert {"CL3", "CL4", "CL5", "CL6", "CL7"} <= set(expected)
    assert got == expected


def test_a_large_parent_is_left_to_the_planner(spark: Any, db: LoadDb) -> None:
    contract = Contract.from_dict(contract_dict())
    parents = jdbc_parents(spark, _jdbc_url(db), contract.spec.references, broadcast_rows=10)
    assert {t: p.broadcast for t, p in parents.items()} == {"customers": False, "agents": True}
