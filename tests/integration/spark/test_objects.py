"""JSON lines and CSV read from S3 (a real ``moto_server``): the same records, offsets and
lines as from local files, named ``s3://bucket/key``, listed by object, folder and glob."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.s3 import S3Target
from tests.fixtures.spark import require_spark
from typer.testing import CliRunner

require_spark()

from dataquarantine.cli.app import app
from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR, write_jsonl
from dataquarantine.errors import ConfigError
from dataquarantine.spark import read_csv, read_jsonl
from dataquarantine.spark.csv_output import csv_headers
from dataquarantine.spark.objects import list_objects

LINES = b'{"a": 1}\n\n{"a": "x\\u00e9"}\r\n   \n{broken\n\xef\xbb\xbf{"b": 2}\n{"last": true}'
CSV = b'id,name\n1,"two\nlines"\n2,b\n3\n4,\xff\n'


@pytest.fixture
def bucket(s3_target: S3Target, spark: Any) -> Iterator[S3Target]:
    """A bucket, and its endpoint and dummy credentials in the Python workers' environment
    (the workers of the session's running JVM do not see this process's later variables)."""
    names = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    environment = spark.sparkContext.environment
    for name in names:
        environment[name] = os.environ[name]
    try:
        yield s3_target
    finally:
        for name in names:
            environment.pop(name, None)


def _put(target: S3Target, key: str, data: bytes) -> None:
    client = target.client()
    try:
        client.put_object(Bucket=target.bucket, Key=key, Body=data)
    finally:
        client.close()


def _rows(frame: Any) -> list[tuple[str, int, bytes]]:
    return sorted((r[0], r[1], bytes(r[2])) for r in frame.collect())


def test_jsonl_objects_read_as_local_files(spark: Any, bucket: S3Target, tmp_path: Path) -> None:
    for name, data in (("a.jsonl", LINES), ("b.jsonl", LINES * 10)):
        _put(bucket, f"events/{name}", data)
        (tmp_path / name).write_bytes(data)
    _put(bucket, "events/_SUCCESS", b"")
    _put(bucket, "events/empty.jsonl", b"")
    _put(bucket, "events/deeper/c.jsonl", b'{"c": 1}\n')
    local = {
        (p.split("/")[-1], offset, value)
        for p, offset, value in _rows(read_jsonl(spark, str(tmp_path), split_bytes=64))
    }
    for given in (f"s3://{bucket.bucket}/events/", f"s3a://{bucket.bucket}/events/*.jsonl"):
        got = _rows(read_jsonl(spark, given, split_bytes=64))  # many ranges per object
        assert {p for p, _, _ in got} == {
            f"s3://{bucket.bucket}/events/a.jsonl",
            f"s3://{bucket.bucket}/events/b.jsonl",
        }
        assert {(p.split("/")[-1], o, v) for p, o, v in got} == local
        assert len(got) == len(local)


def test_listing_objects_folders_and_globs(bucket: S3Target) -> None:
    for key in ("x/a.jsonl", "x/b.csv", "x/.hidden", "x/y/c.jsonl", "xa/d.jsonl"):
        _put(bucket, key, b"{}\n")
    root = f"s3://{bucket.bucket}"
    assert list_objects(f"{root}/x") == [f"{root}/x/a.jsonl", f"{root}/x/b.csv"]
    assert list_objects(f"{root}/x/a.jsonl") == [f"{root}/x/a.jsonl"]
    assert list_objects(f"{root}/x*/*.jsonl") == [f"{root}/x/a.jsonl", f"{root}/xa/d.jsonl"]
    assert list_objects(f"s3a://{bucket.bucket}/x/y/") == [f"{root}/x/y/c.jsonl"]
    with pytest.raises(ConfigError, match="does not exist"):
        list_objects(f"{root}/nothing")
    with pytest.raises(ConfigError, match="no input matches"):
        list_objects(f"{root}/x/*.parquet")


def test_csv_objects_read_as_local_files(spark: Any, bucket: S3Target, tmp_path: Path) -> None:
    _put(bucket, "orders/o.csv", CSV)
    _put(bucket, "orders/p.csv", b"")  # an empty object: no header, no records
    (tmp_path / "o.csv").write_bytes(CSV)
    uri = f"s3://{bucket.bucket}/orders/o.csv"
    frame = read_csv(spark, f"s3://{bucket.bucket}/orders/")
    assert csv_headers(frame) == [(uri, ["id", "name"])]
    local = [(r[1], bytes(r[2]), r[3]) for r in read_csv(spark, str(tmp_path)).collect()]
    got = frame.collect()
    assert {r[0] for r in got} == {uri}
    assert sorted((r[1], bytes(r[2]), r[3]) for r in got) == sorted(local)
    assert any(r[3] is not None for r in got)  # the short and the non-UTF-8 rows


def _validate(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["validate", "--json", "--no-remediate", *args])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return {
        k: v
        for k, v in doc.items()
        if k not in ("run_id", "seconds", "records_per_second", "inputs")
    }


def test_validate_reads_s3_like_the_default_engine_reads_the_files(
    spark: Any, bucket: S3Target, tmp_path: Path
) -> None:
    local = tmp_path / "in"
    local.mkdir()
    write_jsonl(local / "a.jsonl", 200, bad_ratio=0.2, seed=5)
    (local / "b.jsonl").write_bytes(b'{"broken\n\n{"_schema": "nope"}\n')
    for name in ("a.jsonl", "b.jsonl"):
        _put(bucket, f"in/{name}", (local / name).read_bytes())
    common = ["--contracts", str(DEMO_CONTRACTS_DIR)]
    default = _validate(
        *common, "--store", f"sqlite:///{tmp_path / 'd.db'}", "--payloads", str(tmp_path / "pd"),
        str(local / "a.jsonl"), str(local / "b.jsonl"),
    )  # fmt: skip
    valid_out = tmp_path / "valid"
    got = _validate(
        "--engine", "spark", *common, "--format", "jsonl", "--valid-out", str(valid_out),
        "--store", f"sqlite:///{tmp_path / 's.db'}", "--payloads", str(tmp_path / "ps"),
        f"s3://{bucket.bucket}/in/",
    )  # fmt: skip
    assert got == default and got["quarantined"] > 20
    lines = b"".join(p.read_bytes() for p in sorted(valid_out.glob("part-*"))).splitlines()
    assert len(lines) == got["valid"]
    listed = CliRunner().invoke(
        app,
        ["quarantine", "list", "--json", "--limit", "1000",
         "--store", f"sqlite:///{tmp_path / 's.db'}", "--payloads", str(tmp_path / "ps")],
    )  # fmt: skip
    sources = {i["source"]["uri"] for i in json.loads(listed.stdout)["items"]}
    assert f"s3://{bucket.bucket}/in/b.jsonl" in sources
