"""The ``/api/v1/fixes`` endpoints over SQLite and PostgreSQL: preview, run, conflicts,
undo, the confirmation limit, a bad step (400 naming it), make-a-rule, and a job that
survives a restart of the app."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.unit.api.conftest import AUTH

from dataquarantine.api import ApiSettings, create_app
from dataquarantine.kernel.results import ContractRef
from dataquarantine.quarantine.envelope import QuarantineItem
from dataquarantine.quarantine.fix_log import FixJobState
from dataquarantine.quarantine.ports import fix_log
from dataquarantine.testing import make_item, make_violation

Put = Callable[[list[QuarantineItem]], list[uuid.UUID]]
CENTS = [
    {"set": "/amount", "expr": "double(record.cents) / 100.0"},
    {"op": "remove", "path": "/cents"},
]


def _orders(*docs: bytes) -> list[QuarantineItem]:
    ref = ContractRef("orders", "1.0.0")
    return [make_item(d, line=i, contract=ref) for i, d in enumerate(docs)]


def _wait(client: TestClient, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/api/v1/fixes/{job_id}", headers=AUTH).json()
        if job["state"] in ("done", "failed", "interrupted"):
            return job
        time.sleep(0.02)
    raise AssertionError("job did not finish")


def test_preview_run_and_undo(client: TestClient, quarantine_items: Put) -> None:
    ids = quarantine_items(
        _orders(
            b'{"order_id": "a", "cents": 1250}',
            b'{"order_id": "b", "cents": -5}',
            b'{"order_id": "c", "amount": 1}',
        )
    )
    body = {"steps": CENTS, "schema_name": "orders"}
    preview = client.post("/api/v1/fixes/preview", json=body, headers=AUTH)
    assert preview.status_code == 200, preview.text
    p = preview.json()
    assert (p["total"], p["applies"], p["step_errors"]) == (3, 2, 1)
    assert {i["valid"] for i in p["items"]} == {True, False}
    assert (
        client.get(f"/api/v1/quarantine/records/{ids[0]}", headers=AUTH).json()["revisions"] == []
    )

    started = client.post("/api/v1/fixes", json=body, headers=AUTH)
    assert started.status_code == 202
    job = _wait(client, started.json()["id"])
    assert job["counts"] == {"fixed_valid": 1, "fixed_invalid": 1, "step_error": 1}
    detail = client.get(f"/api/v1/quarantine/records/{ids[0]}", headers=AUTH).json()
    assert detail["revisions"][-1]["kind"] == "fix"
    assert [e["action"] for e in detail["events"]][-1] == "fix"
    assert [j["id"] for j in client.get("/api/v1/fixes", headers=AUTH).json()] == [job["id"]]

    undone = client.post(f"/api/v1/fixes/{job['id']}/undo", headers=AUTH)
    assert undone.status_code == 202
    assert _wait(client, undone.json()["id"])["counts"] == {"reverted": 2}
    detail = client.get(f"/api/v1/quarantine/records/{ids[0]}", headers=AUTH).json()
    assert detail["revisions"][-1]["kind"] == "undo"


def test_the_set_can_be_a_violation_path(client: TestClient, quarantine_items: Put) -> None:
    ref = ContractRef("orders", "1.0.0")
    on_cents = make_violation(path="/cents", message="cents is not allowed")
    quarantine_items(
        [
            make_item(b'{"order_id": "a", "cents": 1250}', line=1, contract=ref, errors=[on_cents]),
            make_item(b'{"order_id": "b", "cents": 7}', line=2, contract=ref),
        ]
    )
    body = {"steps": CENTS, "schema_name": "orders", "path": "/cents"}
    preview = client.post("/api/v1/fixes/preview", json=body, headers=AUTH).json()
    assert (preview["total"], preview["applies"]) == (1, 1)
    started = client.post("/api/v1/fixes", json=body, headers=AUTH)
    assert started.status_code == 202
    job = _wait(client, started.json()["id"])
    assert (job["total"], job["filter"]["path"]) == (1, "/cents")
    assert job["counts"] == {"fixed_valid": 1}


def test_bad_input(client: TestClient, quarantine_items: Put) -> None:
    quarantine_items(_orders(b'{"order_id": "a"}'))
    bad = client.post(
        "/api/v1/fixes/preview",
        json={"steps": [{"op": "replace", "path": "/a", "value": 1}, {"set": "/a", "expr": "1 +"}]},
        headers=AUTH,
    )
    assert bad.status_code == 400 and "step 2" in bad.json()["detail"]
    assert client.post("/api/v1/fixes", json={"steps": CENTS}).status_code == 401
    assert client.post("/api/v1/fixes", json={"steps": []}, headers=AUTH).status_code == 422
    assert client.get("/api/v1/fixes/nope", headers=AUTH).status_code == 404
    assert client.post("/api/v1/fixes/nope/undo", headers=AUTH).status_code == 404


def test_confirmation_limit(api_settings: ApiSettings, quarantine_items: Put) -> None:
    app = create_app(api_settings.model_copy(update={"fix_confirm_above": 1}))
    with TestClient(app) as client:
        app.state.review.quarantine.write(_orders(b'{"cents": 1}', b'{"cents": 2}'))
        refused = client.post("/api/v1/fixes", json={"steps": CENTS}, headers=AUTH)
        assert refused.status_code == 400 and "confirm" in refused.json()["detail"]
        ok = client.post("/api/v1/fixes", json={"steps": CENTS, "confirm": True}, headers=AUTH)
        assert ok.status_code == 202


def test_make_a_rule(client: TestClient) -> None:
    steps = [{"action": "coerce_float", "path": "/amount"}]
    proposed = client.post(
        "/api/v1/fixes/rule", json={"contract": "orders", "steps": steps}, headers=AUTH
    )
    assert proposed.status_code == 200
    assert proposed.json()["document"]["remediation"] == [
        {"field": "/amount", "action": "coerce_float"}
    ]
    assert proposed.json()["registered"] is None
    registered = client.post(
        "/api/v1/fixes/rule",
        json={"contract": "orders", "steps": steps, "register_version": True},
        headers=AUTH,
    )
    assert registered.status_code == 200, registered.text
    assert registered.json()["registered"]["latest"] == "1.1.0"
    cel = client.post(
        "/api/v1/fixes/rule", json={"contract": "orders", "steps": CENTS}, headers=AUTH
    )
    assert cel.status_code == 400 and "step 1 (cel)" in cel.json()["detail"]


def test_a_job_survives_a_restart(api_settings: ApiSettings, app: FastAPI) -> None:
    with TestClient(app) as client:
        app.state.review.quarantine.write(_orders(b'{"order_id": "a", "cents": 1}'))
        job = _wait(
            client, client.post("/api/v1/fixes", json={"steps": CENTS}, headers=AUTH).json()["id"]
        )
        # as if the server had stopped while it ran
        fix_log(app.state.review.store).update_job(job["id"], state=FixJobState.RUNNING)
    restarted = create_app(api_settings)
    with TestClient(restarted) as client:
        seen = client.get(f"/api/v1/fixes/{job['id']}", headers=AUTH).json()
        assert seen["state"] == "interrupted" and seen["counts"] == {"fixed_valid": 1}
        resumed = client.post(f"/api/v1/fixes/{job['id']}/resume", headers=AUTH)
        assert resumed.status_code == 202
        assert _wait(client, job["id"])["state"] == "done"
