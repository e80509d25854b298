"""The review service (what ``serve`` runs) on a PostgreSQL registry sees a version that
another process registers within 2 s, without a restart."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dataquarantine.registry.postgres import PostgresSource
from dataquarantine.review import ReviewService
from dataquarantine.review.schemas import register_version
from dataquarantine.review.settings import ReviewSettings
from dataquarantine.validation.registry import ContractRegistry

pytestmark = [pytest.mark.postgres]


def orders(version: str) -> dict[str, object]:
    return {"name": "orders", "version": version, "schema": {"type": "object"}}


def test_serve_sees_a_version_registered_elsewhere_within_2_s(
    pg_schema_url: str, tmp_path: Path
) -> None:
    writer = PostgresSource(pg_schema_url)
    other = ContractRegistry.from_source(writer)
    register_version(other, orders("1.0.0"), actor="ci")
    settings = ReviewSettings(
        store_url=f"sqlite:///{tmp_path / 'q.db'}",
        payloads_url=f"file://{tmp_path / 'payloads'}",
        contracts_url=pg_schema_url,
        contracts_poll_seconds=600,  # only the notification can bring it in time
        contracts_cache="",
    )
    service = ReviewService.open(settings)
    try:
        assert [s.latest for s in service.schemas()] == ["1.0.0"]
        time.sleep(0.5)  # the listener is connected
        register_version(other, orders("1.1.0"), actor="ci")
        started = time.monotonic()
        while [s.latest for s in service.schemas()] != ["1.1.0"]:
            assert time.monotonic() - started < 2.0, "not seen within 2 s"
            time.sleep(0.02)
        (info,) = service.schemas()
        assert info.versions[-1].registered_by == "ci"
    finally:
        service.close()
        writer.close()
