"""The ``s3://bucket/prefix`` contract source: one object per version plus an index.

``PREFIX/versions/NAME/VERSION.json`` holds a version (its definition and registration) and is
never rewritten (it is created with ``If-None-Match: *``, so two processes registering the same
version at once cannot both win). ``PREFIX/index.json`` lists every version object with its
ETag; it is rebuilt from a listing after each registration (so one by another process is kept),
and its own ETag is the registry's revision: a process polls with one HEAD request per interval.
Versions already read are kept by ETag, so a reload reads only the new objects.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from dataquarantine.contracts.loader import spec_from_dict
from dataquarantine.contracts.source import StoredContract, same_version
from dataquarantine.errors import (
    ConfigError,
    PayloadNotFoundError,
    RegistryError,
    RegistryUnavailableError,
)
from dataquarantine.quarantine.payloads.s3 import DEFAULT_REGION, translate_error

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["S3Source"]

INDEX = "index.json"


class _Missing(Exception):
    """The object is not there (an empty registry has no index)."""


class _Taken(Exception):
    """A create-only write found the object there (another process registered it first)."""


def _translate(exc: Exception, what: str, *, reading: bool = False) -> Exception:
    err = translate_error(exc, what, reading=reading)
    if isinstance(err, PayloadNotFoundError):
        return _Missing(what)
    cls = RegistryUnavailableError if err.transient else RegistryError
    return cls(str(err))


class S3Source:
    """Contract versions as objects under ``s3://bucket/prefix``."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        client: S3Client | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if any(p in ("", ".", "..") for p in self.prefix.split("/")) and self.prefix:
            raise ConfigError(f"invalid S3 key prefix {prefix!r}")
        if client is None:
            session = boto3.session.Session()
            config = Config(
                connect_timeout=3.0,
                read_timeout=10.0,
                retries={"total_max_attempts": 2, "mode": "standard"},
            )
            try:
                client = session.client(
                    "s3",
                    endpoint_url=endpoint_url,
                    region_name=session.region_name or DEFAULT_REGION,
                    config=config,
                )
            except (BotoCoreError, ValueError) as exc:
                raise ConfigError(f"cannot configure the S3 client: {exc}") from exc
        self._client = client
        self._lock = threading.Lock()
        self._read: dict[str, StoredContract] = {}

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def _version_key(self, name: str, version: str) -> str:
        return self._key("versions", name, f"{version}.json")

    def _get(self, key: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
            with contextlib.closing(response["Body"]) as body:
                return body.read()
        except (ClientError, BotoCoreError) as exc:
            what = f"contract registry {self.location}: read {key}"
            raise _translate(exc, what, reading=True) from exc

    def _put(self, key: str, data: bytes, *, create: bool = False) -> None:
        """Write an object; ``create``: only if it does not exist (``If-None-Match: *``)."""
        extra: dict[str, Any] = {"IfNoneMatch": "*"} if create else {}
        try:
            self._client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType="application/json", **extra
            )
        except ClientError as exc:
            if create and exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                raise _Taken(key) from exc
            raise _translate(exc, f"contract registry {self.location}: write {key}") from exc
        except BotoCoreError as exc:
            raise _translate(exc, f"contract registry {self.location}: write {key}") from exc

    def revision(self) -> str:
        key = self._key(INDEX)
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            err = _translate(exc, f"contract registry {self.location}: read {key}", reading=True)
            if isinstance(err, _Missing):
                return "empty"
            raise err from exc
        return str(head.get("ETag", ""))

    def _index(self) -> list[dict[str, Any]]:
        try:
            data = json.loads(self._get(self._key(INDEX)))
        except _Missing:
            return []
        except ValueError as exc:
            raise RegistryError(f"contract registry {self.location}: bad index: {exc}") from None
        return list(data.get("versions", []))

    def _listing(self) -> list[dict[str, Any]]:
        """Every version object, from a listing (what the index is rebuilt from)."""
        rows: list[dict[str, Any]] = []
        base = self._key("versions") + "/"
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    name, _, file = obj["Key"][len(base) :].partition("/")
                    if file.endswith(".json"):
                        rows.append({"name": name, "version": file[:-5], "etag": obj["ETag"]})
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, f"contract registry {self.location}: list {base}") from exc
        return rows

    def _entry(self, name: str, version: str) -> StoredContract | None:
        try:
            doc = json.loads(self._get(self._version_key(name, version)))
        except _Missing:
            return None
        except ValueError as exc:
            raise RegistryError(f"{self.location}: {name}@{version} is not JSON: {exc}") from None
        at = doc.get("registered_at")
        return StoredContract(
            spec_from_dict(doc["definition"]),
            doc["fingerprint"],
            registered_by=doc.get("registered_by"),
            registered_at=datetime.fromisoformat(at) if at else None,
            verdict=doc.get("verdict", "unchecked"),
            reasons=tuple(doc.get("reasons", ())),
        )

    def entries(self) -> list[StoredContract]:
        out = []
        for row in self._index():
            cached = self._read.get(row["etag"])
            entry = cached or self._entry(row["name"], row["version"])
            if entry is None:
                raise RegistryError(
                    f"contract registry {self.location}: the index lists "
                    f"{row['name']}@{row['version']} but its object is missing"
                )
            self._read[row["etag"]] = entry
            out.append(entry)
        return out

    def add(self, entry: StoredContract) -> bool:
        name, version = entry.spec.name, str(entry.spec.version)
        with self._lock:
            if same_version(self._entry(name, version), entry):
                return False
            doc = {
                "definition": entry.definition,
                "fingerprint": entry.fingerprint,
                "registered_by": entry.registered_by,
                "registered_at": entry.registered_at.isoformat() if entry.registered_at else None,
                "verdict": entry.verdict,
                "reasons": list(entry.reasons),
            }
            try:
                self._put(self._version_key(name, version), json.dumps(doc).encode(), create=True)
            except _Taken:  # registered meanwhile by another process
                if same_version(self._entry(name, version), entry):
                    return False
            # Rebuilt from a listing, so a registration by another process is not lost.
            rows = self._listing()
            self._put(self._key(INDEX), json.dumps({"versions": rows}).encode())
        return True

    def watch(self, on_change: Callable[[], None]) -> Callable[[], None] | None:
        return None  # polled: one HEAD of the index per interval

    def close(self) -> None:
        self._client.close()
