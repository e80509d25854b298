"""Input files of the Python data sources in S3 (``s3://`` or ``s3a://``), beside local files.

``read_jsonl`` and ``read_csv`` read their files in Python on the executors, so Hadoop's
``s3a`` filesystem is no help to them: objects are read with boto3 (extra ``s3``), with the
project's S3 conventions: the endpoint from ``AWS_ENDPOINT_URL`` (MinIO and other
S3-compatible servers), credentials and region from the standard AWS chain, on the driver
(listing) and on each executor (reading; ``spark.executorEnv.*`` on a cluster).

- **Listing** (driver): an object's key, a "folder" (the objects directly under ``key/``,
  without hidden names starting with ``.`` or ``_``, as Spark skips them) or a glob over keys
  (``*``, ``?`` and ``[...]`` within one path segment, as :func:`glob.glob`), sorted by key.
- **Reading** (executors): one ranged ``GET`` per JSON-lines partition, from the byte before
  the range to the end of the line that crosses its end (the rest of the object is not read),
  never a request per record; a CSV file (one partition) is one ``GET`` into a temporary file.
- **Names**: an object is ``s3://bucket/key`` (``s3a://`` is written ``s3://``: the same
  object), so a JSON line's coordinates are ``file:s3://bucket/key@<offset>`` and a CSV
  record's ``file:s3://bucket/key:<line>``. The default engine reads no S3 input, so no id of
  its own can differ.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Final

from dataquarantine.errors import ConfigError, InputError

__all__ = ["input_size", "input_uri", "is_object", "list_objects", "local_copy", "open_input"]

_SCHEMES: Final = ("s3://", "s3a://")
_MAGIC: Final = re.compile(r"[*?\[]")
_HEAD_BYTES: Final = 1 << 20
_BUFFER: Final = 1 << 20


def is_object(path: str) -> bool:
    """Whether ``path`` names an object in S3."""
    return path.startswith(_SCHEMES)


def _split(uri: str) -> tuple[str, str]:
    rest = uri.split("://", 1)[1]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ConfigError(f"malformed S3 input {uri!r}: expected s3://bucket/key")
    return bucket, key


def input_uri(name: str) -> str:
    """The source URI of an input file: ``s3://bucket/key``, or a local file's ``file:`` URI."""
    if is_object(name):
        bucket, key = _split(name)
        return f"s3://{bucket}/{key}"
    return Path(name).resolve().as_uri()


def _client() -> Any:
    from dataquarantine.extras import require_extra

    require_extra("s3", "s3:// input")
    import boto3
    from botocore.config import Config

    from dataquarantine.quarantine.payloads.s3 import DEFAULT_REGION

    session = boto3.session.Session()
    config = Config(retries={"total_max_attempts": 5, "mode": "standard"})
    return session.client("s3", region_name=session.region_name or DEFAULT_REGION, config=config)


def _errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


def list_objects(given: str) -> list[str]:
    """The ``s3://`` names of the objects ``given`` names (an object, a folder or a glob)."""
    bucket, key = _split(given)
    client = _client()
    try:
        magic = _MAGIC.search(key)
        if magic is not None:
            prefix = key[: magic.start()]
            parts = key.split("/")
            found = [
                k
                for k, _ in _keys(client, bucket, prefix, delimiter=None)
                if len(k.split("/")) == len(parts)
                and all(map(fnmatch.fnmatchcase, k.split("/"), parts))
            ]
            if not found:
                raise ConfigError(f"no input matches {given!r}")
        elif key and any(k == key for k, _ in _keys(client, bucket, key, delimiter="/")):
            found = [key]
        else:
            folder = key.rstrip("/") + "/" if key else ""
            found = [
                k
                for k, _ in _keys(client, bucket, folder, delimiter="/")
                if not k[len(folder) :].startswith((".", "_"))
            ]
            if not found:
                raise ConfigError(f"input {given!r} does not exist")
    except _errors() as exc:
        raise InputError(f"cannot list S3 input {given!r}: {exc}") from exc
    finally:
        client.close()
    return [f"s3://{bucket}/{k}" for k in sorted(found)]


