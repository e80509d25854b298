"""The review REST API over real SQLite and PostgreSQL stores (httpx via TestClient)."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.unit.api.conftest import AUTH, ORDERS

from dataquarantine.api import ApiSettings, create_app
from dataquarantine.kernel.results import ContractRef, ErrorCode
from dataquarantine.quarantine.envelope import KafkaSource, QuarantineItem
from dataquarantine.quarantine.fix_log import FixJobState
from dataquarantine.quarantine.ports import fix_log
from dataquarantine.testing import make_item, make_violation

Put = Callable[[list[QuarantineItem]], list[uuid.UUID]]
RECORDS = "/api/v1/quarantine/records"
REPROCESS = "/api/v1/quarantine/reprocess"


def _orders(*payloads: bytes, topic: str | None = None) -> list[QuarantineItem]:
    ref = ContractRef("orders", "1.0.0")
    if topic is None:
        return [make_item(p, line=i, contract=ref) for i, p in enumerate(payloads)]
    return [
        make_item(p, source=KafkaSource(topic, 0, i), contract=ref) for i, p in enumerate(payloads)
    ]


def _wait(client: TestClient, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}", headers=AUTH).json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.02)
    raise AssertionError("job did not finish")


def test_probes(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready", "failed": []}
    metrics = client.get("/metrics").text
    assert "dataquarantine_api_requests_total" in metrics
    assert "dataquarantine_contract_registry_up 1.0" in metrics
    assert client.get("/openapi.json").json()["info"]["title"].startswith("DataQuarantine")
    assert client.get("/docs").status_code == 200


def test_ready_is_503_when_the_store_is_gone(app: FastAPI, client: TestClient) -> None:
    app.state.review.quarantine.store.close()
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failed": ["store"]}


def test_reads_need_the_token_when_one_is_set(client: TestClient) -> None:
    assert client.get(RECORDS).status_code == 401
    assert client.get(RECORDS, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get(RECORDS, headers=AUTH).status_code == 200
    assert client.get("/health").status_code == 200  # probes stay open


def test_every_mutation_needs_the_token(client: TestClient, quarantine_items: Put) -> None:
    (rid,) = quarantine_items(_orders(b'{"amount": -1}'))
    calls = [
        ("PATCH", f"{RECORDS}/{rid}", {"payload": {}}),
        ("POST", f"{RECORDS}/{rid}/reprocess", None),
        ("POST", f"{RECORDS}/{rid}/resolve", {"reason": "x"}),
        ("POST", f"{RECORDS}/{rid}/discard", {"reason": "x"}),
        ("POST", "/api/v1/quarantine/reprocess", {}),
        ("POST", "/api/v1/quarantine/resolve", {"reason": "x"}),
        ("POST", "/api/v1/schemas", {"contract": ORDERS}),
    ]
    for method, url, body in calls:
        response = client.request(method, url, json=body)
        assert response.status_code == 401, (method, url)
        assert response.headers["www-authenticate"] == "Bearer"


def test_writes_need_a_token_even_when_none_is_configured(api_settings: ApiSettings) -> None:
    settings = api_settings.model_copy(update={"api_token": None})
    app = create_app(settings)
    with TestClient(app) as client:
        assert app.state.token_generated
        assert client.get(RECORDS).status_code == 200  # reads open: no token was configured
        assert client.post("/api/v1/quarantine/reprocess", json={}).status_code == 401
        token = {"Authorization": f"Bearer {app.state.api_token}"}
        assert (
            client.post("/api/v1/quarantine/reprocess", json={}, headers=token).status_code == 202
        )


def test_list_filters_and_true_total(client: TestClient, quarantine_items: Put) -> None:
    quarantine_items(_orders(*(b'{"amount": %d}' % -i for i in range(1, 8)), topic="orders-raw"))
    quarantine_items(
        [
            make_item(
                b"not json",
                line=99,
                errors=[make_violation(ErrorCode.PARSE_ERROR, "", "Unexpected character")],
                contract=ContractRef("clicks", "1.0.0"),
            )
        ]
    )
    page = client.get(RECORDS, params={"page_size": 3, "page": 2}, headers=AUTH).json()
    assert (len(page["items"]), page["total"], page["page"], page["page_size"]) == (3, 8, 2, 3)

    def total(**params: Any) -> int:
        response = client.get(RECORDS, params=params, headers=AUTH)
        assert response.status_code == 200, response.text
        value: int = response.json()["total"]
        return value

    assert total(topic="orders-raw") == 7
    assert total(schema_name="clicks") == 1
    assert total(error_type="parse_error") == 1
    assert total(status="quarantined") == 8
    assert total(status="resolved") == 0
    assert total(q="UNEXPECTED") == 1
    assert total(path="/amount") == 7  # a violation's path, exactly
    assert total(path="/amount", schema_name="clicks") == 0
    assert total(path="/amoun") == 0
    now = datetime.now(UTC)
    assert total(start_date=(now - timedelta(hours=1)).isoformat()) == 8
    assert total(end_date=(now - timedelta(hours=1)).isoformat()) == 0
    # Injection attempts are filters that match nothing.
    assert total(schema_name="orders' OR '1'='1") == 0
    assert total(q="%' OR 1=1 --") == 0
    assert total(topic="x\x00y") == 0
    assert total(path="/a' OR '1'='1") == 0
    assert total(path="x\x00y") == 0
    assert client.get(RECORDS, params={"page_size": 1001}, headers=AUTH).status_code == 422
    assert client.get(RECORDS, params={"status": "nope"}, headers=AUTH).status_code == 422


def test_record_detail_is_byte_exact(client: TestClient, quarantine_items: Put) -> None:
    raw = b'{"order_id": "\xc3\xa9", "amount": -1.50}'
    binary = b"\x00\xff\xfe binary"
    rid, bid = quarantine_items(_orders(raw, binary))
    body = client.get(f"{RECORDS}/{rid}", headers=AUTH).json()
    assert base64.b64decode(body["original"]["b64"]) == raw
    assert body["original"]["json"] == {"order_id": "é", "amount": -1.5}
    assert body["status"] == "quarantined" and body["errors"][0]["code"] == "schema_violation"
    other = client.get(f"{RECORDS}/{bid}", headers=AUTH).json()
    assert base64.b64decode(other["original"]["b64"]) == binary
    assert other["original"]["is_json"] is False and other["original"]["json"] is None
    assert client.get(f"{RECORDS}/{uuid.uuid4()}", headers=AUTH).status_code == 404
    assert client.get(f"{RECORDS}/not-a-uuid", headers=AUTH).status_code == 422


def test_fix_and_reprocess_flow(app: FastAPI, client: TestClient, quarantine_items: Put) -> None:
    (rid,) = quarantine_items(_orders(b'{"order_id": "o-1", "amount": -1}'))
    fix = {"payload": {"order_id": "o-1", "amount": 10}}
    response = client.patch(f"{RECORDS}/{rid}", json=fix, headers={**AUTH, "X-DQ-Actor": "dana"})
    assert response.status_code == 200, response.text
    revision = response.json()
    assert (revision["number"], revision["author"], revision["valid"]) == (1, "dana", True)
    assert revision["changes"] == [
        {"path": "/amount", "action": "edit", "old": -1, "new": 10, "existed_before": True}
    ]
    first = client.post(f"{RECORDS}/{rid}/reprocess", headers=AUTH).json()
    assert first == {"id": str(rid), "status": "reprocessed", "errors": [], "attempts": 1}
    second = client.post(f"{RECORDS}/{rid}/reprocess", headers=AUTH).json()
    assert second["status"] == "reprocessed"
    store = app.state.review.quarantine.store
    assert store.reprocessed_count() == 1  # idempotent: one downstream record
    assert store.reprocessed(rid) == b'{"order_id":"o-1","amount":10}'
    detail = client.get(f"{RECORDS}/{rid}", headers=AUTH).json()
    assert base64.b64decode(detail["original"]["b64"]) == b'{"order_id": "o-1", "amount": -1}'
    assert [e["action"] for e in detail["events"]] == ["edit", "reprocess"]
    assert detail["events"][1]["to_status"] == "reprocessed"


def test_patch_with_base64_and_bad_bodies(client: TestClient, quarantine_items: Put) -> None:
    (rid,) = quarantine_items(_orders(b"{"))
    b64 = base64.b64encode(b'{"order_id": "x", "amount": 1}').decode()
    response = client.patch(f"{RECORDS}/{rid}", json={"payload_b64": b64}, headers=AUTH)
    assert response.status_code == 200
    assert base64.b64decode(response.json()["payload"]["b64"]) == b'{"order_id": "x", "amount": 1}'
    for body in ({}, {"payload": 1, "payload_b64": b64}, {"payload_b64": "***="}, {"other": 1}):
        assert client.patch(f"{RECORDS}/{rid}", json=body, headers=AUTH).status_code == 422
    # JSON null is a payload like any other.
    assert client.patch(f"{RECORDS}/{rid}", json={"payload": None}, headers=AUTH).status_code == 200


def test_loop_guard_sends_to_dead(client: TestClient, quarantine_items: Put) -> None:
    (rid,) = quarantine_items(_orders(b'{"order_id": "o", "amount": -5}'))
    outcomes = [client.post(f"{RECORDS}/{rid}/reprocess", headers=AUTH).json() for _ in range(3)]
    assert [(o["status"], o["attempts"]) for o in outcomes] == [
        ("quarantined", 1),
        ("quarantined", 2),
        ("dead", 3),
    ]
    assert outcomes[0]["errors"][0]["path"] == "/amount"


def test_resolve_discard_and_conflicts(client: TestClient, quarantine_items: Put) -> None:
    a, b = quarantine_items(_orders(b"1", b"2"))
    resolved = client.post(f"{RECORDS}/{a}/resolve", json={"reason": "dup"}, headers=AUTH)
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    again = client.post(f"{RECORDS}/{a}/discard", json={"reason": "x"}, headers=AUTH)
    assert again.status_code == 409
    assert client.post(f"{RECORDS}/{b}/discard", json={}, headers=AUTH).status_code == 422
    assert (
        client.post(f"{RECORDS}/{b}/discard", json={"reason": ""}, headers=AUTH).status_code == 422
    )
    assert (
        client.post(
            f"{RECORDS}/{uuid.uuid4()}/resolve", json={"reason": "x"}, headers=AUTH
        ).status_code
        == 404
    )
    events = client.get(f"{RECORDS}/{a}", headers=AUTH).json()["events"]
    assert (events[0]["action"], events[0]["reason"]) == ("resolve", "dup")


def test_bulk_reprocess_job(client: TestClient, quarantine_items: Put) -> None:
    quarantine_items(_orders(*(b'{"order_id": "o", "amount": %d}' % i for i in (-1, 2, 3, 4))))
    response = client.post(
        "/api/v1/quarantine/reprocess", json={"schema_name": "orders"}, headers=AUTH
    )
    assert response.status_code == 202
    job = _wait(client, response.json()["id"])
    assert (job["state"], job["total"], job["processed"]) == ("done", 4, 4)
    assert (job["reprocessed"], job["still_invalid"], job["progress"]) == (3, 1, 1.0)
    assert client.get("/api/v1/jobs/nope", headers=AUTH).status_code == 404
    closing = client.post("/api/v1/quarantine/discard", json={"reason": "old"}, headers=AUTH)
    assert _wait(client, closing.json()["id"])["closed"] == 1


def test_bulk_jobs_survive_a_restart(api_settings: ApiSettings, app: FastAPI) -> None:
    with TestClient(app) as client:
        app.state.review.quarantine.write(_orders(b'{"order_id": "o", "amount": 1}', b"-1"))
        body = {"schema_name": "orders"}
        done = _wait(client, client.post(REPROCESS, json=body, headers=AUTH).json()["id"])
        closing = client.post("/api/v1/quarantine/discard", json={"reason": "x"}, headers=AUTH)
        cut = _wait(client, closing.json()["id"])
        # as if the server had stopped while the discard ran
        fix_log(app.state.review.store).update_job(cut["id"], state=FixJobState.RUNNING)
    restarted = create_app(api_settings)
    with TestClient(restarted) as client:
        seen = client.get(f"/api/v1/jobs/{done['id']}", headers=AUTH).json()
        assert (seen["state"], seen["total"], seen["reprocessed"], seen["still_invalid"]) == (
            "done",
            2,
            1,
            1,
        )
        interrupted = client.get(f"/api/v1/jobs/{cut['id']}", headers=AUTH).json()
        assert (interrupted["state"], interrupted["closed"]) == ("interrupted", 1)
        # they are not fix jobs
        assert client.get("/api/v1/fixes", headers=AUTH).json() == []
        assert client.get(f"/api/v1/fixes/{done['id']}", headers=AUTH).status_code == 404


def test_stats(client: TestClient, quarantine_items: Put) -> None:
    quarantine_items(_orders(b"1", b"2", b"3"))
    stats = client.get("/api/v1/stats", params={"bucket": "day"}, headers=AUTH).json()
    assert stats["total"] == 3 and stats["bucket"] == "day"
    assert stats["by_code"] == [{"key": "schema_violation", "count": 3}]
    assert stats["by_contract"] == [{"key": "orders", "count": 3}]
    assert sum(p["count"] for p in stats["series"]) == 3
    assert client.get("/api/v1/stats", params={"bucket": "week"}, headers=AUTH).status_code == 422


def test_schemas_register_with_compatibility(client: TestClient) -> None:
    listed = client.get("/api/v1/schemas", headers=AUTH).json()
    assert [(s["name"], s["latest"]) for s in listed] == [("orders", "1.0.0")]
    (v1,) = listed[0]["versions"]
    assert (v1["version"], v1["kind"], v1["source"]) == (
        "1.0.0",
        "json_schema",
        "orders-1.0.0.yaml",
    )
    assert (v1["registered_by"], v1["verdict"]) == (None, "unchecked")  # written by hand
    breaking = {
        **ORDERS,
        "version": "1.1.0",
        "schema": {**ORDERS["schema"], "required": ["order_id", "amount", "currency"]},
    }
    anonymous = client.post("/api/v1/schemas", json={"contract": breaking})
    assert anonymous.status_code == 401  # registration needs the API token
    refused = client.post("/api/v1/schemas", json={"contract": breaking}, headers=AUTH)
    assert refused.status_code == 409
    assert any("currency" in r for r in refused.json()["reasons"])
    compatible = {
        **ORDERS,
        "version": "1.1.0",
        "schema": {**ORDERS["schema"], "required": ["order_id"]},
    }
    created = client.post("/api/v1/schemas", json={"contract": compatible}, headers=AUTH)
    assert created.status_code == 201, created.text
    assert created.json()["latest"] == "1.1.0"
    v11 = created.json()["versions"][-1]
    assert v11["registered_by"] and v11["verdict"] == "compatible" and v11["registered_at"]
    again = client.post("/api/v1/schemas", json={"contract": compatible}, headers=AUTH)
    assert again.status_code == 201  # the same body again: a no-op
    assert again.json()["versions"][-1] == v11
    other = {**compatible, "description": "another body"}
    dup = client.post("/api/v1/schemas", json={"contract": other}, headers=AUTH)
    assert dup.status_code == 409
    bad = client.post("/api/v1/schemas", json={"contract": {"name": "x"}}, headers=AUTH)
    assert bad.status_code == 400


@pytest.mark.parametrize("staging", ["/etc/passwd.csv", "../../secret.csv", "a/../../x.parquet"])
def test_a_registered_contract_cannot_name_a_staging_file_outside_its_folder(
    client: TestClient, staging: str
) -> None:
    load = {"staging": staging, "target": "orders", "conflict_key": ["order_id"]}
    contract = {**ORDERS, "version": "1.1.0", "load": load}
    refused = client.post("/api/v1/schemas", json={"contract": contract}, headers=AUTH)
    assert refused.status_code == 400, refused.text
    assert "contract's folder" in refused.text
    listed = client.get("/api/v1/schemas", headers=AUTH).json()
    assert listed[0]["latest"] == "1.0.0"


def test_body_size_limit(api_settings: ApiSettings) -> None:
    app = create_app(api_settings.model_copy(update={"max_body_bytes": 2048}))
    with TestClient(app) as client:
        big = {"payload": "x" * 4096}
        response = client.patch(f"{RECORDS}/{uuid.uuid4()}", json=big, headers=AUTH)
        assert response.status_code == 413


@pytest.mark.parametrize("origins", [[], ["https://ui.example"]])
def test_cors_is_off_by_default(api_settings: ApiSettings, origins: list[str]) -> None:
    app = create_app(api_settings.model_copy(update={"cors_origins": origins}))
    with TestClient(app) as client:
        response = client.get("/health", headers={"Origin": "https://ui.example"})
        allowed = response.headers.get("access-control-allow-origin")
        assert allowed == ("https://ui.example" if origins else None)


def test_reprocess_remediates_and_counts_its_actions_in_metrics(tmp_path: Path) -> None:
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    spec = {
        "name": "orders",
        "version": "1.0.0",
        "schema": {
            "type": "object",
            "required": ["amount"],
            "properties": {"amount": {"type": "number"}},
        },
        "remediation": [{"field": "amount", "action": "coerce_float"}],
    }
    (contracts / "orders-1.0.0.yaml").write_text(yaml.safe_dump(spec))
    settings = ApiSettings(
        store_url=f"sqlite:///{tmp_path / 'dq.db'}",
        payloads_url=f"file://{tmp_path / 'payloads'}",
        contracts_dir=contracts,
        api_token="t",
        reprocess_sink="store",
    )
    app = create_app(settings)
    with TestClient(app) as client:
        (record_id,) = app.state.review.quarantine.write(
            [make_item(b'{"amount": "3.5"}', errors=(make_violation(path="/amount"),))]
        ).ids
        answer = client.post(
            f"/api/v1/quarantine/records/{record_id}/reprocess",
            headers={"Authorization": "Bearer t"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "reprocessed"
        metrics = client.get("/metrics").text
    assert (
        'dataquarantine_remediations_total{action="coerce_float",contract="orders",'
        'outcome="applied"} 1.0' in metrics
    )
    assert 'dataquarantine_reprocess_total{contract="orders",outcome="reprocessed"} 1.0' in metrics


@pytest.mark.parametrize("name", ["..", "../x", "a/b", "a\\b", "a\x00b", "x" * 200, "\u043erders"])
def test_schemas_refuse_bad_names_with_400(client: TestClient, name: str) -> None:
    contract = {"name": name, "version": "1.0.0", "schema": {"type": "object"}}
    response = client.post("/api/v1/schemas", json={"contract": contract}, headers=AUTH)
    assert response.status_code == 400, response.text
    assert "name" in response.json()["detail"]


def test_schemas_refuse_a_schema_whose_cost_explodes_with_400(client: TestClient) -> None:
    defs: dict[str, Any] = {"d0": {"type": "string"}}
    for i in range(1, 31):
        prev = {"$ref": f"#/$defs/d{i - 1}"}
        defs[f"d{i}"] = {"allOf": [prev, prev]}
    schema = {"$defs": defs, "$ref": "#/$defs/d30"}
    contract = {"name": "bomb", "version": "1.0.0", "schema": schema}
    response = client.post("/api/v1/schemas", json={"contract": contract}, headers=AUTH)
    assert response.status_code == 400, response.text
    assert "too costly to evaluate" in response.json()["detail"]
    assert all(s["name"] != "bomb" for s in client.get("/api/v1/schemas", headers=AUTH).json())
