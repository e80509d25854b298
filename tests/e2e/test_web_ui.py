"""The web UI in a real browser: headless Debian chromium driven by Playwright, against the real
app (``dataquarantine.api.create_app``) served by uvicorn on a loopback port, over a SQLite store
and a payload folder filled by ``dataquarantine validate`` (and a week of backdated records
written through the real store, so the dashboard has history to chart).

Playwright's own browser download is never used: ``executable_path=/usr/bin/chromium``
(``.ci/run`` installs Debian's package). Under ``CI=true`` a missing chromium is a failure.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR, write_jsonl
from dataquarantine.quarantine.envelope import (
    FileSource,
    PayloadRef,
    QuarantineItem,
    QuarantineRecord,
)
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.validation.registry import ContractRegistry, Router

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "e2e-secret-token"
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "img"

ORDERS_CONTRACT = """\
name: orders
version: 1.0.0
schema:
  type: object
  required: [_schema, order_id, email, amount]
  properties:
    _schema: {type: string}
    order_id: {type: string, pattern: "^ORD-[0-9]{4}$"}
    email: {type: string, pattern: "^[^@ ]+@[^@ ]+$"}
    amount: {type: number, minimum: 0}
    note: {type: string, maxLength: 20}
"""

ORDERS = [
    b'{"_schema":"orders","order_id":"ORD-0001","email":"ana@example.com","amount":12.5}',
    b'{"_schema":"orders","order_id":"ORD-0002","email":"bob at example.com","amount":30}',
    b'{"_schema":"orders","order_id":"ORD-0003","email":"cy@example.com","amount":-4}',
    b'{"_schema":"orders","order_id":"ORD-0004","email":"dee@example.com","amount":9,'
    b'"note":"<img src=x onerror=alert(1)><script>alert(2)</script>"}',
    b'{"_schema":"orders","order_id":"ORD-0005","amount":1}',
    b'{"_schema":"orders","order_id":"ORD-0006","email":"eve@example.com","amount":"7"}',
]


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Site:
    url: str
    store_url: str
    payloads_url: str
    workspace: Path


def _cli(workspace: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DQ_")}
    return subprocess.run(
        [sys.executable, "-m", "dataquarantine.cli.app", *args],
        cwd=workspace,
        env=env,
        capture_output=True,
        timeout=300,
    )


def _backfill(workspace: Path, store_url: str, payloads_url: str) -> None:
    """A week of demo records quarantined in the past (write time is always "now" in
    ``Quarantine.write``, so these go through the store's own insert with older timestamps)."""
    lines = workspace / "history.jsonl"
    write_jsonl(lines, 1400, bad_ratio=0.12, seed=7)
    raws = [line for line in lines.read_bytes().split(b"\n") if line]
    router = Router(ContractRegistry.from_directory(workspace / "contracts"))
    result = router.validate_batch(raws)
    now = datetime.now(UTC)
    with Quarantine.open(store_url, payloads_url) as quarantine:
        bad = sorted(result.invalid)
        data = b"".join(raws[i] for i in bad)
        key = quarantine.payloads.put_chunk(data)
        records: list[QuarantineRecord] = []
        offset = 0
        for n, i in enumerate(bad):
            raw, res = raws[i], result.invalid[i]
            item = QuarantineItem(
                source=FileSource("landing/events-history.jsonl", i + 1),
                payload=raw,
                errors=res.errors,
                contract=res.contract,
                run_id="backfill",
            )
            digest = hashlib.sha256(raw).hexdigest()
            records.append(
                QuarantineRecord(
                    id=item.record_id(digest),
                    source=item.source,
                    errors=item.errors,
                    payload=PayloadRef(key, offset, len(raw), digest),
                    contract=res.contract.name if res.contract else None,
                    contract_version=res.contract.version if res.contract else None,
                    # Spread over 7 days, busier towards today.
                    quarantined_at=now - timedelta(hours=(n * 7919) % (24 * 7) * (n % 3) / 2),
                    run_id="backfill",
                    dedup_key=item.dedup_key(digest),
                )
            )
            offset += len(raw)
        quarantine.store.insert_many(records)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    _require_chromium()
    import uvicorn

    from dataquarantine.api import ApiSettings, create_app

    workspace = tmp_path_factory.mktemp("web-ui")
    contracts = workspace / "contracts"
    contracts.mkdir()
    for path in DEMO_CONTRACTS_DIR.iterdir():
        (contracts / path.name).write_bytes(path.read_bytes())
    (contracts / "orders.yaml").write_text(ORDERS_CONTRACT)
    (workspace / "orders.jsonl").write_bytes(b"\n".join(ORDERS) + b"\n")
    write_jsonl(workspace / "events.jsonl", 600, bad_ratio=0.1, seed=3)
    store_url = f"sqlite:///{workspace / 'quarantine.db'}"
    payloads_url = f"file://{workspace / 'payloads'}"
    common = ("--contracts", str(contracts), "--store", store_url, "--payloads", payloads_url)
    for name in ("orders.jsonl", "events.jsonl"):
        proc = _cli(workspace, "validate", name, *common, "--no-progress")
        assert proc.returncode in (0, 1), proc.stderr.decode()
    _backfill(workspace, store_url, payloads_url)

    settings = ApiSettings(
        store_url=store_url,
        payloads_url=payloads_url,
        contracts_dir=contracts,
        api_token=TOKEN,
        reprocess_sink=f"file://{workspace / 'reprocessed.jsonl'}",
    )
    app = create_app(settings)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="web-ui-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield Site(f"http://127.0.0.1:{port}", store_url, payloads_url, workspace)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: object, site: Site) -> Iterator[object]:
    """A logged-in page (fresh cookies per test) that fails the test on any page error."""
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=site.url)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))
    pg.goto("/login")
    pg.fill("#token", TOKEN)
    pg.fill("#name", "e2e")
    pg.click("button[type=submit]")
    pg.wait_for_url(f"{site.url}/")
    yield pg
    context.close()
    assert errors == []


