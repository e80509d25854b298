"""The trap records: each is invalid (or undecodable) and each is a classic way for a
validator to let a bad record through. A contender that accepts one has missed it."""

from __future__ import annotations

from pathlib import Path

import orjson

__all__ = ["TRAPS", "write_traps"]

_BASE = (
    b'{"_schema":"user_event","event_id":"0b9f1f4e-8a4b-4c1e-9d7a-2f1e3c4b5a6d",'
    b'"user_id":"USER123456","event_type":"view","timestamp":"2024-05-01T10:00:00Z",'
    b'"session_id":"s1"'
)


def _with(extra: bytes) -> bytes:
    return _BASE + b"," + extra + b"}"


def _replace(old: bytes, new: bytes) -> bytes:
    return _BASE.replace(old, new) + b"}"


#: (kind, line): the kind of trap, one JSON line (no terminator).
TRAPS: tuple[tuple[str, bytes], ...] = (
    ("trailing newline vs $", _replace(b'"USER123456"', orjson.dumps("USER123456\n"))),
    ("trailing newline vs $", _with(b'"product_id":' + orjson.dumps("PROD42\n"))),
    ("NaN", _with(b'"amount":NaN')),
    ("NaN", _with(b'"amount":Infinity')),
    ("big integer", _with(b'"amount":-100000000000000000000000000')),
    ("big integer", _with(b'"session_id":123456789012345678901234567890')),
    ("impossible date", _replace(b"2024-05-01T10:00:00Z", b"2024-02-30T10:00:00Z")),
    ("impossible date", _replace(b"2024-05-01T10:00:00Z", b"2023-02-29T10:00:00Z")),
    ("impossible date", _replace(b"2024-05-01T10:00:00Z", b"2024-05-01T24:30:00Z")),
    ("explicit null", _with(b'"product_id":null')),
    ("explicit null", _with(b'"device":null')),
    ("explicit null", _replace(b'"s1"', b"null")),
    ("number for string", _with(b'"product_id":789')),
    ("number for string", _with(b'"currency":840')),
    ("number for string", _replace(b'"s1"', b"1")),
)


def write_traps(path: Path) -> list[str]:
    """Write the traps to ``path`` as JSON lines; return the kind of each line."""
    path.write_bytes(b"".join(line + b"\n" for _, line in TRAPS))
    return [kind for kind, _ in TRAPS]
