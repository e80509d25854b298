"""Foreign keys on Spark against parent DataFrames: ``fk_violation`` first, with the load's
message and path, merged with the engine's own violations; null references are no orphans."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.fixtures.spark import require_spark

require_spark()

from tests.unit.spark.differential import engine_verdict, spark_verdict

from dataquarantine.errors import ConfigError
from dataquarantine.spark import ERRORS, Parent, check, read_jsonl, split
from dataquarantine.spark.references import key_text
from dataquarantine.validation.contract import Contract

CONTRACT: dict[str, Any] = {
    "name": "call_logs",
    "version": "1.0.0",
    "schema": {
        "type": "object",
        "required": ["call_log_key", "customer_id"],
        "properties": {
            "call_log_key": {"type": "string"},
            "customer_id": {"type": "integer"},
            "agent_id": {"type": "integer"},
            "duration_s": {"type": "integer", "minimum": 0},
        },
    },
    "references": [
        {"field": "customer_id", "table": "customers", "column": "customer_id"},
        {"field": "agent_id", "table": "agents", "column": "agent_id"},
    ],
}

ROWS = [
    ("CL1", 1, 1, 60),  # valid
    ("CL2", 2, None, 30),  # a null reference is no orphan
    ("CL3", 999, 1, 5),  # no customer
    ("CL4", 1, 77, 5),  # no agent
    ("CL5", 998, 78, 5),  # neither
    ("CL6", 997, 1, -1),  # no customer and a schema violation
    ("CL7", 3, 2, -2),  # a schema violation only
]


def _orphan(field: str, value: Any, table: str) -> tuple[Any, ...]:
    message = f"{field} {value!r} has no parent row in {table}.{field}"
    return ("fk_violation", f"/{field}", message, None, "references", "error")


MINIMUM = (
    "schema_violation",
    "/duration_s",
    "{value} is less than the minimum of 0",
    None,
    "minimum",
    "error",
)


def _minimum(value: int) -> tuple[Any, ...]:
    return (*MINIMUM[:2], MINIMUM[2].format(value=value), *MINIMUM[3:])


EXPECTED = {
    "CL1": (True, ()),
    "CL2": (True, ()),
    "CL3": (False, (_orphan("customer_id", 999, "customers"),)),
    "CL4": (False, (_orphan("agent_id", 77, "agents"),)),
    "CL5": (
        False,
        (_orphan("customer_id", 998, "customers"), _orphan("agent_id", 78, "agents")),
    ),
    "CL6": (False, (_orphan("customer_id", 997, "customers"), _minimum(-1))),
    "CL7": (False, (_minimum(-2),)),
}


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract.from_dict(CONTRACT)


@pytest.fixture
def calls(spark: Any, tmp_path: Path) -> Any:
    columns = list(zip(*ROWS, strict=True))
    table = pa.table(
        {
            "call_log_key": pa.array(columns[0], pa.string()),
            "customer_id": pa.array(columns[1], pa.int64()),
            "agent_id": pa.array(columns[2], pa.int32()),
            "duration_s": pa.array(columns[3], pa.int32()),
        }
    )
    pq.write_table(table, tmp_path / "calls.parquet")
    return spark.read.parquet(str(tmp_path / "calls.parquet"))


def _parents(spark: Any, broadcast: bool | None) -> dict[str, Any]:
    customers = spark.createDataFrame(
        [(i, f"c{i}") for i in range(1, 51)], "customer_id long, n string"
    )
    agents = spark.createDataFrame([(i,) for i in range(1, 6)] + [(None,)], "agent_id int")
    return {"customers": Parent(customers, broadcast), "agents": Parent(agents, broadcast)}


def _verdicts(frame: Any) -> dict[str, tuple[bool, tuple[Any, ...]]]:
    out = {}
    for row in frame.collect():
        valid, errors, _ = spark_verdict(row)
        out[row["call_log_key"]] = (valid, errors)
    return out


@pytest.mark.parametrize("broadcast", [None, True])
def test_orphans_get_fk_violation_before_their_own_violations(
    spark: Any, calls: Any, contract: Contract, broadcast: bool | None
) -> None:
    checked = check(calls, contract, references=_parents(spark, broadcast))
    assert _verdicts(checked) == EXPECTED


def test_a_broadcast_hint_plans_a_broadcast_join(
    spark: Any, calls: Any, contract: Contract
) -> None:
    valid, _ = split(calls, contract, references=_parents(spark, True))
    plan = valid._jdf.queryExecution().executedPlan().toString()
    assert "BroadcastHashJoin" in plan or "BroadcastExchange" in plan


def test_split_quarantines_orphans_and_keeps_the_rest(
    spark: Any, calls: Any, contract: Contract
) -> None:
    parents = {
        "customers": _parents(spark, None)["customers"].frame,
        "agents": _parents(spark, None)["agents"],
    }
    tracker = spark.sparkContext.statusTracker()
    before = set(tracker.getJobIdsForGroup())
    valid, quarantine = split(calls, contract, references=parents, run_id="r1")
    assert set(tracker.getJobIdsForGroup()) == before, "split ran a Spark job"
    assert sorted(r["call_log_key"] for r in valid.collect()) == ["CL1", "CL2"]
    assert valid.columns == calls.columns
    bad = {r["call_log_key"]: r for r in quarantine.collect()}
    assert set(bad) == {"CL3", "CL4", "CL5", "CL6", "CL7"}
    assert all(r["_dq_id"] and r["_dq_payload"] for r in bad.values())
    assert [e["code"] for e in bad["CL5"][ERRORS]] == ["fk_violation", "fk_violation"]


def test_without_references_foreign_keys_are_not_checked(calls: Any, contract: Contract) -> None:
    valid, _ = split(calls, contract)
    assert sorted(r["call_log_key"] for r in valid.collect()) == ["CL1", "CL2", "CL3", "CL4", "CL5"]


def test_differing_types_are_compared_as_text(spark: Any, calls: Any, contract: Contract) -> None:
    customers = spark.createDataFrame([(str(i),) for i in range(1, 51)], "customer_id string")
    agents = spark.createDataFrame([(i,) for i in range(1, 6)], "agent_id long")
    checked = check(calls, contract, references={"customers": customers, "agents": agents})
    assert _verdicts(checked) == EXPECTED


def test_bad_references_are_config_errors(
    spark: Any, calls: Any, contract: Contract, tmp_path: Path
) -> None:
    customers = spark.createDataFrame([(1,)], "customer_id long")
    with pytest.raises(ConfigError, match="no parent rows given for table 'agents'"):
        split(calls, contract, references={"customers": customers})
    with pytest.raises(ConfigError, match=r"agents\.agent_id is not a column"):
        split(calls, contract, references={"customers": customers, "agents": customers})


LINES = [
    b'{"call_log_key": "CL1", "customer_id": 1, "agent_id": 1}',
    b'{"call_log_key": "CL2", "customer_id": 2, "agent_id": null}',  # null: no orphan
    b'{"call_log_key": "CL3", "customer_id": 999}',  # agent absent: no orphan
    b'{"call_log_key": "CL4", "customer_id": 998, "agent_id": 77, "duration_s": -1}',
    b'{"call_log_key": "CL5", "customer_id": "1"}',  # a string: the schema says no, parent yes
    b'{"call_log_key": "CL6", "customer_id": "abc"}',  # a string and an orphan
    b'{"call_log_key": "CL7", "customer_id": 1.5}',  # a number that matches no key
    b'{"call_log_key": "CL8", "customer_id": 997, "customer_id": 1}',  # duplicate key
    b'{"call_log_key": "CL9", "customer_id": 996',  # broken: a parse_error only
    b'{"call_log_key": "CL10", "customer_id": [999]}',
    b'["CL11", 999]',
]


def test_json_lines_references_are_the_engines_values(
    spark: Any, contract: Contract, tmp_path: Path
) -> None:
    path = tmp_path / "calls.jsonl"
    path.write_bytes(b"\n".join(LINES) + b"\n")
    customers = spark.createDataFrame([(i,) for i in range(1, 51)], "customer_id long")
    agents = spark.createDataFrame([(i,) for i in range(1, 6)], "agent_id int")
    parents = {"customers": customers, "agents": Parent(agents, True)}
    rows = check(read_jsonl(spark, str(path)), contract, references=parents).collect()
    got = {bytes(r["value"]).rstrip(b"\n"): spark_verdict(r)[:2] for r in rows}
    keys = {"customers": {str(i) for i in range(1, 51)}, "agents": {str(i) for i in range(1, 6)}}
    expected = {}
    for line in LINES:  # the engine's verdict, with an fk_violation first per orphan
        result = contract.validate(line)
        errors = tuple(engine_verdict(result)[1])
        value = _decoded(line)
        orphans = []
        for spec in contract.spec.references:
            v = value.get(spec.field_column) if isinstance(value, dict) else None
            if v is not None and key_text(v) not in keys[spec.table]:
                o = spec.orphan(v)
                orphans.append((o.code.value, o.path, o.message, None, "references", "error"))
        expected[line] = (not orphans and result.valid, (*orphans, *errors))
    assert got == expected
    assert (
        expected[LINES[5]][1][0][2]
        == "customer_id 'abc' has no parent row in customers.customer_id"
    )


def _decoded(line: bytes) -> Any:
    try:
        return json.loads(line, object_pairs_hook=dict)
    except ValueError:
        return None
