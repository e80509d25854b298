"""Payload chunks as files in a local folder (the default backend)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
from pathlib import Path

from dataquarantine.errors import (
    PayloadNotFoundError,
    PayloadStoreError,
    PayloadStoreUnavailableError,
)
from dataquarantine.quarantine.payloads.keys import (
    chunk_key_for_digest,
    validate_key,
    validate_range,
)

__all__ = ["LocalPayloadStore"]

# Conditions that can clear by themselves (space freed, NFS server back, fd pressure gone).
_TRANSIENT_ERRNOS = frozenset(
    code
    for code in (
        errno.ENOSPC,
        getattr(errno, "EDQUOT", None),
        errno.EAGAIN,
        errno.EBUSY,
        errno.EINTR,
        errno.EIO,
        errno.ETIMEDOUT,
        getattr(errno, "ESTALE", None),
        errno.EMFILE,
        errno.ENFILE,
    )
    if code is not None
)
_TMP_PREFIX = ".tmp-"


def _translate(exc: OSError, what: str) -> PayloadStoreError:
    if isinstance(exc, FileNotFoundError):
        return PayloadNotFoundError(f"{what}: not found")
    if exc.errno in _TRANSIENT_ERRNOS:
        return PayloadStoreUnavailableError(f"{what}: {exc}")
    return PayloadStoreError(f"{what}: {exc}")


def _fsync_dir(path: Path) -> None:
    # Makes a new or renamed directory entry durable; directories cannot be opened on Windows.
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalPayloadStore:
    """Content-addressed chunk files under ``root``: ``<root>/chunks/ab/abcd...``.

    Writes are atomic and durable: the bytes go to a temporary file in the target directory,
    which is flushed, fsynced and renamed into place, then the directory is fsynced. A crash
    leaves either the whole chunk or nothing (plus, at worst, a ``.tmp-*`` file to delete).
    Chunk files are created readable by their owner only: they may hold personal data.
    A relative ``root`` is resolved against the working directory once, at construction.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()

    def __repr__(self) -> str:
        return f"LocalPayloadStore({str(self.root)!r})"

    def put_chunk(self, data: bytes) -> str:
        key = chunk_key_for_digest(hashlib.sha256(data).hexdigest())
        path = self.root / key
        try:
            try:
                existing: int | None = path.stat().st_size
            except FileNotFoundError:
                existing = None
            if existing == len(data):
                # Same key and size: the same bytes (the rename that made it was atomic).
                # Still sync the directory in case its writer has not done so yet.
                _fsync_dir(path.parent)
                return key
            self._make_dirs(path.parent)
            self._write_atomic(path, data)
        except OSError as exc:
            raise _translate(exc, f"cannot write payload chunk {key}") from exc
        return key

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        validate_range(key, offset, length)
        path = self.root / validate_key(key)
        try:
            with path.open("rb") as fh:
                fh.seek(offset)
                data = fh.read(length)
        except OSError as exc:
            raise _translate(exc, f"cannot read payload chunk {key}") from exc
        if len(data) != length:
            raise PayloadNotFoundError(
                f"payload chunk {key} has no range offset={offset} length={length}"
            )
        return data

    def check(self) -> None:
        """Create the folder if needed and prove it is writable."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=self.root)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise _translate(exc, f"payload folder {self.root} is not writable") from exc

    def close(self) -> None:
        """Nothing to release: files are opened per call."""

    def _make_dirs(self, directory: Path) -> None:
        # Create missing levels top-down, syncing each parent so the new entries survive a crash.
        missing: list[Path] = []
        current = directory
        while not current.is_dir():
            missing.append(current)
            current = current.parent
        for level in reversed(missing):
            try:
                level.mkdir()
            except FileExistsError:
                continue  # a concurrent writer created it first
            _fsync_dir(level.parent)

    def _write_atomic(self, path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(path.parent)
