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


#: What a browser sends with a form posted from the UI's own page.
SAME_ORIGIN = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}


@pytest.fixture
def client(service: ReviewService, settings: ApiSettings) -> TestClient:
    app = create_app(settings, service=service)
    return TestClient(app, follow_redirects=False, headers=SAME_ORIGIN)


def _token_in(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _csrf(client: TestClient) -> str:
    """The CSRF token of the browser's current session, as a page gives it."""
    page = client.get("/login")
    assert client.cookies.get("dq_sid")
    return _token_in(page.text)


def _login(client: TestClient) -> str:
    """Log in; the token of the logged-in session (bound to it, not to the browser id)."""
    csrf = _csrf(client)
    response = client.post("/login", data={"csrf_token": csrf, "token": TOKEN, "name": "ann"})
    assert response.status_code == 303
    return _token_in(client.get("/records").text)


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


def test_the_contracts_page_shows_each_version_and_its_registration(
    client: TestClient, service: ReviewService
) -> None:
    assert client.get("/contracts").status_code == 303  # reads need a session
    v2 = {
        "name": "orders",
        "version": "1.1.0",
        "schema": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
    }
    service.register_schema(v2, actor="<b>ann</b>")
    _login(client)
    page = client.get("/contracts")
    assert page.status_code == 200
    assert "1.1.0" in page.text and "compatible" in page.text
    assert "&lt;b&gt;ann&lt;/b&gt;" in page.text and "<b>ann</b>" not in page.text


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


# -- cross-origin forgery: a page on another port of the same host ---------------------------

EVIL_PAGE = {"Origin": "http://testserver:8081", "Sec-Fetch-Site": "same-site"}


def _plant(client: TestClient, name: str, value: str) -> None:
    """Set a cookie as a page on another port of the host could (ports do not isolate them)."""
    client.cookies.set(name, value, domain="testserver.local", path="/")


def _untouched(service: ReviewService) -> None:
    detail = service.get(_record_id(service))
    assert detail.record.status.value == "quarantined"
    assert not detail.events


def test_a_page_on_another_port_cannot_discard_with_its_own_cookie(
    client: TestClient, service: ReviewService
) -> None:
    _login(client)
    url = f"/ui/records/{_record_id(service)}/discard"
    # The reported attack: set dq_csrf=evil (the old double-submit cookie) and post it.
    _plant(client, "dq_csrf", "evil")
    form = {"csrf_token": "evil", "reason": "pwned"}
    assert client.post(url, data=form, headers=EVIL_PAGE).status_code == 403
    # The browser id can be planted too; the token is still not "evil".
    _plant(client, "dq_sid", "e" * 43)
    assert client.post(url, data=form, headers=EVIL_PAGE).status_code == 403
    # Even if the origin evidence were missing or faked, the token is bound to the session.
    assert client.post(url, data=form).status_code == 403
    _untouched(service)


def test_a_planted_browser_id_with_its_valid_token_does_not_pass_for_a_logged_in_reviewer(
    client: TestClient, service: ReviewService, settings: ApiSettings
) -> None:
    # The attacker asks the server itself for a browser id and its token...
    with TestClient(client.app, headers=SAME_ORIGIN, follow_redirects=False) as attacker:  # type: ignore[arg-type]
        token = _csrf(attacker)
        sid = attacker.cookies["dq_sid"]
    _login(client)
    # ... and plants that id in the reviewer's browser, then posts the matching token.
    _plant(client, "dq_sid", sid)
    url = f"/ui/records/{_record_id(service)}/discard"
    assert client.post(url, data={"csrf_token": token, "reason": "x"}).status_code == 403
    _untouched(service)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "http://testserver:8081"},
        {"Origin": "https://testserver"},
        {"Origin": "null"},
        {"Origin": "http://testserver", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://testserver", "Sec-Fetch-Site": "same-site"},
        {"Origin": "http://testserver", "Sec-Fetch-Site": "none"},
    ],
    ids=lambda h: " ".join(f"{k}={v}" for k, v in h.items()),
)
def test_unsafe_requests_from_another_origin_are_refused(
    client: TestClient, service: ReviewService, headers: dict[str, str]
) -> None:
    csrf = _login(client)
    url = f"/ui/records/{_record_id(service)}/discard"
    response = client.post(url, data={"csrf_token": csrf, "reason": "x"}, headers=headers)
    assert response.status_code == 403
    _untouched(service)


