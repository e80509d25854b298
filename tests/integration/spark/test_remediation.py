"""The double pass on Spark against the default engine's, on the same input: the same ``--json``
counts (``remediated`` and the remediation statistics), the same valid output (the fixed
records in place of their originals) and the same store contents (statuses and revision 1)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.spark import require_spark

require_spark()

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from dataquarantine.cli.app import app
from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR, write_jsonl
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.spark import read_jsonl, split, write_quarantine
from dataquarantine.spark.columns import REMEDIATION
from dataquarantine.validation.contract import Contract

pytestmark = pytest.mark.postgres

RUN_FIELDS = ("run_id", "seconds", "records_per_second", "inputs")

SIGNUP = """\
name: signup
version: 1.0.0
schema:
  type: object
  required: [id, email, qty, currency]
  properties:
    _schema: {type: string}
    id: {type: integer}
    email: {type: string, pattern: '^[a-z0-9.]+@[a-z0-9.]+$'}
    name: {type: string, maxLength: 12}
    qty: {type: integer, minimum: 1}
    currency: {type: string, enum: [EUR, USD]}
remediation:
  - {field: email, action: lowercase}
  - {field: name, action: trim}
  - {field: qty, action: coerce_int}
  - {field: currency, action: default, value: EUR}
"""


def _contracts(tmp_path: Path) -> Path:
    """The demo contracts plus ``signup``, whose rules fix most of its broken records."""
    folder = tmp_path / "contracts"
    shutil.copytree(DEMO_CONTRACTS_DIR, folder)
    (folder / "signup.yaml").write_text(SIGNUP)
    return folder


def _signups() -> list[bytes]:
    lines = []
    for i in range(60):
        record: dict[str, Any] = {"_schema": "signup", "id": i, "email": f"u{i}@x.org", "qty": 2}
        record["currency"] = "USD"
        if i % 3 == 0:
            record["email"] = f"U{i}@X.ORG"  # fixed by lowercase
        if i % 5 == 0:
            del record["currency"]  # fixed by default
        if i % 7 == 0:
            record["qty"] = f" {i + 1} "  # fixed by coerce_int
        if i % 11 == 0:
            record["name"] = "  Jane Doe  "  # trimmed: fits
        if i % 13 == 0:
            record["name"] = "   a much too long name  "  # trimmed, still too long
        if i % 17 == 0:
            record["qty"] = "many"  # coerce_int fails
        lines.append(json.dumps(record).encode())
    return lines


def _validate(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["validate", "--json", *args])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return {k: v for k, v in doc.items() if k not in RUN_FIELDS}


def _stores(url: str, payloads: Path) -> list[str]:
    return ["--store", url, "--payloads", f"file://{payloads}"]


def _stored(url: str, payloads: Path, *, source: bool) -> list[Any]:
    """Every stored record: payload, status, errors, contract and revisions (and its source
    when both engines name it alike: the JSON lines' offsets are Spark's own)."""
    out = []
    with Quarantine.open(url, f"file://{payloads}") as q:
        for record in q.iter():
            revisions = [
                (r.number, r.kind.value, r.author, r.payload,
                 [c.to_dict() for c in r.changes], [v.to_dict() for v in r.errors])
                for r in q.store.revisions(record.id)
            ]  # fmt: skip
            out.append(
                (
                    str(record.id) if source else "",
                    q.payload(record),
                    record.status.value,
                    [v.to_dict() for v in record.errors],
                    record.contract,
                    record.contract_version,
                    revisions,
                )
            )
    return sorted(out, key=repr)


def _both_engines_to_parquet(
    tmp_path: Path, path: Path, default_url: str, spark_url: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``--json`` documents of both engines on ``path`` against ``signup``, valid output
    to ``valid.parquet`` (default) and ``valid/`` (Spark), stores under ``p1`` and ``p2``."""
    common = ["--contracts", str(_contracts(tmp_path)), "--contract", "signup"]
    default = _validate(
        *common, *_stores(default_url, tmp_path / "p1"),
        "--valid-out", str(tmp_path / "valid.parquet"), str(path),
    )  # fmt: skip
    got = _validate(
        "--engine", "spark", *common, *_stores(spark_url, tmp_path / "p2"),
        "--valid-out", str(tmp_path / "valid"), str(path),
    )  # fmt: skip
    return default, got


