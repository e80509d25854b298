"""CSV through ``split``: the default engine's verdicts and ids, and ``typed_csv`` gives the
default engine's valid output (its columns, types and rows)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.spark import require_spark

require_spark()

import pyarrow.parquet as pq

from dataquarantine.errors import ConfigError
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.runner import ValidationRun
from dataquarantine.spark import ID, PAYLOAD, read_csv, split, typed_csv
from dataquarantine.spark.csv_output import CsvOutput, csv_headers
from dataquarantine.validation.contract import Contract
from dataquarantine.validation.registry import ContractRegistry, Router

CONTRACT = {
    "name": "orders",
    "version": "1.0.0",
    "schema": {
        "type": "object",
        "required": ["id", "sku"],
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "sku": {"type": "string", "pattern": "^SKU-[0-9]{3}$"},
            "qty": {"type": "integer", "maximum": 10},
            "price": {"type": "number"},
            "gift": {"type": "boolean"},
        },
    },
}
ROWS = (
    b"id,sku,qty,price,gift,note\n"
    b"1,SKU-001,3,2.5,true,plain\n"
    b'2,"SKU-002",4,3,false,"two\nlines"\n'  # a quoted line break
    b"3,SKU-003,many,1,true,x\n"  # not an integer
    b"4,SKU-004\n"  # too few fields: parse_error
    b"5,SKU-\xff05,1,1,true,x\n"  # not UTF-8
    b"6,SKU-006,,,,\r\n"  # empty cells
    b"7,SKU-007,2,1e3,FALSE,x\n"
)


def _key(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True)


def test_split_and_typed_csv_give_the_default_engines_output(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(ROWS * 3)
    contract = Contract.from_dict(CONTRACT)
    registry = ContractRegistry()
    registry.add(contract)
    default_out = tmp_path / "valid.parquet"
    with Quarantine.open(f"sqlite:///{tmp_path / 'q.db'}", str(tmp_path / "p")) as store:
        summary = ValidationRun(
            Router(registry, contract="orders"), store, valid_out=default_out, remediate=False
        ).run([str(path)])
        theirs = {str(r.id): data for r, data in store.iter_payloads()}
    frame = read_csv(spark, str(tmp_path / "*.csv"))
    assert csv_headers(frame) == [
        (path.resolve().as_uri(), ["id", "sku", "qty", "price", "gift", "note"])
    ]
    valid, quarantine = split(frame, contract)
    assert quarantine.count() == summary.quarantined
    mine = {r[ID]: bytes(r[PAYLOAD]) for r in quarantine.select(ID, PAYLOAD).collect()}
    assert mine == theirs  # the default engine's ids and payloads
    typed_out = tmp_path / "typed"
    typed_csv(valid, contract).write.parquet(str(typed_out))
    expected, written = pq.read_table(default_out), pq.read_table(typed_out)
    assert written.schema.names == expected.schema.names
    assert written.schema.types == expected.schema.types
    assert sorted(written.to_pylist(), key=_key) == sorted(expected.to_pylist(), key=_key)
    assert written.num_rows == summary.valid > 0


def test_typed_csv_needs_read_csvs_frame(spark: Any) -> None:
    schema = "path string, line long, value binary, error string"
    frame = spark.createDataFrame([("file:///x.csv", 2, b"{}", None)], schema)
    with pytest.raises(ConfigError, match="read_csv"):
        typed_csv(frame, Contract.from_dict(CONTRACT))


def test_a_later_file_with_another_column_is_refused_as_by_the_default_engine(
    spark: Any, tmp_path: Path
) -> None:
    (tmp_path / "a.csv").write_bytes(b"id,sku\n1,SKU-001\n")
    (tmp_path / "b.csv").write_bytes(b"id\n2\n")  # a missing column is null
    (tmp_path / "c.csv").write_bytes(b"")  # no header, no records
    contract = Contract.from_dict(CONTRACT)
    output = CsvOutput.of(read_csv(spark, str(tmp_path)), [contract], routed=False)
    assert output.columns == ("id", "sku")
    assert dict(output.types) == {"id": "integer", "sku": "string"}
    (tmp_path / "d.csv").write_bytes(b"id,sku,extra\n3,SKU-003,x\n")
    with pytest.raises(ConfigError, match="extra"):
        CsvOutput.of(read_csv(spark, str(tmp_path)), [contract], routed=False)