def _total(pg: object) -> int:
    from playwright.sync_api import Page

    assert isinstance(pg, Page)
    text = pg.locator("#results [data-testid=total]").inner_text()
    return int(re.sub(r"\D", "", text))


def test_login_is_required_and_wrong_tokens_are_refused(browser: object, site: Site) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    context = browser.new_context(base_url=site.url)
    pg = context.new_page()
    pg.goto("/records?code=parse_error")
    expect(pg).to_have_url(re.compile(r"/login\?next="))
    pg.fill("#token", "wrong")
    pg.click("button[type=submit]")
    expect(pg.locator(".flash.error")).to_contain_text("not right")
    pg.fill("#token", TOKEN)
    pg.click("button[type=submit]")
    expect(pg).to_have_url(f"{site.url}/records?code=parse_error")
    cookies = {c["name"]: c for c in context.cookies()}
    assert cookies["dq_session"]["httpOnly"] and cookies["dq_session"]["sameSite"] == "Strict"
    assert TOKEN not in cookies["dq_session"]["value"]
    context.close()


def test_dashboard_charts_the_quarantine(page: object) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto("/")
    expect(page.locator("h1")).to_have_text("Quarantine dashboard")
    total = int(re.sub(r"\D", "", page.locator("[data-testid=total]").inner_text()))
    assert total > 100
    bars = page.locator("svg.chart rect title")
    assert bars.count() > 7  # several days, several codes
    expect(page.locator("svg.chart")).to_contain_text("schema_violation")
    expect(page.locator("svg.hbar").first).to_contain_text("user_event")
    page.click("text=Last 24 hours")
    expect(page).to_have_url(re.compile(r"range=24h"))
    page.locator("svg.hbar a", has_text="orders").click()
    expect(page).to_have_url(re.compile(r"/records\?contract=orders"))
    assert _total(page) == 5