def test_jsonl_double_pass_equals_the_default_engines(
    spark: Any, tmp_path: Path, pg_schema_url_factory: Any
) -> None:
    events = tmp_path / "events.jsonl"
    write_jsonl(events, 600, bad_ratio=0.2, seed=41)
    signups = _signups()
    with events.open("ab") as out:  # a CRLF line, and a last line without terminator
        out.write(b"\n".join(signups[:-2]) + b"\n" + signups[-2] + b"\r\n" + signups[-1])
    contracts = _contracts(tmp_path)
    common = ["--contracts", str(contracts)]
    default_url, spark_url = pg_schema_url_factory(), pg_schema_url_factory()
    default_out, spark_out = tmp_path / "valid.jsonl", tmp_path / "valid"
    default = _validate(
        *common, *_stores(default_url, tmp_path / "p1"), "--valid-out", str(default_out),
        str(events),
    )  # fmt: skip
    got = _validate(
        "--engine", "spark", *common, *_stores(spark_url, tmp_path / "p2"),
        "--valid-out", str(spark_out), str(events),
    )  # fmt: skip
    assert got == default
    assert got["reconciles"] and got["remediated"] >= 20
    records = got["remediation"]["records"]
    assert records["still_invalid"] >= 3 and records["unchanged"] >= 50
    assert got["by_contract"]["signup@1.0.0"]["remediated"] == got["remediated"]
    # the valid output: the same bytes, fixed records included, in the same order (Spark's
    # text writer ends the last line too)
    written = b"".join(p.read_bytes() for p in sorted(spark_out.glob("part-*")))
    assert written == default_out.read_bytes().removesuffix(b"\n") + b"\n"
    assert b"\r\n" in written
    assert b'"email":"u3@x.org"' in written and b"U3@X.ORG" not in written
    # the store: originals with status remediated, the fix as revision 1
    stored = _stored(spark_url, tmp_path / "p2", source=False)
    assert stored == _stored(default_url, tmp_path / "p1", source=False)
    statuses = [s[2] for s in stored]
    assert statuses.count("remediated") == got["remediated"]
    assert len(stored) == got["quarantined"] + got["remediated"]


def test_parquet_double_pass_equals_the_default_engines(
    spark: Any, tmp_path: Path, pg_schema_url_factory: Any
) -> None:
    rows = [json.loads(line) for line in _signups()]
    for row in rows:
        row.pop("_schema")
        row["qty"] = row["qty"] if isinstance(row["qty"], int) else -1  # an int column
    path = tmp_path / "signups.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    default_url, spark_url = pg_schema_url_factory(), pg_schema_url_factory()
    default, got = _both_engines_to_parquet(tmp_path, path, default_url, spark_url)
    assert got == default and got["remediated"] >= 10
    expected = pq.read_table(tmp_path / "valid.parquet").to_pylist()
    written = pq.read_table(tmp_path / "valid").to_pylist()
    assert sorted(written, key=lambda r: r["id"]) == sorted(expected, key=lambda r: r["id"])
    # typed rows: the same ids on both engines (file and row)
    stored = _stored(spark_url, tmp_path / "p2", source=True)
    assert stored == _stored(default_url, tmp_path / "p1", source=True)


