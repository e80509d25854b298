"""An API app over real stores: SQLite files, or a private PostgreSQL schema (``postgres``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.fixtures.postgres import drop_schema, with_schema

from dataquarantine.api import ApiSettings, create_app
from dataquarantine.quarantine.envelope import QuarantineItem
from dataquarantine.quarantine.service import Quarantine

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

ORDERS: dict[str, Any] = {
    "name": "orders",
    "version": "1.0.0",
    "schema": {
        "type": "object",
        "required": ["order_id", "amount"],
        "properties": {"order_id": {"type": "string"}, "amount": {"type": "number", "minimum": 0}},
    },
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ApiSettings]:
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    (contracts / "orders-1.0.0.yaml").write_text(yaml.safe_dump(ORDERS))
    schema = ""
    base_url = ""
    if request.param == "sqlite":
        store_url = f"sqlite:///{tmp_path / 'dq.db'}"
    else:
        base_url = request.getfixturevalue("pg_url")
        schema = f"dq_test_{uuid.uuid4().hex[:16]}"
        store_url = with_schema(base_url, schema)
    yield ApiSettings(
        store_url=store_url,
        payloads_url=f"file://{tmp_path / 'payloads'}",
        contracts_dir=contracts,
        api_token=TOKEN,
        reprocess_sink="store",
        max_attempts=3,
    )
    if schema:
        drop_schema(base_url, schema)


@pytest.fixture
def app(api_settings: ApiSettings) -> FastAPI:
    return create_app(api_settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def quarantine_items(app: FastAPI) -> Callable[[list[QuarantineItem]], list[uuid.UUID]]:
    """Quarantine items through the app's own Quarantine (as a validate run would)."""
    quarantine: Quarantine = app.state.review.quarantine

    def put(items: list[QuarantineItem]) -> list[uuid.UUID]:
        return list(quarantine.write(items).ids)

    return put
