"""Where an output file is written, decided by what the path names.

* A new path or a regular file: a hidden temporary file ``.NAME.PID-RANDOM.part`` next to it,
  renamed over it on :meth:`AtomicTarget.commit` (atomic: a failed run leaves the old file, or
  none). An existing file's permission bits are kept.
* A symbolic link: followed to its final target, which is then treated as above. The link
  itself is never replaced; the file it points to is (atomically, in the target's folder).
* A FIFO, a character device (``/dev/stdout``, ``/dev/null``) or a descriptor alias
  (``/dev/stdout``, ``/dev/fd/N``, ``/proc/self/fd/N``): written directly, never renamed over.
* Anything else (a directory, a socket, a block device): refused with :class:`ConfigError`.

A write that fails once writing has started (no space, a closed pipe, an I/O error) raises
:class:`OutputError`: the caller must not report success.

Temporary files of runs that were killed (``SIGKILL``, power loss) are removed by the next run
that writes the same target: a ``.NAME.PID-*.part`` sibling whose process no longer exists.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import time
import uuid
from pathlib import Path
from typing import IO, Final

from dataquarantine.errors import ConfigError, OutputError

__all__ = ["AtomicTarget", "DirectTarget", "OutputTarget", "open_target", "write_error"]

_FD_ALIAS: Final = re.compile(r"/dev/(stdout|stderr|fd/\d+)|/proc/(self|\d+)/fd/\d+")
#: Temporary files of earlier releases carry no PID: removed once they are this old (seconds).
_LEGACY_PART_AGE: Final = 24 * 3600


def write_error(path: str, exc: BaseException) -> OutputError:
    """The :class:`OutputError` for a failed write to ``path``."""
    if isinstance(exc, OSError):
        if exc.errno == errno.EPIPE:
            reason = "the reader closed the pipe"
        elif exc.errno == errno.ENOSPC:
            reason = "no space left on the device"
        else:
            reason = exc.strerror or str(exc)
    else:
        reason = str(exc)
    return OutputError(f"cannot write {path!r}: {reason}; the output is incomplete")


class AtomicTarget:
    """A hidden temporary file next to ``path``, renamed over it on :meth:`commit`."""

    direct = False

    def __init__(self, path: str | Path, *, shown: str | None = None) -> None:
        self.path = Path(path)
        self.shown = shown or str(path)
        remove_stale_parts(self.path)
        token = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.tmp_path = self.path.with_name(f".{self.path.name}.{token}.part")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        try:
            # Created by name (not mkstemp) so that the umask, not 0600, sets the permissions.
            self.fd: int | None = os.open(self.tmp_path, flags, 0o666)
        except OSError as exc:
            raise ConfigError(f"cannot write {self.shown!r}: {exc.strerror or exc}") from exc
        with contextlib.suppress(OSError):  # keep the mode of the file being replaced
            os.chmod(self.fd, stat.S_IMODE(os.stat(self.path).st_mode))
        self.done = False

    @property
    def write_path(self) -> Path:
        """The name a writer that opens files itself (pyarrow) should open."""
        return self.tmp_path

    def open_file(self) -> IO[bytes]:
        """The temporary file as a binary file object (owns the descriptor from now on)."""
        fd, self.fd = self.fd, None
        if fd is None:
            raise ConfigError(f"{self.shown!r}: the temporary file was already opened")
        return os.fdopen(fd, "wb")

    def release(self) -> None:
        """Close the descriptor so that another writer can open :attr:`write_path` by name."""
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)

    def commit(self) -> None:
        """fsync the temporary file and rename it over the target (writers must be closed)."""
        if self.done:
            return
        self.release()
        try:
            with open(self.tmp_path, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(self.tmp_path, self.path)
        except OSError as exc:
            self.discard()
            raise write_error(self.shown, exc) from exc
        self.done = True

    def discard(self) -> None:
        """Remove the temporary file (writers must be closed)."""
        self.release()
        self.done = True
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp_path)


class DirectTarget:
    """A FIFO or device written in place: nothing to rename, nothing to take back."""

    direct = True

    def __init__(self, path: str | Path, *, shown: str | None = None) -> None:
        self.path = Path(path)
        self.shown = shown or str(path)

    @property
    def write_path(self) -> Path:
        return self.path

    def open_file(self) -> IO[bytes]:
        try:
            return open(self.path, "wb")
        except OSError as exc:
            raise write_error(self.shown, exc) from exc

    def release(self) -> None:
        """Nothing is held open before :meth:`open_file`."""

    def commit(self) -> None:
        """Nothing to publish: every byte went straight to the target."""

    def discard(self) -> None:
        """Bytes already written to a pipe or device cannot be taken back."""


OutputTarget = AtomicTarget | DirectTarget


def open_target(path: str | Path) -> OutputTarget:
    """The target for writing ``path`` (see the module docstring for the rules)."""
    text = str(path)
    if _FD_ALIAS.fullmatch(text):
        return DirectTarget(text)
    try:
        mode = os.stat(text).st_mode  # follows symbolic links
    except FileNotFoundError:
        # A new file, possibly at the end of a dangling link: create it where the link points.
        return AtomicTarget(os.path.realpath(text), shown=text)
    except OSError as exc:
        raise ConfigError(f"cannot write {text!r}: {exc.strerror or exc}") from exc
    if stat.S_ISREG(mode):
        return AtomicTarget(os.path.realpath(text), shown=text)
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        return DirectTarget(text)
    kind = "a directory" if stat.S_ISDIR(mode) else "a socket or block device"
    raise ConfigError(f"cannot write {text!r}: it is {kind}, not a file, FIFO or device")


def remove_stale_parts(path: Path) -> list[Path]:
    """Remove ``.NAME.PID-*.part`` siblings of ``path`` left by processes that are gone."""
    prefix = f".{path.name}."
    removed: list[Path] = []
    try:
        entries = list(os.scandir(path.parent if str(path.parent) else "."))
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".part")):
            continue
        token = name[len(prefix) : -len(".part")]
        pid_text, sep, _ = token.partition("-")
        try:
            if sep and pid_text.isdigit():
                if _alive(int(pid_text)):
                    continue
            elif entry.stat(follow_symlinks=False).st_mtime > time.time() - _LEGACY_PART_AGE:
                continue
            if not entry.is_file(follow_symlinks=False):
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
