"""The plain steps behind the Airflow operators (no Airflow needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataquarantine.airflow.steps import load_table, url_of_connection, validate_files
from dataquarantine.errors import ConfigError, DataQuarantineError


def test_a_postgres_connection_is_a_url_with_its_schema_extra() -> None:
    url = url_of_connection(
        conn_type="postgres",
        host="db.internal",
        port=6432,
        login="loader",
        password="p@ss/word",
        database="warehouse",
        extra={"schema": "telecom", "sslmode": "require", "ignored": "x"},
    )
    assert url == (
        "postgresql://loader:p%40ss%2Fword@db.internal:6432/warehouse"
        "?sslmode=require&schema=telecom"
    )


def test_connection_defaults() -> None:
    url = url_of_connection(
        conn_type="postgresql",
        host="h",
        port=None,
        login=None,
        password=None,
        database=None,
        extra={},
    )
    assert url == "postgresql://h:5432/postgres"


@pytest.mark.parametrize(
    ("conn_type", "host", "message"),
    [("mysql", "h", "is not postgres"), ("postgres", None, "no host")],
)
def test_a_connection_that_is_not_postgres_is_refused(
    conn_type: str, host: str | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        url_of_connection(
            conn_type=conn_type,
            host=host,
            port=None,
            login=None,
            password=None,
            database="d",
            extra={},
        )


def test_validate_a_missing_input_fails_with_its_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        validate_files(
            [str(tmp_path / "nope.jsonl")],
            contract="orders",
            contracts=tmp_path,
            valid_out=None,
            store=None,
            payloads=None,
        )


def test_validate_an_unknown_contract_fails_clearly(tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text('{"a": 1}\n')
    (tmp_path / "contracts").mkdir()
    with pytest.raises(DataQuarantineError, match="no contract named 'orders'"):
        validate_files(
            [str(data)],
            contract="orders",
            contracts=tmp_path / "contracts",
            valid_out=str(tmp_path / "out" / "valid.jsonl"),
            store=f"sqlite:///{tmp_path / 'q.db'}",
            payloads=(tmp_path / "payloads").as_uri(),
        )


def test_validate_writes_the_valid_records_and_returns_the_summary(tmp_path: Path) -> None:
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / "orders.yaml").write_text(
        "name: orders\nversion: 1.0.0\nschema:\n  type: object\n  required: [id]\n"
        "  properties:\n    id: {type: integer}\n"
    )
    data = tmp_path / "in.jsonl"
    data.write_text('{"id": 1}\n{"id": "x"}\n')
    summary = validate_files(
        [str(data)],
        contract="orders",
        contracts=contracts,
        valid_out=str(tmp_path / "out" / "valid.jsonl"),
        store=f"sqlite:///{tmp_path / 'q.db'}",
        payloads=(tmp_path / "payloads").as_uri(),
    )
    assert (summary["total"], summary["valid"], summary["quarantined"]) == (2, 1, 1)
    assert summary["by_code"] == {"schema_violation": 1}
    assert (tmp_path / "out" / "valid.jsonl").read_text() == '{"id": 1}\n'


def test_load_a_missing_contract_file_fails_clearly(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(ConfigError, match="does not exist"):
        load_table(
            "postgresql://127.0.0.1:1/x",
            contract=tmp_path / "nope.yaml",
            staging=None,
            store=None,
            payloads=None,
            resume=False,
        )