def test_split_puts_remediated_rows_on_both_sides(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "signups.jsonl"
    path.write_bytes(b"\n".join(_signups()) + b"\n")
    (tmp_path / "signup.yaml").write_text(SIGNUP)
    contract = Contract.from_file(tmp_path / "signup.yaml")
    df = read_jsonl(spark, str(path))
    valid, quarantine = split(df, contract, remediate=True)
    fixed = [r for r in quarantine.collect() if r[REMEDIATION]["outcome"] == "remediated"]
    assert fixed and all(r[REMEDIATION]["payload"] for r in fixed)
    lines = {bytes(r["value"]) for r in valid.collect()}
    assert {bytes(r[REMEDIATION]["payload"]) + b"\n" for r in fixed} <= lines
    originals = set(_signups())
    # the quarantine keeps each original's bytes; the input's columns hold the fixed record
    assert all(bytes(r["_dq_payload"]) in originals for r in fixed)
    assert not {bytes(r["_dq_payload"]) + b"\n" for r in fixed} & lines
    assert all(r["value"] == r[REMEDIATION]["payload"] + b"\n" for r in fixed)
    store, payloads = f"sqlite:///{tmp_path / 'q.db'}", f"file://{tmp_path / 'p'}"
    written = write_quarantine(quarantine, store=store, payloads=payloads)
    assert written.rows == written.inserted == quarantine.count()
    with Quarantine.open(store, payloads) as q:
        records = list(q.iter())
        statuses = [r.status.value for r in records]
        assert statuses.count("remediated") == len(fixed)
        fix = next(r for r in records if r.status.value == "remediated")
        (revision,) = q.store.revisions(fix.id)
        assert revision.number == 1 and revision.kind.value == "remediation" and revision.changes
    plain_valid, plain_quarantine = split(df, contract)
    assert REMEDIATION not in plain_quarantine.columns
    assert plain_valid.count() + plain_quarantine.count() == df.count()
    assert valid.count() == plain_valid.count() + len(fixed)


def test_a_fix_that_does_not_fit_the_parquet_columns_is_not_remediated(
    spark: Any, tmp_path: Path, pg_schema_url_factory: Any
) -> None:
    """``qty`` is a string column: coerce_int makes the record valid, but an integer does not
    fit the column, so both engines keep the record quarantined with the attempt."""
    rows = [
        {"id": i, "email": f"u{i}@x.org", "qty": f" {i + 1} " if i % 2 else "x", "currency": "EUR"}
        for i in range(20)
    ]
    path = tmp_path / "misfits.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    default_url, spark_url = pg_schema_url_factory(), pg_schema_url_factory()
    default, got = _both_engines_to_parquet(tmp_path, path, default_url, spark_url)
    assert got == default
    assert got["remediated"] == 0 and got["remediation"]["records"]["still_invalid"] == 10
    stored = _stored(spark_url, tmp_path / "p2", source=True)
    assert stored == _stored(default_url, tmp_path / "p1", source=True)
    misfits = [s for s in stored if s[6] and s[6][0][5][0]["code"] == "system_error"]
    assert len(misfits) == 10 and all(s[2] == "quarantined" for s in misfits)


def test_csv_double_pass_equals_the_default_engines(
    spark: Any, tmp_path: Path, pg_schema_url_factory: Any
) -> None:
    rows = [json.loads(line) for line in _signups()]
    header = ["id", "email", "name", "qty", "currency"]
    lines = [",".join(header)]
    for row in rows:
        lines.append(",".join(f'"{row[c]}"' if c in row else "" for c in header))
    path = tmp_path / "signups.csv"
    path.write_text("\n".join(lines) + "\n")
    default_url, spark_url = pg_schema_url_factory(), pg_schema_url_factory()
    default, got = _both_engines_to_parquet(tmp_path, path, default_url, spark_url)
    assert got == default and got["remediated"] >= 10
    # the fixed records, typed as the default engine writes them, in place of the originals
    expected = pq.read_table(tmp_path / "valid.parquet").to_pylist()
    written = pq.read_table(tmp_path / "valid").to_pylist()
    assert sorted(written, key=repr) == sorted(expected, key=repr)
    assert {"u3@x.org"} <= {r["email"] for r in written}
    stored = _stored(spark_url, tmp_path / "p2", source=True)
    assert stored == _stored(default_url, tmp_path / "p1", source=True)
