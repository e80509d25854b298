"""``validate --engine spark`` end to end: the same ``--json`` counts as the default engine,
the valid output, and ``quarantine list/show`` on the records it stored."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.spark import require_spark

require_spark()

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from dataquarantine.cli.app import app
from dataquarantine.cli.common import open_contracts, settings_from
from dataquarantine.cli.spark import validate_on_spark
from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR, write_jsonl
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.runner import ValidationRun
from dataquarantine.validation.registry import Router

pytestmark = pytest.mark.postgres

#: What differs between two runs of the same input, whatever the engine.
RUN_FIELDS = ("run_id", "seconds", "records_per_second", "inputs")


def _validate(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["validate", "--json", *args])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return {k: v for k, v in doc.items() if k not in RUN_FIELDS}


def _offset(item: dict[str, Any]) -> int:
    return int(item["source"]["offset"])


def _stores(tmp_path: Path, url: str, name: str) -> list[str]:
    return ["--store", url, "--payloads", f"file://{tmp_path / name}"]


def test_jsonl_counts_equal_the_default_engines_and_records_are_browsable(
    spark: Any, tmp_path: Path, pg_schema_url_factory: Any
) -> None:
    events = tmp_path / "in"
    events.mkdir()
    write_jsonl(events / "a.jsonl", 300, bad_ratio=0.2, seed=11)
    write_jsonl(events / "b.jsonl", 200, bad_ratio=0.2, seed=12)
    (events / "c.jsonl").write_bytes(b'{"broken\n\n{"_schema": "user_event"}\n')
    common = ["--contracts", str(DEMO_CONTRACTS_DIR), "--contract", "user_event@1.1.0"]
    common.append("--no-remediate")
    default_url, spark_url = pg_schema_url_factory(), pg_schema_url_factory()
    inputs = [str(events / n) for n in ("a.jsonl", "b.jsonl", "c.jsonl")]
    default = _validate(*common, *_stores(tmp_path, default_url, "p1"), *inputs)
    valid_out = tmp_path / "valid"
    got = _validate(
        "--engine", "spark", *common, *_stores(tmp_path, spark_url, "p2"),
        "--valid-out", str(valid_out), str(events),
    )  # fmt: skip
    assert got == default
    assert got["reconciles"] and got["quarantined"] > 50 and got["by_code"]["parse_error"] >= 1
    lines = b"".join(p.read_bytes() for p in sorted(valid_out.glob("part-*"))).splitlines()
    originals = set(
        b"".join((events / n).read_bytes() for n in ("a.jsonl", "b.jsonl")).split(b"\n")
    )
    assert len(lines) == got["valid"] and set(lines) <= originals

    runner = CliRunner()
    listed = runner.invoke(
        app,
        ["quarantine", "list", "--json", "--limit", "1000", *_stores(tmp_path, spark_url, "p2")],
    )
    assert listed.exit_code == 0, listed.output
    page = json.loads(listed.stdout)
    assert page["total"] == got["quarantined"] == len(page["items"])
    uri = (events / "c.jsonl").as_uri()
    mine = sorted((i for i in page["items"] if i["source"]["uri"] == uri), key=_offset)
    assert [i["source"] for i in mine] == [
        {"kind": "file", "uri": uri, "offset": 0},
        {"kind": "file", "uri": uri, "offset": 10},
    ]
    broken = mine[0]
    assert broken["error_code"] == "parse_error"
    shown = runner.invoke(
        app, ["quarantine", "show", broken["id"], "--json", *_stores(tmp_path, spark_url, "p2")]
    )
    assert shown.exit_code == 0, shown.output
    assert base64.b64decode(json.loads(shown.stdout)["payload_b64"]) == b'{"broken'
    by_source = ["quarantine", "list", "--source", uri, *_stores(tmp_path, spark_url, "p2")]
    found = runner.invoke(app, [*by_source, "--json"])
    assert found.exit_code == 0 and json.loads(found.stdout)["total"] == 2
    assert runner.invoke(app, by_source).exit_code == 0  # the table shows offsets too


def test_routed_by_schema_field_like_the_default_engine(
    spark: Any, tmp_path: Path, pg_schema_url_factory: Any
) -> None:
    events = tmp_path / "events.jsonl"
    write_jsonl(events, 400, bad_ratio=0.2, seed=21)
    with events.open("ab") as out:
        out.write(b'{"_schema": "nope", "x": 1}\n{"x": 2}\n[1]\n{"_schema": "user_event@1.0.0"}\n')
    common = ["--contracts", str(DEMO_CONTRACTS_DIR), "--no-remediate", str(events)]
    default_url, spark_url = pg_schema_url_factory(), pg_schema_url_factory()
    default = _validate(*common, *_stores(tmp_path, default_url, "p1"))
    got = _validate("--engine", "spark", *common, *_stores(tmp_path, spark_url, "p2"))
    assert got == default
    assert got["by_code"]["schema_not_found"] >= 3 and len(got["by_contract"]) >= 3
    assert "(none)" in got["by_contract"]
    listed = CliRunner().invoke(
        app,
        ["quarantine", "list", "--json", "--limit", "1000", *_stores(tmp_path, spark_url, "p2")],
    )
    contracts = {(i["contract"], i["contract_version"]) for i in json.loads(listed.stdout)["items"]}
    assert (None, None) in contracts and ("user_event", "1.0.0") in contracts


def test_parquet_counts_equal_the_default_engines(
    spark: Any, tmp_path: Path, pg_schema_url_factory: Any
) -> None:
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / "orders.yaml").write_text(
        "name: orders\nversion: 1.0.0\nschema:\n  type: object\n  required: [id]\n"
        "  properties:\n    id: {type: integer, minimum: 1}\n"
        "    sku: {type: string, pattern: '^SKU-[0-9]{3}$'}\n"
    )
    rows = [
        {"id": i if i % 7 else -i, "sku": f"SKU-{i:03d}" if i % 5 else "x"} for i in range(1, 200)
    ]
    path = tmp_path / "orders.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    common = ["--contracts", str(contracts), "--contract", "orders"]
    default = _validate(*common, *_stores(tmp_path, pg_schema_url_factory(), "p1"), str(path))
    got = _validate(
        "--engine", "spark", *common, *_stores(tmp_path, pg_schema_url_factory(), "p2"),
        "--valid-out", str(tmp_path / "valid"), str(path),
    )  # fmt: skip
    assert got == default and got["quarantined"] > 40


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--contract", "nope", "--no-remediate"], "nope"),
    ],
)
def test_usage_errors_exit_2(spark: Any, tmp_path: Path, args: list[str], message: str) -> None:
    events = tmp_path / "e.jsonl"
    write_jsonl(events, 5)
    result = CliRunner().invoke(
        app,
        ["validate", "--engine", "spark", "--contracts", str(DEMO_CONTRACTS_DIR), *args,
         "--store", f"sqlite:///{tmp_path / 'q.db'}", str(events)],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_parquet_routed_by_its_schema_column_like_the_default_engine(
    spark: Any, tmp_path: Path, pg_schema_url_factory: Any
) -> None:
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    for version, minimum in (("1.0.0", 1), ("2.0.0", 10)):
        (contracts / f"orders-{version}.yaml").write_text(
            f"name: orders\nversion: {version}\nschema:\n  type: object\n  required: [id]\n"
            f"  properties:\n    id: {{type: integer, minimum: {minimum}}}\n"
        )
    routes = ["orders", "orders@1.0.0", "orders@2.0.0", "nope", None]
    rows = [{"id": i - 20, "_schema": routes[i % len(routes)], "note": "x"} for i in range(200)]
    path = tmp_path / "orders.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=50)
    common = ["--contracts", str(contracts), "--no-remediate", str(path)]
    default_url, spark_url = pg_schema_url_factory(), pg_schema_url_factory()
    theirs_out, mine_out = tmp_path / "valid.parquet", tmp_path / "valid"
    default = _validate(
        *common, *_stores(tmp_path, default_url, "p1"), "--valid-out", str(theirs_out)
    )
    got = _validate(
        "--engine", "spark", *common, *_stores(tmp_path, spark_url, "p2"),
        "--valid-out", str(mine_out),
    )  # fmt: skip
    assert got == default
    assert got["by_code"]["schema_not_found"] == 80 and len(got["by_contract"]) == 3
    with (
        Quarantine.open(default_url, str(tmp_path / "p1")) as a,
        Quarantine.open(spark_url, str(tmp_path / "p2")) as b,
    ):
        mine = {r.id: (r.source, r.errors, r.contract, data) for r, data in b.iter_payloads()}
        theirs = {r.id: (r.source, r.errors, r.contract, data) for r, data in a.iter_payloads()}
    assert mine == theirs
    key = lambda row: json.dumps(row, sort_keys=True)  # noqa: E731
    expected, written = pq.read_table(theirs_out).to_pylist(), pq.read_table(mine_out).to_pylist()
    assert sorted(written, key=key) == sorted(expected, key=key) and len(written) == got["valid"]


def test_metric_labels_equal_the_default_engines(
    spark: Any, tmp_path: Path, pg_schema_url_factory: Any
) -> None:
    """The summary's records by (schema, outcome), which --metrics-file exports."""
    events = tmp_path / "events.jsonl"
    write_jsonl(events, 300, bad_ratio=0.3, seed=31)
    with events.open("ab") as out:
        out.write(b'{"_schema": "nope"}\n{"broken\n')
    for contract in (None, "user_event@1.1.0"):
        default_settings = settings_from(
            DEMO_CONTRACTS_DIR, pg_schema_url_factory(), str(tmp_path / "p1")
        )
        live = open_contracts(default_settings)
        with Quarantine.open(default_settings.store_url, default_settings.payloads_url) as q:
            default = ValidationRun(
                Router(live.registry, contract=contract), q, remediate=False
            ).run([str(events)])
        live.close()
        spark_settings = settings_from(
            DEMO_CONTRACTS_DIR, pg_schema_url_factory(), str(tmp_path / "p2")
        )
        got = validate_on_spark(
            [str(events)], contract=contract, fmt=None, settings=spark_settings, valid_out=None,
            run_id="r", master=None, progress=False, remediate=False,
        )  # fmt: skip
        assert got.by_schema == default.by_schema
        assert got.to_dict()["by_contract"] == default.to_dict()["by_contract"]


