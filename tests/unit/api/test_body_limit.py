"""The request body limit holds for chunked bodies too: 413, and the rest is never read."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from dataquarantine.api import ApiSettings, create_app

TOKEN = "limit-token"
LIMIT = 4096
CHUNK = 1024


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    (tmp_path / "contracts").mkdir()
    settings = ApiSettings(
        store_url=f"sqlite:///{tmp_path / 'dq.db'}",
        payloads_url=f"file://{tmp_path / 'payloads'}",
        contracts_dir=tmp_path / "contracts",
        api_token=TOKEN,
        max_body_bytes=LIMIT,
    )
    return create_app(settings)


async def _call(
    app: FastAPI, method: str, path: str, headers: list[tuple[bytes, bytes]], chunks: int
) -> tuple[int, bytes, int]:
    """Send a body of ``chunks`` chunks without Content-Length; (status, body, chunks read)."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled >= chunks:
            await asyncio.sleep(3600)  # the client waits for the answer
        pulled += 1
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": pulled < chunks}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"transfer-encoding", b"chunked"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    await asyncio.wait_for(app(scope, receive, send), 10)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(start["status"]), body, pulled


JSON = [(b"content-type", b"application/json"), (b"authorization", f"Bearer {TOKEN}".encode())]
FORM = [
    (b"content-type", b"application/x-www-form-urlencoded"),
    (b"origin", b"http://testserver"),
]


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("PATCH", f"/api/v1/quarantine/records/{uuid.uuid4()}", JSON),
        ("POST", "/api/v1/schemas", JSON),
        ("POST", "/login", FORM),
        ("POST", f"/ui/records/{uuid.uuid4()}/discard", FORM),
    ],
)
def test_an_oversized_chunked_body_gets_413_and_is_not_read_to_the_end(
    app: FastAPI, method: str, path: str, headers: list[tuple[bytes, bytes]]
) -> None:
    status, body, pulled = asyncio.run(_call(app, method, path, headers, chunks=1024))
    assert status == 413
    assert b"too large" in body
    assert pulled <= LIMIT // CHUNK + 1  # 1 MiB offered, a few KiB read


def test_a_chunked_body_under_the_limit_still_works(app: FastAPI) -> None:
    rid = uuid.uuid4()
    status, _, _ = asyncio.run(
        _call(app, "PATCH", f"/api/v1/quarantine/records/{rid}", JSON, chunks=2)
    )
    assert status not in (400, 413)  # 2 KiB of "x": read whole, then refused as a bad body
    assert status == 422


# -- a real server ----------------------------------------------------------------------------


@pytest.fixture
def server(app: FastAPI) -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield port
    srv.should_exit = True
    thread.join(10)
    sock.close()


def test_a_real_chunked_upload_gets_413(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=10) as conn:
        conn.sendall(
            b"PATCH /api/v1/quarantine/records/" + str(uuid.uuid4()).encode() + b" HTTP/1.1\r\n"
            b"Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"%x\r\n%s\r\n" % (CHUNK, b"x" * CHUNK)
        try:
            for _ in range(4 * LIMIT // CHUNK):
                conn.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the whole body was sent
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = conn.recv(4096)
            if not data:
                break
            answer += data
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
