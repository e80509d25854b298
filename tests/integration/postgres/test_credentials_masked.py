"""No surface shows a database password while the database is down: ``/ready``, the UI's 503
page, API error bodies, log records and CLI errors, for a password in the URL's user info or
in its query (any case, percent-encoded or not). The database is a real server that is then
stopped, or a free loopback port with nothing listening."""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.fixtures.postgres import PrivatePostgres

from dataquarantine.api import ApiSettings, create_app

TOKEN = "mask-test-token"
BROWSER = {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"}
CLI = [sys.executable, "-m", "dataquarantine.cli.app"]


def _variants(port: int) -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (store URL, the secrets it carries, in every form they could be shown)."""
    base = f"127.0.0.1:{port}/postgres"
    return {
        "userinfo": (f"postgresql://postgres:Pw-Userinfo-1@{base}", ("Pw-Userinfo-1",)),
        "userinfo-encoded": (
            f"postgresql://postgres:Pw%40Enc%2Fx%3A2@{base}",
            ("Pw%40Enc%2Fx%3A2", "Pw@Enc/x:2"),
        ),
        "query": (f"postgresql://{base}?user=postgres&password=Pw-Query-3", ("Pw-Query-3",)),
        "query-encoded": (
            f"postgresql://{base}?user=postgres&password=Pw%26Q%3D4%25",
            ("Pw%26Q%3D4%25", "Pw&Q=4%"),
        ),
        "both-and-sslpassword": (
            f"postgresql://postgres:Pw-Both-5@{base}?password=Pw-Both-6&sslpassword=Pw-Ssl-7",
            ("Pw-Both-5", "Pw-Both-6", "Pw-Ssl-7"),
        ),
    }


def _assert_masked(text: str, secrets: tuple[str, ...], where: str) -> None:
    for secret in secrets:
        assert secret not in text, f"{where} shows {secret!r}: {text[:500]}"
        # Nor a piece of it long enough to matter.
        assert not re.search(re.escape(secret[:6]) + r"\w", text), f"{where}: {text[:500]}"


def test_no_surface_shows_the_password_while_the_database_is_down(
    private_postgres_factory: Callable[[], PrivatePostgres],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = private_postgres_factory()  # trust auth: any password is accepted
    clients: dict[str, tuple[TestClient, tuple[str, ...]]] = {}
    variants = _variants(server.port)
    for name in ("userinfo", "query"):  # the plain forms are the CLI test's
        del variants[name]
    for name, (url, secrets) in variants.items():
        folder = tmp_path / name
        (folder / "contracts").mkdir(parents=True)
        settings = ApiSettings(
            store_url=url,
            payloads_url=f"file://{folder / 'payloads'}",
            contracts_dir=folder / "contracts",
            api_token=TOKEN,
        )
        client = TestClient(create_app(settings), follow_redirects=False, headers=BROWSER)
        assert client.get("/ready").status_code == 200, name
        page = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        login = client.post("/login", data={"csrf_token": csrf.group(1), "token": TOKEN})
        assert login.status_code == 303
        clients[name] = (client, secrets)

    server.stop("immediate")
    caplog.set_level(logging.DEBUG)
    for name, (client, secrets) in clients.items():
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable", "failed": ["store"]}
        _assert_masked(ready.text, secrets, f"{name}: /ready")

        api = client.get("/api/v1/quarantine/records", headers={"Authorization": f"Bearer {TOKEN}"})
        assert api.status_code == 503, api.text
        assert "127.0.0.1" in api.json()["detail"]  # still says where, without the secret
        _assert_masked(api.text, secrets, f"{name}: API error")

        ui = client.get("/records")
        assert ui.status_code == 503
        assert "quarantine store is unavailable" in ui.text
        _assert_masked(ui.text, secrets, f"{name}: UI 503 page")

        stats = client.get("/api/v1/stats", headers={"Authorization": f"Bearer {TOKEN}"})
        _assert_masked(stats.text, secrets, f"{name}: API stats error")

    assert caplog.records, "the failures were logged"
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records) + caplog.text
    for name, (_, secrets) in clients.items():
        _assert_masked(logged, secrets, f"{name}: logs")
    for client, _ in clients.values():
        client.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("args", [("quarantine", "list"), ("serve", "--port", "0")])
def test_cli_errors_mask_the_password(tmp_path: Path, args: tuple[str, ...]) -> None:
    port = _free_port()  # nothing listens there
    variants = {
        **_variants(port),
        "mixed-case-key": (
            f"postgresql://127.0.0.1:{port}/postgres?user=postgres&PassWord=Pw-Mixed-8",
            ("Pw-Mixed-8",),
        ),
        "encoded-key": (
            f"postgresql://127.0.0.1:{port}/postgres?user=postgres&pass%77ord=Pw-EncKey-9",
            ("Pw-EncKey-9",),
        ),
    }
    if args[0] == "serve":  # the same code path: two forms are enough
        variants = {
            k: v for k, v in variants.items() if k in ("both-and-sslpassword", "mixed-case-key")
        }
    env = {k: v for k, v in os.environ.items() if not k.startswith("DQ_")}
    env["DQ_CONTRACTS_DIR"] = str(tmp_path / "contracts")
    env["DQ_PAYLOADS_URL"] = f"file://{tmp_path / 'payloads'}"
    env["COLUMNS"] = "300"
    env["DQ_RETRY_SECONDS"] = "1"  # the message is what is tested, not the retry window
    for name, (url, secrets) in variants.items():
        done = subprocess.run(
            [*CLI, *args, "--store", url],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode in (1, 2), (name, done.stderr)
        assert "error" in done.stderr.lower(), (name, done.stderr)
        _assert_masked(done.stdout + done.stderr, secrets, f"{name}: {' '.join(args)}")
