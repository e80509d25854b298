"""``dataquarantine load`` on real PostgreSQL: orphans, violations, upsert, history, idempotency."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.integration.postgres.load_db import (
    LoadDb,
    contract_dict,
    make_load_db,
    write_contract,
)
from typer.testing import CliRunner

from dataquarantine.cli.app import app
from dataquarantine.errors import ConfigError, ContractError, LoadError
from dataquarantine.kernel.results import ErrorCode
from dataquarantine.load import LoadOptions, LoadRun, LoadSummary
from dataquarantine.load import runner as load_runner
from dataquarantine.load.checks import BatchCheck
from dataquarantine.quarantine.envelope import QuarantineFilter, TableSource
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.validation.contract import Contract

# customers 1..50, agents 1..5
GOOD = [
    ("CL1", 1, 1, 60, "open"),
    ("CL2", 2, 2, 30, "pending"),
    ("CL3", 3, None, 10, "open"),  # a NULL reference is not an orphan
]
NO_CUSTOMER = ("CL10", 999, 1, 5, "open")
NO_AGENT = ("CL11", 1, 77, 5, "open")
NO_BOTH = ("CL12", 998, 78, 5, "open")
BAD_RULE = ("CL20", 4, 1, -1, "open")
BAD_SCHEMA = ("CL21", 5, 1, 5, "lost")


@pytest.fixture
def db(pg_schema_url: str) -> LoadDb:
    return make_load_db(pg_schema_url)


@pytest.fixture
def quarantine(tmp_path: Path) -> Any:
    q = Quarantine.open(f"sqlite:///{tmp_path / 'q.db'}", f"file://{tmp_path / 'payloads'}")
    yield q
    q.close()


@pytest.fixture
def load(db: LoadDb, quarantine: Quarantine) -> Callable[..., LoadSummary]:
    def run(data: dict[str, Any] | None = None, **options: Any) -> LoadSummary:
        contract = Contract.from_dict(data or contract_dict())
        return LoadRun(contract, db.url, LoadOptions(**options)).run(quarantine)

    return run


def _target(db: LoadDb) -> dict[str, tuple[Any, ...]]:
    rows = db.rows(
        "SELECT call_log_key, customer_id, agent_id, duration_s, resolution_status,"
        " created_at, last_updated_at FROM conformed_call_logs"
    )
    return {r[0]: r[1:] for r in rows}


def test_orphans_are_quarantined_per_missing_parent(
    db: LoadDb, load: Callable[..., LoadSummary], quarantine: Quarantine
) -> None:
    db.stage([*GOOD, NO_CUSTOMER, NO_AGENT, NO_BOTH])
    summary = load()
    assert summary.counts.read == 6
    assert summary.counts.inserted == 3
    assert dict(summary.counts.quarantined) == {"fk_violation": 3}
    assert set(_target(db)) == {"CL1", "CL2", "CL3"}

    rows = db.rows(
        "SELECT source_key, table_name, issue_type, record_data, detail, resolved"
        " FROM data_quality_quarantine ORDER BY source_key"
    )
    by_key = {r[0]: r for r in rows}
    assert set(by_key) == {"CL10", "CL11", "CL12"}
    for _, table, issue, record, _, resolved in rows:
        assert (table, issue, resolved) == ("conformed_call_logs", "fk_violation", False)
        assert set(record) == {
            "call_log_key",
            "customer_id",
            "agent_id",
            "duration_s",
            "resolution_status",
        }
    missing = {k: [m["table"] for m in r[4]["missing_references"]] for k, r in by_key.items()}
    assert missing == {
        "CL10": ["customers"],
        "CL11": ["agents"],
        "CL12": ["customers", "agents"],
    }
    assert by_key["CL12"][4]["missing_references"][0]["value"] == 998

    # The same rows through the common envelope, as the review API sees them.
    records = quarantine.list(QuarantineFilter(code=ErrorCode.FK_VIOLATION))
    assert {r.source for r in records} == {
        TableSource("staging_call_logs", k) for k in ("CL10", "CL11", "CL12")
    }
    both = next(r for r in records if r.source == TableSource("staging_call_logs", "CL12"))
    assert [(v.code, v.path) for v in both.errors] == [
        (ErrorCode.FK_VIOLATION, "/customer_id"),
        (ErrorCode.FK_VIOLATION, "/agent_id"),
    ]
    assert json.loads(quarantine.payload(both))["agent_id"] == 78
    # One id in both places.
    ids = {str(r[0]) for r in db.rows("SELECT id FROM data_quality_quarantine")}
    assert ids == {str(r.id) for r in records}


def test_contract_violations_are_quarantined_with_their_codes(
    db: LoadDb, load: Callable[..., LoadSummary]
) -> None:
    db.stage([*GOOD, BAD_RULE, BAD_SCHEMA, (None, 1, 1, 5, "open")])
    summary = load()
    assert dict(summary.counts.quarantined) == {"rule_violation": 1, "schema_violation": 2}
    issues = dict(db.rows("SELECT source_key, issue_type FROM data_quality_quarantine"))
    assert issues["CL20"] == "rule_violation"
    assert issues["CL21"] == "schema_violation"
    null_key = next(k for k in issues if k.startswith("ctid:"))
    assert issues[null_key] == "schema_violation"
    assert summary.counts.read == summary.counts.loaded + summary.counts.quarantined_total


def test_upsert_keeps_created_at_and_preserves_unchanged_rows(
    db: LoadDb, load: Callable[..., LoadSummary]
) -> None:
    db.stage(GOOD)
    first = load()
    assert (first.counts.inserted, first.counts.updated, first.counts.unchanged) == (3, 0, 0)
    # Pin the audit columns so the second run's effect is visible.
    db.execute(
        "UPDATE conformed_call_logs SET created_at = '2020-01-01', last_updated_at = '2020-01-02'"
    )
    db.restage([("CL1", 1, 1, 60, "resolved"), GOOD[1], GOOD[2], ("CL4", 4, 4, 1, "open")])
    second = load()
    assert (second.counts.inserted, second.counts.updated, second.counts.unchanged) == (1, 1, 2)
    target = _target(db)
    created, updated = target["CL1"][4], target["CL1"][5]
    assert target["CL1"][3] == "resolved"
    assert created.year == 2020 and updated.year > 2020
    # Unchanged rows are left alone: last_updated_at is still the pinned value.
    assert target["CL2"][5].year == 2020 and target["CL3"][5].year == 2020
    assert target["CL4"][4] == target["CL4"][5]  # a new row: created = last updated


def test_history_rows_for_tracked_columns_only(
    db: LoadDb, load: Callable[..., LoadSummary]
) -> None:
    db.stage(GOOD)
    load(run_id="r1")
    db.restage([("CL1", 1, 3, 61, "resolved"), ("CL2", 2, 2, 99, "pending"), GOOD[2]])
    summary = load(run_id="r2")
    assert summary.counts.updated == 2
    assert summary.counts.history_rows == 2
    history = db.rows(
        "SELECT call_log_key, column_name, old_value, new_value, run_id FROM"
        " conformed_call_logs_history ORDER BY column_name"
    )
    # CL2 changed duration_s only, which is updated but not tracked.
    assert history == [
        ("CL1", "agent_id", "1", "3", "r2"),
        ("CL1", "resolution_status", "open", "resolved", "r2"),
    ]
    assert _target(db)["CL2"][2] == 99


def test_rerun_is_idempotent(
    db: LoadDb, load: Callable[..., LoadSummary], quarantine: Quarantine
) -> None:
    db.stage([*GOOD, NO_CUSTOMER, NO_BOTH, BAD_RULE])
    load()
    db.restage([("CL1", 1, 2, 60, "resolved"), *GOOD[1:], NO_CUSTOMER, NO_BOTH, BAD_RULE])
    load()

    def snapshot() -> tuple[Any, ...]:
        return (
            _target(db),
            db.rows("SELECT id, record_data FROM data_quality_quarantine ORDER BY id"),
            db.rows("SELECT call_log_key, column_name, new_value FROM conformed_call_logs_history"),
            quarantine.count(),
        )

    before = snapshot()
    again = load()
    assert (again.counts.inserted, again.counts.updated, again.counts.history_rows) == (0, 0, 0)
    assert again.counts.unchanged == 3
    assert snapshot() == before
    assert before[3] == 3 and len(before[1]) == 3 and len(before[2]) == 2


def _in_python() -> dict[str, Any]:
    """The call-logs contract with a rule that has no SQL translation: no push-down, so the
    check pass sees every row (and finds repeated keys itself)."""
    data = contract_dict()
    data["rules"] = [*data["rules"], {"id": "cl", "expr": "record.call_log_key.startsWith('CL')"}]
    return data


@pytest.mark.parametrize("pushed_down", [True, False])
def test_duplicate_keys_in_staging_last_one_wins(
    db: LoadDb, load: Callable[..., LoadSummary], pushed_down: bool
) -> None:
    db.stage([("CL1", 1, 1, 1, "open"), ("CL1", 1, 1, 2, "pending"), ("CL1", 1, 1, -5, "open")])
    summary = load(None if pushed_down else _in_python())
    # The last row breaks a rule (quarantined); of the two valid ones the later wins.
    assert (summary.counts.inserted, summary.counts.superseded) == (1, 1)
    assert dict(summary.counts.quarantined) == {"rule_violation": 1}
    assert _target(db)["CL1"][2:4] == (2, "pending")


@pytest.mark.parametrize("analyzed", [False, True], ids=["counted", "from-statistics"])
def test_batches_and_checkpoints(
    db: LoadDb, load: Callable[..., LoadSummary], analyzed: bool
) -> None:
    rows = [(f"CL{i}", 1 + i % 60, 1 + i % 5, i, "open") for i in range(2_000)]
    db.stage(rows)
    if analyzed:  # batches are then sized from the statistics' density, without a count
        db.execute("ANALYZE staging_call_logs")
        assert (
            db.scalar("SELECT reltuples FROM pg_class WHERE oid = 'staging_call_logs'::regclass")
            == 2_000
        )
    summary = load(batch_size=150)
    assert summary.batches > 5
    assert summary.counts.read == 2_000
    orphans = sum(1 for r in rows if r[1] > 50)
    assert dict(summary.counts.quarantined) == {"fk_violation": orphans}
    assert summary.counts.inserted == 2_000 - orphans
    checkpoints = db.rows(
        "SELECT batch_no, page_start, page_end, rows_read, done FROM dq_load_checkpoints"
        " WHERE run_id = %s ORDER BY batch_no",
        (summary.run_id,),
    )
    assert checkpoints[-1][4] is True
    batches = checkpoints[:-1]
    assert sum(c[3] for c in batches) == 2_000
    assert all(0 < c[3] <= 150 or c[2] - c[1] == 1 for c in batches)
    assert all(a[2] == b[1] for a, b in itertools.pairwise(batches))


def test_csv_staging_file_is_copied_and_typed(
    db: LoadDb, load: Callable[..., LoadSummary], tmp_path: Path
) -> None:
    csv_path = tmp_path / "calls.csv"
    csv_path.write_text(
        "call_log_key,customer_id,agent_id,duration_s,resolution_status\n"
        "CL1,1,1,60,open\nCL2,999,1,5,open\nCL3,2,,abc,open\n"
    )
    summary = load(staging=str(csv_path))
    assert summary.counts.read == 3
    assert dict(summary.counts.quarantined) == {"fk_violation": 1, "schema_violation": 1}
    assert _target(db)["CL1"][:4] == (1, 1, 60, "open")
    # The scratch table is dropped once the load completes.
    scratch = (
        "SELECT count(*) FROM pg_tables WHERE schemaname = %s AND tablename LIKE 'dq_staging_%%'"
    )
    assert db.scalar(scratch, (db.schema,)) == 0


CALLS_CSV = (
    "call_log_key,customer_id,agent_id,duration_s,resolution_status\n"
    "CL1,1,1,60,open\nCL2,2,1,5,open\n"
)


def test_a_staging_file_of_the_contract_loads_from_its_folder(
    db: LoadDb, quarantine: Quarantine, tmp_path: Path
) -> None:
    folder = tmp_path / "contracts"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "calls.csv").write_text(CALLS_CSV)
    path = write_contract(folder, contract_dict(staging="data/calls.csv"))
    summary = LoadRun(Contract.from_file(path), db.url).run(quarantine)
    assert summary.counts.read == 2


def test_a_staging_file_outside_the_contracts_folder_is_refused(
    db: LoadDb, quarantine: Quarantine, tmp_path: Path
) -> None:
    folder = tmp_path / "contracts"
    folder.mkdir()
    (tmp_path / "outside.csv").write_text(CALLS_CSV)
    (folder / "link.csv").symlink_to(tmp_path / "outside.csv")
    (folder / "up").symlink_to(tmp_path)
    for staging in ("link.csv", "up/outside.csv"):
        path = write_contract(folder, contract_dict(staging=staging))
        with pytest.raises(ConfigError, match="outside the contract's folder"):
            LoadRun(Contract.from_file(path), db.url).run(quarantine)
        result = CliRunner().invoke(
            app,
            ["load", "--db", db.url, "--contract", str(path),
             "--store", f"sqlite:///{tmp_path / 'q.db'}", "--payloads", f"file://{tmp_path / 'p'}"],
        )  # fmt: skip
        assert result.exit_code == 2, result.output
        assert "outside the contract's folder" in result.output
    for staging in ("../outside.csv", str(tmp_path / "outside.csv")):
        with pytest.raises(ContractError, match="contract's folder"):
            Contract.from_dict(contract_dict(staging=staging), base_dir=folder)
    assert db.scalar("SELECT count(*) FROM conformed_call_logs") == 0
    # The operator's own --staging may still name any file they can read.
    summary = LoadRun(
        Contract.from_file(write_contract(folder)),
        db.url,
        LoadOptions(staging=str(tmp_path / "outside.csv")),
    ).run(quarantine)
    assert summary.counts.read == 2


def test_missing_tables_and_columns_are_config_errors(
    db: LoadDb, load: Callable[..., LoadSummary]
) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load(contract_dict(target="no_such_table"))
    with pytest.raises(ConfigError, match="unique index"):
        load(contract_dict(conflict_key=["customer_id"], update_columns=["duration_s"],
                           track_changes=[]))  # fmt: skip
    with pytest.raises(ConfigError, match="not a non-key column"):
        load(contract_dict(update_columns=["nope"], track_changes=[]))


def test_identifier_injection_is_refused(db: LoadDb, tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="not a plain SQL identifier"):
        Contract.from_dict(contract_dict(target="x; DROP TABLE y"))
    with pytest.raises(ContractError, match="not a plain"):
        Contract.from_dict(contract_dict(conflict_key=['call_log_key"; DROP TABLE y; --']))

    bad = contract_dict()
    bad["load"]["staging"] = "staging_call_logs; DROP TABLE customers"
    path = write_contract(tmp_path, bad)
    result = CliRunner().invoke(app, ["load", "--db", db.url, "--contract", str(path)])
    assert result.exit_code == 2
    assert "not a plain SQL identifier" in result.output

    good = write_contract(tmp_path)
    result = CliRunner().invoke(
        app,
        ["load", "--db", db.url, "--contract", str(good), "--staging", "x; DROP TABLE customers",
         "--store", f"sqlite:///{tmp_path / 'q.db'}", "--payloads", f"file://{tmp_path / 'p'}"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "not a plain SQL identifier" in result.output
    assert db.scalar("SELECT count(*) FROM customers") == 50


def test_cli_json_summary(db: LoadDb, tmp_path: Path) -> None:
    db.stage([*GOOD, NO_BOTH])
    path = write_contract(tmp_path)
    store = ["--store", f"sqlite:///{tmp_path / 'q.db'}", "--payloads", f"file://{tmp_path / 'p'}"]
    args = ["load", "--db", db.url, "--contract", str(path), "--json", *store]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["read"] == 4
    assert out["loaded"] == {
        "total": 3,
        "inserted": 3,
        "updated": 0,
        "unchanged": 0,
        "superseded": 0,
    }
    assert out["quarantined"] == {"total": 1, "by_code": {"fk_violation": 1}}
    unreachable = CliRunner().invoke(
        app, [*args[:2], "postgresql://postgres@127.0.0.1:1/none", *args[3:]]
    )
    assert unreachable.exit_code == 1


def test_the_contract_can_come_from_the_registry(db: LoadDb, tmp_path: Path) -> None:
    db.stage([*GOOD, NO_BOTH])
    path = write_contract(tmp_path)
    registry = f"file://{tmp_path / 'registry'}"
    (tmp_path / "registry").mkdir()
    pushed = CliRunner().invoke(app, ["contracts", "push", str(path), "--contracts-url", registry])
    assert pushed.exit_code == 0, pushed.output
    name = yaml.safe_load(path.read_text())["name"]
    store = ["--store", f"sqlite:///{tmp_path / 'q.db'}", "--payloads", f"file://{tmp_path / 'p'}"]
    args = ["load", "--db", db.url, "--contract", name, "--contracts-url", registry, "--json"]
    result = CliRunner().invoke(app, [*args, *store])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["loaded"]["inserted"] == 3
    unknown = CliRunner().invoke(app, [*args[:4], "no_such_contract", *args[5:], *store])
    assert unknown.exit_code == 2


@pytest.mark.parametrize("pushed_down", [True, False])
def test_repeated_keys_across_batches_end_with_the_last_row(
    db: LoadDb, load: Callable[..., LoadSummary], pushed_down: bool
) -> None:
    rows = [(f"CL{i % 400}", 1, 1, i, "open") for i in range(1_000)]
    db.stage(rows)
    summary = load(None if pushed_down else _in_python(), batch_size=150)
    c = summary.counts
    assert (c.read, c.loaded, c.inserted) == (1_000, 1_000, 400)
    assert c.updated + c.unchanged + c.superseded == 600
    durations = {k: v[2] for k, v in _target(db).items()}
    assert durations == {f"CL{i % 400}": i for i in range(600, 1_000)}


def test_parquet_staging_with_timestamps_and_nulls(
    db: LoadDb, quarantine: Quarantine, tmp_path: Path
) -> None:
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    db.execute(
        "CREATE TABLE events (event_id text PRIMARY KEY, at timestamptz NOT NULL, note text,"
        " created_at timestamptz, last_updated_at timestamptz)"
    )
    at = dt.datetime(2025, 9, 29, 18, 6, tzinfo=dt.UTC)
    table = pa.table(
        {
            "event_id": ["E1", "E2", "E3"],
            "at": pa.array([at, at, None], pa.timestamp("us", tz="UTC")),
            "note": ["hello", None, "x"],
        }
    )
    path = tmp_path / "events.parquet"
    pq.write_table(table, path)
    contract = Contract.from_dict(
        {
            "name": "events",
            "version": "1.0.0",
            "schema": {
                "type": "object",
                "required": ["event_id", "at"],
                "properties": {
                    "event_id": {"type": "string"},
                    "at": {"type": "string", "format": "date-time"},
                    "note": {"type": "string"},  # optional: a NULL is an absent property
                },
            },
            "load": {"staging": path.name, "target": "events", "conflict_key": ["event_id"]},
        },
        base_dir=tmp_path,
    )
    summary = LoadRun(contract, db.url).run(quarantine)
    assert (summary.counts.inserted, dict(summary.counts.quarantined)) == (
        2,
        {"schema_violation": 1},
    )
    rows = db.rows("SELECT event_id, at, note FROM events ORDER BY event_id")
    assert rows == [("E1", at, "hello"), ("E2", at, None)]
    (record,) = quarantine.list()
    assert record.source == TableSource("events.parquet", "E3")
    assert [v.path for v in record.errors] == ["/at"]


def test_jsonl_staging_file(db: LoadDb, load: Callable[..., LoadSummary], tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    lines = [
        {"call_log_key": "CL1", "customer_id": 1, "agent_id": 2, "duration_s": 7,
         "resolution_status": "open"},
        {"call_log_key": "CL2", "customer_id": 1, "duration_s": 8, "resolution_status": "a\\b"},
        {"call_log_key": "CL3", "customer_id": 1234, "duration_s": 9, "resolution_status": "open"},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + "\n")
    summary = load(staging=str(path))
    assert summary.counts.read == 3
    assert dict(summary.counts.quarantined) == {"fk_violation": 1, "schema_violation": 1}
    assert _target(db)["CL1"][:4] == (1, 2, 7, "open")
    # The backslash reached the engine (and the quarantine) untouched.
    record = db.scalar("SELECT record_data FROM data_quality_quarantine WHERE source_key = 'CL2'")
    assert record["resolution_status"] == "a\\b"


def test_a_load_into_a_filled_target_switches_to_the_upsert(
    db: LoadDb, load: Callable[..., LoadSummary]
) -> None:
    db.stage([(f"CL{i}", 1, 1, i, "open") for i in range(300)])
    first = load(batch_size=100)
    assert first.counts.inserted == 300
    # The second run meets existing keys in its first batch: it rolls back the plain insert
    # and upserts, for that batch and the rest, with the same counts as an upsert alone.
    db.restage([(f"CL{i}", 1, 2 if i % 2 else 1, i, "open") for i in range(400)])
    second = load(batch_size=100)
    c = second.counts
    assert (c.inserted, c.updated, c.unchanged, c.history_rows) == (100, 150, 150, 150)
    assert db.scalar("SELECT count(*) FROM conformed_call_logs") == 400


@pytest.mark.parametrize("filled", [False, True], ids=["plain-insert", "upsert"])
def test_a_staging_table_changed_between_the_passes_fails_the_batch(
    db: LoadDb, load: Callable[..., LoadSummary], monkeypatch: pytest.MonkeyPatch, filled: bool
) -> None:
    rows = [(f"CL{i}", 1, 1, i, "open") for i in range(10)]
    db.stage(rows)
    if filled:
        load()
        db.restage([(k, c, 2, d, s) for k, c, _, d, s in rows])
    check_batch = load_runner.check_batch

    def check_then_delete(*args: Any, **kwargs: Any) -> BatchCheck:
        # Between the check pass and the write pass of the batch.
        check = check_batch(*args, **kwargs)
        db.execute("DELETE FROM staging_call_logs WHERE call_log_key = 'CL3'")
        return check

    monkeypatch.setattr(load_runner, "check_batch", check_then_delete)
    with pytest.raises(LoadError, match="the staging table changed during the load"):
        load()
    # The batch rolled back: the target is as it was.
    assert db.scalar("SELECT count(*) FROM conformed_call_logs") == (10 if filled else 0)
    assert db.scalar("SELECT count(*) FROM conformed_call_logs WHERE agent_id = 2") == 0
