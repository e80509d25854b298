"""The UI's bulk fix flow without a browser: editor, preview (a bad step is named), run,
results, undo and make-a-rule, all behind the session and CSRF (real SQLite store)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dataquarantine.api import ApiSettings, create_app
from dataquarantine.kernel.results import ContractRef
from dataquarantine.review import ReviewService
from dataquarantine.testing import make_item

TOKEN = "unit-token"
CONTRACT = """\
name: users
version: 1.0.0
schema:
  type: object
  required: [status]
  properties:
    status: {enum: [active, blocked]}
"""
SAME_ORIGIN = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
LOWER = "- set: /status\n  expr: record.status.lowerAscii()\n"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[ReviewService, ApiSettings]]:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts/users.yaml").write_text(CONTRACT)
    settings = ApiSettings(
        store_url=f"sqlite:///{tmp_path / 'q.db'}",
        payloads_url=f"file://{tmp_path / 'payloads'}",
        contracts_dir=tmp_path / "contracts",
        api_token=TOKEN,
    )
    review = ReviewService.open(settings)
    ref = ContractRef("users", "1.0.0")
    review.quarantine.write(
        [
            make_item(b'{"status": "%s"}' % s, line=i, contract=ref)
            for i, s in enumerate([b"ACTIVE", b"GONE"])
        ]
    )
    yield review, settings
    review.close()


@pytest.fixture
def client(service: tuple[ReviewService, ApiSettings]) -> TestClient:
    review, settings = service
    return TestClient(
        create_app(settings, service=review), follow_redirects=False, headers=SAME_ORIGIN
    )


def _token_in(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def _login(client: TestClient) -> str:
    csrf = _token_in(client.get("/login").text)
    assert client.post("/login", data={"csrf_token": csrf, "token": TOKEN}).status_code == 303
    return _token_in(client.get("/records").text)


def test_the_flow_from_the_records_table(
    client: TestClient, service: tuple[ReviewService, ApiSettings]
) -> None:
    review, _ = service
    assert client.get("/fixes/new?contract=users").status_code == 303  # needs a session
    csrf = _login(client)
    records = client.get("/records?contract=users").text
    assert 'id="fix-all"' in records and "/fixes/new?contract=users" in records
    editor = client.get("/fixes/new?contract=users")
    assert editor.status_code == 200 and "Fix all 2 matching records" in editor.text

    form = {"csrf_token": csrf, "contract": "users", "steps": LOWER}
    assert (
        client.post("/ui/fixes/preview", data={**form, "csrf_token": "forged"}).status_code == 403
    )
    preview = client.post("/ui/fixes/preview", data=form)
    assert preview.status_code == 200
    assert 'data-testid="preview-applies">2<' in preview.text
    assert "valid now" in preview.text and "still invalid" in preview.text
    assert not review.get(review.list().items[0].id).revisions  # nothing written

    bad = client.post(
        "/ui/fixes/preview", data={**form, "steps": LOWER + "- op: nope\n  path: /a\n"}
    )
    assert bad.status_code == 422 and "step 2" in bad.text

    started = client.post("/ui/fixes/run", data=form)
    assert started.status_code == 303
    job_id = started.headers["location"].rsplit("/", 1)[1]
    review.fixes.wait(job_id)
    results = client.get(f"/fixes/{job_id}").text
    assert "fixed valid: 1" in results and "fixed invalid: 1" in results
    assert 'id="undo-button"' in results and 'id="rule-button"' in results

    undone = client.post(f"/ui/fixes/{job_id}/undo", data={"csrf_token": csrf})
    assert undone.status_code == 303
    undo_id = undone.headers["location"].rsplit("/", 1)[1]
    review.fixes.wait(undo_id)
    assert "reverted: 2" in client.get(f"/fixes/{undo_id}").text
    assert client.get("/fixes/nope").status_code == 404


def test_make_a_rule_proposes_then_registers(
    client: TestClient, service: tuple[ReviewService, ApiSettings]
) -> None:
    review, _ = service
    csrf = _login(client)
    steps = "- action: lowercase\n  path: /status\n"
    started = client.post(
        "/ui/fixes/run", data={"csrf_token": csrf, "contract": "users", "steps": steps}
    )
    job_id = started.headers["location"].rsplit("/", 1)[1]
    review.fixes.wait(job_id)
    proposal = client.post(
        f"/ui/fixes/{job_id}/rule", data={"csrf_token": csrf, "contract": "users"}
    )
    assert proposal.status_code == 200 and "action: lowercase" in proposal.text
    assert "1.1.0" in proposal.text
    registered = client.post(
        f"/ui/fixes/{job_id}/rule",
        data={"csrf_token": csrf, "contract": "users", "register": "yes"},
    )
    assert registered.status_code == 303 and registered.headers["location"] == "/contracts"
    assert (
        review.registry.get("users").version == "1.1.0"
        or str(review.registry.get("users").version) == "1.1.0"
    )