def test_filters_narrow_the_table_with_true_totals(page: object) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto("/records")
    everything = _total(page)
    assert everything > 100
    expect(page.locator("#records-table tbody tr")).to_have_count(50)  # one page of many
    page.select_option("#f-code", "parse_error")  # htmx swaps the results in place
    expect(page).to_have_url(re.compile(r"code=parse_error"))
    parse_errors = _total(page)
    assert 0 < parse_errors < everything
    for badge in page.locator("#records-table tbody .badge.code").all_inner_texts():
        assert badge == "parse_error"
    page.select_option("#f-code", "")
    page.fill("#f-contract", "orders")
    page.fill("#f-q", "minimum")
    page.press("#f-q", "Enter")
    expect(page.locator("#results [data-testid=total]")).to_have_text("1")
    expect(page.locator("#records-table tbody")).to_contain_text("/amount")
    page.fill("#f-q", "")
    page.fill("#f-field", "/amount")  # a violation's path, exactly
    page.press("#f-field", "Enter")
    expect(page).to_have_url(re.compile(r"field=%2Famount"))
    by_field = _total(page)
    assert 1 <= by_field < everything
    page.fill("#f-field", "/amoun")
    page.press("#f-field", "Enter")
    expect(page.locator("#results [data-testid=total]")).to_have_text("0")
    page.select_option("#f-size", "25")
    page.goto("/records?size=25&page=2")
    expect(page.locator("#records-table tbody tr")).to_have_count(25)
    expect(page.locator(".pager .muted")).to_contain_text("page 2 of")


def test_fix_a_record_reprocess_it_and_see_it_leave_the_quarantine(
    page: object, site: Site
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto("/records?contract=orders&status=quarantined")
    before = _total(page)
    page.fill("#f-q", "does not match")
    page.press("#f-q", "Enter")
    expect(page.locator("#results [data-testid=total]")).to_have_text("1")
    page.locator("#records-table tbody a").first.click()
    expect(page.locator("[data-testid=status]")).to_have_text("quarantined")
    # The failing path is highlighted in the pretty-printed payload and linked from the errors.
    mark = page.locator("#payload mark.bad")
    expect(mark).to_have_count(1)
    expect(mark).to_have_attribute("data-pointer", "/email")
    expect(mark).to_contain_text("bob at example.com")
    expect(page.locator("#errors")).to_contain_text("/email")

    editor = page.locator("#editor")
    fixed = json.loads(editor.input_value())
    fixed["email"] = "bob@example.com"
    editor.fill(json.dumps(fixed, indent=2))
    page.click("#save-reprocess")
    expect(page.locator(".flash.ok")).to_contain_text("Reprocessed")
    expect(page.locator("[data-testid=status]")).to_have_text("reprocessed")
    expect(page.locator("#history")).to_contain_text("web:e2e")
    expect(page.locator("#history")).to_contain_text("reprocess")
    expect(page.locator("#revision-1 .diff .add")).to_contain_text('"bob@example.com"')
    expect(page.locator("#revision-1 .diff .del")).to_contain_text('"bob at example.com"')

    page.goto("/records?contract=orders&status=quarantined")
    assert _total(page) == before - 1
    expect(page.locator("#records-table")).not_to_contain_text("bob at example.com")
    page.goto("/records?contract=orders&status=reprocessed")
    assert _total(page) == 1
    # It went on to the valid sink, corrected, keyed by its quarantine id.
    sent = [json.loads(line) for line in (site.workspace / "reprocessed.jsonl").open()]
    assert [r["record"]["email"] for r in sent if r["contract"] == "orders"] == ["bob@example.com"]


def test_editor_refuses_invalid_json_before_submitting(page: object) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto("/records?contract=orders&q=minimum")
    page.locator("#records-table tbody a").first.click()
    page.fill("#editor", '{"amount": 4,')
    expect(page.locator("#editor-error")).to_contain_text("Not valid JSON")
    expect(page.locator("#save-reprocess")).to_be_disabled()
    page.fill("#editor", '{"amount": 4}')
    expect(page.locator("#save-reprocess")).to_be_enabled()
    expect(page.locator("#editor-error")).to_have_text("")


def test_html_in_payloads_is_shown_never_run(page: object) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto("/records?contract=orders&q=longer+than")
    expect(page.locator("#results [data-testid=total]")).to_have_text("1")
    page.locator("#records-table tbody a").first.click()
    expect(page.locator("#payload mark.bad")).to_have_attribute("data-pointer", "/note")
    expect(page.locator("#payload")).to_contain_text("<script>alert(2)</script>")
    assert page.locator("#payload img, #payload script").count() == 0
    assert "<img src=x" in page.locator("#editor").input_value()
    # (the page fixture fails the test if a dialog opened or a script error happened)


def test_discard_needs_a_reason_and_is_recorded(page: object) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto("/records?contract=orders&q=is+not+of+type")
    expect(page.locator("#results [data-testid=total]")).to_have_text("1")
    page.locator("#records-table tbody a").first.click()
    discard = page.locator("form[action$='/discard']")
    discard.locator("button").click()  # the browser refuses: the reason is required
    expect(page.locator("[data-testid=status]")).to_have_text("quarantined")
    discard.locator("input[name=reason]").fill("test order, ignore")
    discard.locator("button").click()
    expect(page.locator(".flash.ok")).to_contain_text("Discarded")
    expect(page.locator("[data-testid=status]")).to_have_text("discarded")
    expect(page.locator("#history")).to_contain_text("test order, ignore")
    expect(page.locator("#editor")).to_have_count(0)


def test_bulk_reprocess_runs_as_a_job_with_progress(page: object) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto("/records?contract=page_view&status=quarantined")
    matching = _total(page)
    assert matching > 0
    page.locator("#bulk form", has_text="Reprocess all").locator("button").click()
    state = page.locator("#job [data-testid=job-state]")
    expect(state).to_have_text("done", timeout=60_000)
    expect(page.locator("#job")).to_contain_text(f"{matching} / {matching} processed")
    page.goto("/records?contract=page_view&status=quarantined")
    # Nothing was fixed, so they are all still there, each with one more attempt.
    assert _total(page) == matching
    expect(page.locator("#records-table tbody td.num").first).to_have_text("1")


def test_screenshots_for_the_docs(page: object) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto("/?range=7d")
    expect(page.locator("svg.chart")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
    page.goto("/records?contract=user_event&code=schema_violation&status=quarantined")
    page.locator("#records-table tbody a").first.click()
    expect(page.locator("#payload mark.bad").first).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "record.png"), full_page=True)
    for name in ("dashboard.png", "record.png"):
        assert (SCREENSHOTS / name).stat().st_size > 10_000


