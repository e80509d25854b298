"""The UI's HTTP behaviour without a browser: auth, CSRF, escaping, errors (real SQLite store)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dataquarantine.api import ApiSettings, create_app
from dataquarantine.quarantine.envelope import FileSource, QuarantineItem
from dataquarantine.review import ReviewService
from dataquarantine.validation.contract import Contract

TOKEN = "unit-token"
CONTRACT = """\
name: orders
version: 1.0.0
schema:
  type: object
  required: [id, email]
  properties:
    id: {type: string}
    email: {type: string, pattern: "^[^@]+@[^@]+$"}
"""
EVIL = b'{"id":"<script>alert(1)</script>","email":"\\"><img src=x onerror=alert(2)>"}'


@pytest.fixture
def settings(tmp_path: Path) -> ApiSettings:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts/orders.yaml").write_text(CONTRACT)
    return ApiSettings(
        store_url=f"sqlite:///{tmp_path / 'q.db'}",
        payloads_url=f"file://{tmp_path / 'payloads'}",
        contracts_dir=tmp_path / "contracts",
        api_token=TOKEN,
    )


@pytest.fixture
def service(settings: ApiSettings) -> Iterator[ReviewService]:
    review = ReviewService.open(settings)
    contract = Contract.from_file(settings.contracts_dir / "orders.yaml")
    errors = contract.validate(EVIL).errors
    review.quarantine.write([QuarantineItem(FileSource("in.jsonl", 1), EVIL, errors, contract.ref)])
    yield review
    review.close()


@pytest.fixture
def client(service: ReviewService, settings: ApiSettings) -> TestClient:
    return TestClient(create_app(settings, service=service), follow_redirects=False)


def _csrf(client: TestClient) -> str:
    client.get("/login")
    token = client.cookies.get("dq_csrf")
    assert token
    return token


def _login(client: TestClient) -> str:
    csrf = _csrf(client)
    response = client.post("/login", data={"csrf_token": csrf, "token": TOKEN, "name": "ann"})
    assert response.status_code == 303
    return csrf


def _record_id(service: ReviewService) -> uuid.UUID:
    return service.list().items[0].id


def test_reads_need_a_session_when_a_token_is_set(client: TestClient) -> None:
    response = client.get("/records?code=parse_error")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/records%3Fcode%3Dparse_error"
    _login(client)
    assert client.get("/records").status_code == 200


def test_login_refuses_a_wrong_token_and_never_redirects_off_site(client: TestClient) -> None:
    csrf = _csrf(client)
    wrong = client.post("/login", data={"csrf_token": csrf, "token": "nope"})
    assert wrong.status_code == 401
    assert "dq_session" not in wrong.cookies
    ok = client.post(
        "/login", data={"csrf_token": csrf, "token": TOKEN, "next": "//evil.example/x"}
    )
    assert ok.headers["location"] == "/"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert TOKEN not in cookie


def test_mutations_need_the_csrf_token_and_same_site(
    client: TestClient, service: ReviewService
) -> None:
    csrf = _login(client)
    url = f"/ui/records/{_record_id(service)}/resolve"
    assert client.post(url, data={"reason": "x"}).status_code == 403
    assert client.post(url, data={"reason": "x", "csrf_token": "forged" * 5}).status_code == 403
    cross = client.post(
        url, data={"reason": "x", "csrf_token": csrf}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross.status_code == 403
    ok = client.post(url, data={"reason": "dup", "csrf_token": csrf})
    assert ok.status_code == 303 and ok.headers["location"].endswith("?flash=resolved")
    events = service.get(_record_id(service)).events
    assert [(e.actor, e.reason) for e in events] == [("web:ann", "dup")]


def test_mutations_need_a_session(client: TestClient, service: ReviewService) -> None:
    csrf = _csrf(client)
    url = f"/ui/records/{_record_id(service)}/reprocess"
    response = client.post(url, data={"csrf_token": csrf})
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    htmx = client.post(url, data={"csrf_token": csrf}, headers={"HX-Request": "true"})
    assert htmx.status_code == 401
    assert service.get(_record_id(service)).record.attempts == 0


def test_payload_markup_is_escaped_and_pages_carry_a_strict_csp(
    client: TestClient, service: ReviewService
) -> None:
    _login(client)
    page = client.get(f"/records/{_record_id(service)}")
    assert page.status_code == 200
    html = page.text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    # No inline script or style anywhere (the CSP would block them).
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "<style" not in html and " style=" not in html


def test_unknown_records_and_bad_input(client: TestClient, service: ReviewService) -> None:
    csrf = _login(client)
    assert client.get(f"/records/{uuid.uuid4()}").status_code == 404
    assert client.get("/records/not-a-uuid").status_code == 404
    rid = _record_id(service)
    bad_json = client.post(
        f"/ui/records/{rid}/edit", data={"csrf_token": csrf, "payload": '{"id": 1,'}
    )
    assert bad_json.status_code == 422
    assert client.post(f"/ui/records/{rid}/discard", data={"csrf_token": csrf}).status_code == 422
    assert client.post(f"/ui/records/{rid}/explode", data={"csrf_token": csrf}).status_code == 404
    filtered = client.get("/records?status=bogus&since=yesterday")
    assert filtered.status_code == 200 and "unknown status" in filtered.text


def test_edit_then_reprocess_from_the_form(client: TestClient, service: ReviewService) -> None:
    csrf = _login(client)
    rid = _record_id(service)
    response = client.post(
        f"/ui/records/{rid}/edit",
        data={
            "csrf_token": csrf,
            "payload": '{"id": "A1", "email": "a@b.c"}',
            "then": "reprocess",
        },
    )
    assert response.headers["location"] == f"/records/{rid}?flash=reprocessed"
    detail = service.get(rid)
    assert detail.record.status.value == "reprocessed"
    assert detail.latest_payload == b'{"id":"A1","email":"a@b.c"}'
    page = client.get(response.headers["location"]).text
    assert "Reprocessed: the record is valid" in page
    assert "Revision 1 · edit by web:ann" in page


def test_bulk_reprocess_starts_a_job(client: TestClient, service: ReviewService) -> None:
    csrf = _login(client)
    started = client.post(
        "/ui/bulk", data={"csrf_token": csrf, "action": "reprocess", "contract": "orders"}
    )
    assert started.status_code == 303
    job_id = started.headers["location"].rsplit("/", 1)[1]
    service.jobs.wait(job_id)
    page = client.get(f"/jobs/{job_id}")
    assert page.status_code == 200 and "1 / 1 processed" in page.text
    assert client.get("/jobs/nope").status_code == 404


def test_dashboard_renders(client: TestClient) -> None:
    _login(client)
    for query in ("", "?range=24h", "?range=all", "?range=bogus"):
        page = client.get("/" + query)
        assert page.status_code == 200
        assert "<svg" in page.text


def test_bulk_discard_needs_a_reason_and_closes_the_filtered_set(
    client: TestClient, service: ReviewService
) -> None:
    csrf = _login(client)
    form = {"csrf_token": csrf, "action": "discard", "code": "schema_violation"}
    assert client.post("/ui/bulk", data=form).status_code == 422
    started = client.post("/ui/bulk", data={**form, "reason": "test data"})
    job_id = started.headers["location"].rsplit("/", 1)[1]
    assert service.jobs.wait(job_id).closed == 1
    assert service.list().items[0].status.value == "discarded"
    htmx = client.post("/ui/bulk", data={**form, "reason": "again"}, headers={"HX-Request": "true"})
    assert htmx.status_code == 200 and 'data-testid="job-state"' in htmx.text
    assert client.post("/ui/bulk", data={**form, "action": "explode"}).status_code == 422