def test_unsafe_requests_need_same_origin_evidence(
    client: TestClient, service: ReviewService
) -> None:
    csrf = _login(client)
    url = f"/ui/records/{_record_id(service)}/discard"
    for name in SAME_ORIGIN:
        del client.headers[name]
    form = {"csrf_token": csrf, "reason": "x"}
    assert client.post(url, data=form).status_code == 403  # none of the three headers
    cross_referer = client.post(url, data=form, headers={"Referer": "http://testserver:81/x"})
    assert cross_referer.status_code == 403
    _untouched(service)
    ok = client.post(url, data=form, headers={"Referer": "http://testserver/records"})
    assert ok.status_code == 303


def test_missing_or_foreign_csrf_tokens_are_refused(
    client: TestClient, service: ReviewService
) -> None:
    csrf = _login(client)
    url = f"/ui/records/{_record_id(service)}/discard"
    assert client.post(url, data={"reason": "x"}).status_code == 403
    assert client.post(url, data={"reason": "x", "csrf_token": ""}).status_code == 403
    # Another reviewer's valid token is not this session's.
    with TestClient(client.app, headers=SAME_ORIGIN, follow_redirects=False) as other:  # type: ignore[arg-type]
        theirs = _login(other)
    assert theirs != csrf
    assert client.post(url, data={"reason": "x", "csrf_token": theirs}).status_code == 403
    # The token the page had before login is not the logged-in session's either.
    with TestClient(client.app, headers=SAME_ORIGIN, follow_redirects=False) as fresh:  # type: ignore[arg-type]
        before = _csrf(fresh)
    assert client.post(url, data={"reason": "x", "csrf_token": before}).status_code == 403
    _untouched(service)
    # The header form (htmx) works like the field.
    ok = client.post(url, data={"reason": "ok"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 303
    assert service.get(_record_id(service)).record.status.value == "discarded"


def test_the_api_with_a_bearer_token_needs_no_origin(
    client: TestClient, service: ReviewService
) -> None:
    """Bearer tokens are never sent by a browser on its own, so the API checks no origin."""
    rid = _record_id(service)
    for name in SAME_ORIGIN:
        del client.headers[name]
    response = client.post(
        f"/api/v1/quarantine/records/{rid}/resolve",
        json={"reason": "from a script"},
        headers={"Authorization": f"Bearer {TOKEN}", "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 200, response.text
    assert service.get(rid).record.status.value == "resolved"


# -- login rate limit -------------------------------------------------------------------------


def test_login_is_rate_limited_per_client(settings: ApiSettings, service: ReviewService) -> None:
    limited = settings.model_copy(update={"login_max_failures": 3, "login_window_seconds": 60})
    app = create_app(limited, service=service)
    now = [0.0]
    app.state.login_limiter.clock = lambda: now[0]
    client = TestClient(app, follow_redirects=False, headers=SAME_ORIGIN)
    csrf = _csrf(client)
    for _ in range(3):
        wrong = client.post("/login", data={"csrf_token": csrf, "token": "guess"})
        assert wrong.status_code == 401
    refused = client.post("/login", data={"csrf_token": csrf, "token": "guess"})
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"
    # While refused, even the right token is (or guessing would go on).
    right = client.post("/login", data={"csrf_token": csrf, "token": TOKEN})
    assert right.status_code == 429
    now[0] = 59.2
    assert (
        client.post("/login", data={"csrf_token": csrf, "token": TOKEN}).headers["retry-after"]
        == "1"
    )
    now[0] = 60.0
    assert client.post("/login", data={"csrf_token": csrf, "token": TOKEN}).status_code == 303
    # The success cleared the count: three more failures are allowed again.
    csrf = _csrf(client)  # now bound to the new session
    for _ in range(3):
        assert client.post("/login", data={"csrf_token": csrf, "token": "x"}).status_code == 401
    assert client.post("/login", data={"csrf_token": csrf, "token": "x"}).status_code == 429