CSV_ROWS = (
    b"id,sku,qty,_schema\n"
    b"1,SKU-001,3,orders\n"
    b'2,"SKU-\n002",4,orders\n'  # a quoted line break: one record over two lines
    b"3,SKU-003,many,orders\n"  # not an integer
    b"4,SKU-004\n"  # too few fields: parse_error
    b"\n"
    b"5,SKU-\xff05,1,orders\n"  # not UTF-8
    b"-6,SKU-006,2,orders\n"
    b"7,SKU-007,2,nope\n"
    b'8,"SKU-008",11,orders\r\n'
)


def test_csv_gives_the_default_engines_counts_and_records(
    spark: Any, tmp_path: Path, pg_schema_url_factory: Any
) -> None:
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / "orders.yaml").write_text(
        "name: orders\nversion: 1.0.0\nschema:\n  type: object\n  required: [id, sku]\n"
        "  properties:\n    id: {type: integer, minimum: 1}\n"
        "    sku: {type: string, pattern: '^SKU-[0-9]{3}$'}\n"
        "    qty: {type: integer, maximum: 10}\n"
    )
    path = tmp_path / "orders.csv"
    path.write_bytes(CSV_ROWS * 20)
    for n, forced in enumerate((["--contract", "orders"], [])):
        common = ["--contracts", str(contracts), *forced, str(path)]
        default_url, spark_url = pg_schema_url_factory(), pg_schema_url_factory()
        theirs_out, mine_out = tmp_path / f"valid{n}.parquet", tmp_path / f"valid{n}"
        default = _validate(
            *common, *_stores(tmp_path, default_url, "p1"), "--valid-out", str(theirs_out)
        )
        got = _validate(
            "--engine", "spark", *common, *_stores(tmp_path, spark_url, "p2"),
            "--valid-out", str(mine_out),
        )  # fmt: skip
        assert got == default
        # the valid output: the default engine's columns, types and rows (typed when forced)
        expected, written = pq.read_table(theirs_out), pq.read_table(mine_out)
        assert written.schema.names == expected.schema.names == ["id", "sku", "qty", "_schema"]
        assert written.schema.types == expected.schema.types
        assert expected.schema.field("id").type == (pa.int64() if forced else pa.string())
        key = lambda row: json.dumps(row, sort_keys=True)  # noqa: E731
        assert sorted(written.to_pylist(), key=key) == sorted(expected.to_pylist(), key=key)
        assert written.num_rows == got["valid"] > 0
        assert got["quarantined"] >= 120 and got["by_code"]["parse_error"] >= 40
        with (
            Quarantine.open(default_url, str(tmp_path / "p1")) as a,
            Quarantine.open(spark_url, str(tmp_path / "p2")) as b,
        ):
            mine = {r.id: (r.source, r.errors, r.contract, data) for r, data in b.iter_payloads()}
            theirs = {r.id: (r.source, r.errors, r.contract, data) for r, data in a.iter_payloads()}
        assert mine == theirs  # the same ids: same lines, same payloads