def _keys(
    client: Any, bucket: str, prefix: str, *, delimiter: str | None
) -> Iterator[tuple[str, int]]:
    args: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if delimiter is not None:
        args["Delimiter"] = delimiter
    for page in client.get_paginator("list_objects_v2").paginate(**args):
        for item in page.get("Contents", []):
            if not item["Key"].endswith("/"):
                yield item["Key"], int(item["Size"])


def input_size(name: str) -> int:
    """The size of an input file in bytes (one ``HEAD`` for an object)."""
    if not is_object(name):
        return os.path.getsize(name)
    bucket, key = _split(name)
    client = _client()
    try:
        return int(client.head_object(Bucket=bucket, Key=key)["ContentLength"])
    except _errors() as exc:
        raise InputError(f"cannot read S3 input {name!r}: {exc}") from exc
    finally:
        client.close()


class _Body(io.RawIOBase):
    """A ranged ``GET``'s streaming body as a raw stream (for a buffered reader)."""

    def __init__(self, body: Any) -> None:
        super().__init__()
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._body.close()
        super().close()


class _ObjectStream:
    """What :func:`~dataquarantine.spark.jsonl_lines.lines_in_range` needs of a file: ``seek``
    (which opens one ranged ``GET`` from there to the end, read lazily), ``readline`` and
    ``read``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._bucket, self._key = _split(name)
        self._client: Any = None
        self._reader: IO[bytes] | None = None
        self._position = 0

    def seek(self, position: int) -> int:
        self._close_reader()
        self._position = position
        return position

    def readline(self) -> bytes:
        return self._read(lambda reader: reader.readline())

    def read(self, size: int) -> bytes:
        return self._read(lambda reader: reader.read(size))

    def _read(self, how: Callable[[IO[bytes]], bytes]) -> bytes:
        if self._reader is None:
            self._reader = self._open(self._position)
        try:
            return how(self._reader)
        except _errors() as exc:
            raise InputError(f"cannot read S3 input {self.name!r}: {exc}") from exc

    def _open(self, start: int) -> IO[bytes]:
        if self._client is None:
            self._client = _client()
        try:
            got = self._client.get_object(
                Bucket=self._bucket, Key=self._key, Range=f"bytes={start}-"
            )
        except _errors() as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") == "InvalidRange":
                return io.BytesIO(b"")  # at or past the end of the object
            raise InputError(f"cannot read S3 input {self.name!r}: {exc}") from exc
        return io.BufferedReader(_Body(got["Body"]), _BUFFER)

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self) -> _ObjectStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close_reader()
        if self._client is not None:
            self._client.close()


def open_input(name: str) -> Any:
    """A local file opened for reading bytes, or an S3 object read by ranged ``GET``s (a
    context manager with ``seek``, ``readline`` and ``read``)."""
    return _ObjectStream(name) if is_object(name) else open(name, "rb")


@contextlib.contextmanager
def local_copy(name: str, *, head: bool = False) -> Iterator[str]:
    """A local path holding the input's bytes: the file itself, or an object downloaded into
    a temporary file (with ``head``, only its first MiB: enough for a CSV header)."""
    if not is_object(name):
        yield name
        return
    bucket, key = _split(name)
    client = _client()
    fd, path = tempfile.mkstemp(prefix="dq-s3-", suffix=os.path.splitext(key)[1])
    try:
        with os.fdopen(fd, "wb") as out:
            args: dict[str, Any] = {"Bucket": bucket, "Key": key}
            if head:
                args["Range"] = f"bytes=0-{_HEAD_BYTES - 1}"
            try:
                got = client.get_object(**args)
                for chunk in iter(lambda: got["Body"].read(_BUFFER), b""):
                    out.write(chunk)
            except _errors() as exc:
                code = getattr(exc, "response", {}).get("Error", {}).get("Code")
                if not (head and code == "InvalidRange"):  # an empty object has no range
                    raise InputError(f"cannot read S3 input {name!r}: {exc}") from exc
        yield path
    finally:
        client.close()
        with contextlib.suppress(OSError):
            os.unlink(path)
