"""Content-addressed chunk keys, shared by every payload backend.

A key is ``chunks/<first two hex digits>/<sha256 hex>`` of the chunk's bytes. Backends accept
nothing else: a key that does not have exactly this shape (``..``, an absolute path, a
backslash, upper-case hex, a shard that does not match the digest, ...) cannot name an object
we wrote, so reading it raises :class:`~dataquarantine.errors.PayloadNotFoundError` (terminal)
without touching the file system or the network.
"""

from __future__ import annotations

import hashlib
import re

from dataquarantine.errors import PayloadNotFoundError

__all__ = ["chunk_key", "chunk_key_for_digest", "validate_key", "validate_range"]

_KEY = re.compile(r"chunks/([0-9a-f]{2})/([0-9a-f]{64})")


def chunk_key_for_digest(hexdigest: str) -> str:
    """The key of a chunk whose SHA-256 is ``hexdigest``."""
    return f"chunks/{hexdigest[:2]}/{hexdigest}"


def chunk_key(data: bytes) -> str:
    """The content-addressed key of ``data``."""
    return chunk_key_for_digest(hashlib.sha256(data).hexdigest())


def validate_key(key: str) -> str:
    """Return ``key`` if it is a key we produce, else raise ``PayloadNotFoundError``."""
    match = _KEY.fullmatch(key) if isinstance(key, str) else None
    if match is None or not match.group(2).startswith(match.group(1)):
        raise PayloadNotFoundError(f"invalid payload key {key!r}")
    return key


def validate_range(key: str, offset: int, length: int) -> None:
    """Reject a negative offset or length: such a range cannot exist."""
    if offset < 0 or length < 0:
        raise PayloadNotFoundError(f"invalid range offset={offset} length={length} of {key!r}")