def test_a_page_on_another_port_of_the_host_cannot_change_a_record(page: object) -> None:
    """The reported attack, in a real browser: a page served on another port of the same host
    (same *site*, so its cookies reach this server) plants its own CSRF cookies and
    auto-posts a discard with the matching field. It is refused and nothing changes."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto("/records?status=quarantined&contract=orders")
    href = page.locator("#records-table tbody a").first.get_attribute("href")
    assert href
    target = page.url.split("/records", 1)[0] + href
    evil = f"""<!doctype html><html><body>
<form id="f" method="post" action="{target.replace("/records/", "/ui/records/")}/discard">
<input name="csrf_token" value="evil{"e" * 40}"><input name="reason" value="pwned"></form>
<script src="/go.js"></script></body></html>""".encode()
    script = b'document.getElementById("f").submit();'  # a file: the page has a CSP of its own

    class Evil(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, kind = (
                (script, "text/javascript") if self.path == "/go.js" else (evil, "text/html")
            )
            self.send_response(200)
            self.send_header("Content-Type", kind)
            # Cookies are not isolated by port: these reach the UI's server too.
            for name in ("dq_csrf", "dq_sid"):
                self.send_header("Set-Cookie", f"{name}=evil{'e' * 40}; Path=/; HttpOnly")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with page.expect_response(lambda r: r.url.endswith("/discard")) as answer:
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        assert answer.value.status == 403
    finally:
        server.shutdown()
        server.server_close()
    page.goto(target)
    expect(page.locator("[data-testid=status]")).to_have_text("quarantined")
    expect(page.locator("#history")).not_to_contain_text("pwned")


MEMBERS_CONTRACT = """\
name: members
version: 1.0.0
schema:
  type: object
  required: [id, status]
  properties:
    id: {type: string}
    status: {enum: [active, blocked]}
