"""Payload stores: where the original bytes of quarantined records live.

:func:`open_payload_store` turns a URL into a backend:

* ``file://.dataquarantine/payloads`` (relative to the working directory),
  ``file:///var/lib/dq/payloads`` (absolute) or a plain path: :class:`LocalPayloadStore`;
* ``s3://bucket/optional/prefix``: :class:`~dataquarantine.quarantine.payloads.s3.S3PayloadStore`
  (endpoint from ``AWS_ENDPOINT_URL``, so MinIO and other S3-compatible servers work too).

Both store content-addressed chunks under ``chunks/<sha[:2]>/<sha256>``.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from dataquarantine.errors import ConfigError
from dataquarantine.quarantine.payloads.keys import chunk_key, validate_key
from dataquarantine.quarantine.payloads.local import LocalPayloadStore
from dataquarantine.quarantine.ports import PayloadStore

__all__ = ["LocalPayloadStore", "chunk_key", "open_payload_store", "validate_key"]

_FILE = "file://"


def open_payload_store(url: str, *, endpoint_url: str | None = None) -> PayloadStore:
    """Open the payload store named by ``url`` (raises ``ConfigError`` if it is not valid).

    ``endpoint_url`` overrides the S3 endpoint (otherwise boto3 resolves it, for instance from
    ``AWS_ENDPOINT_URL``); it is ignored by the local backend. Nothing is contacted here: call
    ``check()`` to probe the store.
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigError("the payload store URL is empty")
    url = url.strip()
    if url.startswith(_FILE):
        # Not RFC 8089: "file://x/y" means the *relative* path x/y (there is no host part).
        path = unquote(url[len(_FILE) :])
        if not path or "?" in path or "#" in path:
            raise ConfigError(f"malformed payload store URL {url!r}")
        return LocalPayloadStore(path)
    if url.startswith("s3://"):
        return _open_s3(url, endpoint_url)
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise ConfigError(f"unsupported payload store scheme {scheme!r} in {url!r}")
    return LocalPayloadStore(url)


def _open_s3(url: str, endpoint_url: str | None) -> PayloadStore:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        # Not the parser's text: it quotes the would-be port, which may be part of a secret.
        raise ConfigError(
            f"malformed payload store URL {url!r}: the host or port does not parse"
        ) from None
    if not parts.hostname or parts.query or parts.fragment or port or "@" in parts.netloc:
        raise ConfigError(f"malformed payload store URL {url!r}: expected s3://bucket/prefix")
    # Deferred: boto3 takes a noticeable time to import and local runs never need it.
    from dataquarantine.extras import require_extra

    require_extra("s3", "an s3:// payload store")
    from dataquarantine.quarantine.payloads.s3 import S3PayloadStore

    return S3PayloadStore(parts.netloc, unquote(parts.path), endpoint_url=endpoint_url)
