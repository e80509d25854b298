"""Payload chunks as objects in an S3-compatible bucket (AWS S3, MinIO, Ceph, moto, ...).

Every botocore failure is translated once, by :func:`translate_error`, onto the payload-store
error tree: :class:`~dataquarantine.errors.PayloadStoreUnavailableError` (transient: throttling,
5xx, 429, a lost connection or a damaged upload, see :data:`TRANSIENT_CODES`),
:class:`~dataquarantine.errors.PayloadNotFoundError` (a read of a missing object or range, see
:data:`MISSING_OBJECT_CODES`) and :class:`~dataquarantine.errors.PayloadStoreError` (terminal:
no such bucket, access denied, bad credentials or certificate).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    IncompleteReadError,
    SSLError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from dataquarantine.errors import (
    ConfigError,
    PayloadNotFoundError,
    PayloadStoreError,
    PayloadStoreUnavailableError,
)
from dataquarantine.masking import mask_secrets
from dataquarantine.quarantine.payloads.keys import (
    chunk_key_for_digest,
    validate_key,
    validate_range,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "DEFAULT_REGION",
    "MISSING_OBJECT_CODES",
    "TRANSIENT_CODES",
    "S3PayloadStore",
    "translate_error",
]

DEFAULT_REGION = "us-east-1"

# Lenient on purpose: legacy and S3-compatible buckets allow upper case and underscores.
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,254}")
#: S3 error codes that mean "not now": sending the request again can succeed.
TRANSIENT_CODES: Final = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequests",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestTimeout",
        "InternalError",
        "ServiceUnavailable",
        # The bytes were damaged in flight: sending them again can succeed.
        "BadDigest",
        "XAmzContentSHA256Mismatch",
    }
)
#: S3 error codes that, answering a read, mean the object or the range is not there.
MISSING_OBJECT_CODES: Final = frozenset({"NoSuchKey", "InvalidRange", "NotFound", "404"})


def translate_error(exc: Exception, what: str, *, reading: bool = False) -> PayloadStoreError:
    """Map a botocore exception onto the payload-store error tree (transient vs terminal);
    ``what`` names the failed operation in the message, ``reading`` is true for object reads.

    Only a read of an object can be "not found"; a 404 answering a write or a bucket probe
    means the bucket (or the endpoint path) is wrong, a terminal configuration problem.
    """
    if isinstance(exc, ClientError):
        error: Any = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        detail = f"{what}: {code or status} {error.get('Message', '')}".rstrip()
        if code in TRANSIENT_CODES or status >= 500 or status == 429:
            return PayloadStoreUnavailableError(detail)
        if code == "NoSuchBucket" or (not reading and status == 404):
            return PayloadStoreError(f"{detail} (no such bucket at this endpoint)")
        if reading and (code in MISSING_OBJECT_CODES or status in (404, 416)):
            return PayloadNotFoundError(detail)
        return PayloadStoreError(detail)  # AccessDenied, InvalidAccessKeyId, ...
    if isinstance(exc, SSLError):
        return PayloadStoreError(f"{what}: {exc}")  # a certificate problem does not heal
    if isinstance(exc, BotoConnectionError | HTTPClientError | IncompleteReadError):
        # Connection refused / closed / reset, connect or read timeout, broken stream.
        return PayloadStoreUnavailableError(f"{what}: {exc}")
    return PayloadStoreError(f"{what}: {exc}")  # no credentials, bad parameters, ...


def _normalise_prefix(prefix: str) -> str:
    prefix = prefix.strip("/")
    if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
        raise ConfigError(f"invalid S3 key prefix {prefix!r}")
    if "\\" in prefix:
        raise ConfigError(f"invalid S3 key prefix {prefix!r}")
    return prefix


class S3PayloadStore:
    """Content-addressed chunk objects ``<prefix>/chunks/ab/abcd...`` in ``bucket``.

    The endpoint is ``endpoint_url`` or, when ``None``, whatever boto3 resolves (the
    ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3`` variables, the config file, or AWS itself).
    The region is ``region``, else the usual AWS variables and config, else ``us-east-1``.
    Credentials come from the usual boto3 chain.

    botocore is given short timeouts and a single quick retry of its own: the quarantine
    service retries with its own policy, so an outage surfaces in seconds (as
    :class:`~dataquarantine.errors.PayloadStoreUnavailableError`) rather than minutes.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        connect_timeout: float = 3.0,
        read_timeout: float = 15.0,
        max_attempts: int = 2,
        client: S3Client | None = None,
    ) -> None:
        if not _BUCKET.fullmatch(bucket):
            raise ConfigError(f"invalid S3 bucket name {bucket!r}")
        self.bucket = bucket
        self.prefix = _normalise_prefix(prefix)
        if client is None:
            session = boto3.session.Session()
            config = Config(
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                retries={"total_max_attempts": max_attempts, "mode": "standard"},
            )
            try:
                client = session.client(
                    "s3",
                    endpoint_url=endpoint_url,
                    region_name=region or session.region_name or DEFAULT_REGION,
                    config=config,
                )
            except (BotoCoreError, ValueError) as exc:
                raise ConfigError(f"cannot configure the S3 client: {exc}") from exc
        self._client = client

    def __repr__(self) -> str:
        endpoint = mask_secrets(self._client.meta.endpoint_url)
        return f"S3PayloadStore(s3://{self.bucket}/{self.prefix}, {endpoint})"

    @property
    def endpoint_url(self) -> str:
        return str(self._client.meta.endpoint_url)

    def _object_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_chunk(self, data: bytes) -> str:
        """One PutObject, checksummed with SHA-256 so the server rejects damaged bytes.

        No existence check first: the key is derived from the content, so overwriting an
        existing chunk rewrites identical bytes. That saves a HEAD round trip on every new
        chunk (the normal case), and a HEAD-then-PUT would race anyway.
        """
        digest = hashlib.sha256(data).digest()
        key = chunk_key_for_digest(digest.hex())
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=self._object_key(key),
                Body=data,
                ChecksumSHA256=base64.b64encode(digest).decode("ascii"),
                ContentType="application/octet-stream",
            )
        except (ClientError, BotoCoreError) as exc:
            raise translate_error(exc, f"cannot put payload chunk {key}") from exc
        return key

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        validate_range(key, offset, length)
        object_key = self._object_key(validate_key(key))
        what = f"cannot read payload chunk {key} [{offset}:{offset + length}]"
        try:
            if length == 0:
                # An HTTP range cannot be empty: check the object and its size instead.
                head = self._client.head_object(Bucket=self.bucket, Key=object_key)
                size = head["ContentLength"]
                if offset > size:
                    raise PayloadNotFoundError(f"{what}: object has {size} bytes")
                return b""
            response = self._client.get_object(
                Bucket=self.bucket,
                Key=object_key,
                Range=f"bytes={offset}-{offset + length - 1}",
            )
            with contextlib.closing(response["Body"]) as body:
                data = body.read()
        except (ClientError, BotoCoreError) as exc:
            raise translate_error(exc, what, reading=True) from exc
        if len(data) != length:
            # S3 truncates a range that runs past the end of the object.
            raise PayloadNotFoundError(f"{what}: object too short ({len(data)} bytes read)")
        return data

    def check(self) -> None:
        """HeadBucket: the endpoint answers, the credentials work and the bucket exists."""
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise translate_error(exc, f"S3 bucket {self.bucket!r}") from exc

    def close(self) -> None:
        self._client.close()