"""


def test_fix_all_preview_run_conflict_undo_and_rule(page: object, site: Site) -> None:
    """The bulk fix flow from a filtered table: steps, preview, run, results; a reviewer's
    edit after the fix is a conflict for the undo; the fix becomes a remediation rule."""
    from playwright.sync_api import Page, expect

    from dataquarantine.kernel.results import ContractRef
    from dataquarantine.testing import make_item

    assert isinstance(page, Page)
    (site.workspace / "contracts" / "members.yaml").write_text(MEMBERS_CONTRACT)
    statuses = ["ACTIVE", "Blocked", "ACTIVE", "GONE"]
    with Quarantine.open(site.store_url, site.payloads_url) as quarantine:
        ids = quarantine.write(
            [
                make_item(
                    json.dumps({"id": f"m{i}", "status": s}).encode(),
                    line=i,
                    contract=ContractRef("members", "1.0.0"),
                )
                for i, s in enumerate(statuses)
            ]
        ).ids
    page.goto("/records?contract=members&status=quarantined")
    expect(page.locator("#results [data-testid=total]")).to_have_text("4")
    page.click("#fix-all")
    expect(page.locator("h1")).to_contain_text("Fix all 4 matching records")
    page.fill("#steps", "- action: lowercase\n  path: /status\n")
    page.click("#preview-button")
    expect(page.locator("[data-testid=preview-applies]")).to_have_text("4")
    expect(page.locator("#preview-table")).to_contain_text("valid now")
    expect(page.locator("#preview-table")).to_contain_text("still invalid")
    expect(page.locator("#preview-table .diff").first).to_contain_text("/status")
    page.screenshot(path=str(SCREENSHOTS / "fix-preview.png"), full_page=True)

    page.click("#run-button")
    expect(page).to_have_url(re.compile(r"/fixes/[0-9a-f]{32}$"))
    fix_url = page.url
    expect(page.locator("[data-testid=job-state]")).to_have_text("done", timeout=60_000)
    expect(page.locator("[data-testid=count-fixed_valid]")).to_contain_text("3")
    expect(page.locator("[data-testid=count-fixed_invalid]")).to_contain_text("1")
    page.screenshot(path=str(SCREENSHOTS / "fix-job.png"), full_page=True)

    # A reviewer corrects one fixed record by hand: the undo must not overwrite it.
    page.goto(f"/records/{ids[3]}")
    editor = page.locator("#editor")
    edited = json.loads(editor.input_value())
    assert edited["status"] == "gone"  # the fix's revision is the latest
    edited["status"] = "blocked"
    editor.fill(json.dumps(edited))
    page.click("button[value=save]")
    expect(page.locator(".flash.ok[role=status]")).to_contain_text("saved")
    expect(page.locator("#history")).to_contain_text("fix")

    page.goto(fix_url)
    page.click("#undo-button")
    expect(page.locator("[data-testid=job-state]")).to_have_text("done", timeout=60_000)
    expect(page.locator("[data-testid=count-reverted]")).to_contain_text("3")
    expect(page.locator("[data-testid=count-conflict]")).to_contain_text("1")
    page.goto("/records?contract=members&status=quarantined")
    expect(page.locator("#results [data-testid=total]")).to_have_text("4")

    page.goto(fix_url)
    page.select_option("#rule-contract", "members")
    page.click("#rule-button")
    expect(page.locator("#rule-document")).to_contain_text("action: lowercase")
    expect(page.locator("#rule-document")).to_contain_text("version: 1.1.0")
    page.click("#register-button")
    expect(page).to_have_url(re.compile(r"/contracts$"))
    expect(page.locator("body")).to_contain_text("members")
    expect(page.locator("body")).to_contain_text("1.1.0")
