"""S3 backend pieces that need no server: URL parsing and botocore error translation.

The behaviour against a real S3 endpoint is covered in tests/integration/s3.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
    SSLError,
)

from dataquarantine.errors import (
    ConfigError,
    PayloadNotFoundError,
    PayloadStoreError,
    PayloadStoreUnavailableError,
)
from dataquarantine.quarantine.payloads import open_payload_store
from dataquarantine.quarantine.payloads.s3 import S3PayloadStore, translate_error


def client_error(code: str, status: int) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": "msg"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "PutObject")


@pytest.mark.parametrize(
    "exc",
    [
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
        ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"),
        ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
        ConnectionClosedError(endpoint_url="http://127.0.0.1:1"),
        ResponseStreamingError(error="reset"),
        client_error("SlowDown", 503),
        client_error("Throttling", 400),
        client_error("RequestTimeout", 400),
        client_error("InternalError", 500),
        client_error("ServiceUnavailable", 503),
        client_error("BadGateway", 502),
        client_error("TooManyRequests", 429),
        client_error("BadDigest", 400),
    ],
    ids=lambda exc: (
        exc.response["Error"]["Code"] if isinstance(exc, ClientError) else type(exc).__name__
    ),
)
def test_transient_failures(exc: Exception) -> None:
    assert isinstance(translate_error(exc, "op"), PayloadStoreUnavailableError)


@pytest.mark.parametrize(
    "exc",
    [
        client_error("NoSuchKey", 404),
        client_error("InvalidRange", 416),
        client_error("404", 404),
    ],
)
def test_missing_objects_and_ranges(exc: Exception) -> None:
    assert type(translate_error(exc, "op", reading=True)) is PayloadNotFoundError


@pytest.mark.parametrize(
    ("exc", "reading"),
    [
        (client_error("NoSuchBucket", 404), True),
        (client_error("404", 404), False),  # a bucket probe or a write: the bucket is wrong
        (client_error("NoSuchKey", 404), False),
        (client_error("AccessDenied", 403), True),
        (client_error("InvalidAccessKeyId", 403), False),
        (client_error("SignatureDoesNotMatch", 403), False),
        (NoCredentialsError(), False),
        (SSLError(endpoint_url="https://x", error=OSError("bad certificate")), False),
    ],
)
def test_terminal_failures(exc: Exception, reading: bool) -> None:
    assert type(translate_error(exc, "op", reading=reading)) is PayloadStoreError


def test_s3_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    store = open_payload_store("s3://my-bucket/some/prefix/", endpoint_url="http://127.0.0.1:9")
    assert isinstance(store, S3PayloadStore)
    assert (store.bucket, store.prefix) == ("my-bucket", "some/prefix")
    assert store.endpoint_url == "http://127.0.0.1:9"
    store.close()
    bare = open_payload_store("s3://my-bucket")
    assert isinstance(bare, S3PayloadStore)
    assert bare.prefix == ""
    bare.close()


def test_endpoint_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9999")
    store = open_payload_store("s3://bucket/p")
    assert isinstance(store, S3PayloadStore)
    assert store.endpoint_url == "http://127.0.0.1:9999"
    store.close()


@pytest.mark.parametrize(
    "url",
    [
        "s3://",
        "s3:///prefix",
        "s3://bucket/p?region=x",
        "s3://bucket/p#frag",
        "s3://user@bucket/p",
        "s3://bucket:9000/p",
        "s3://b/p",
        "s3://bad bucket/p",
        "s3://bucket/a/../b",
        "s3://bucket/a//b",
        "s3://bucket/a\\b",
    ],
)
def test_malformed_s3_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        open_payload_store(url)
