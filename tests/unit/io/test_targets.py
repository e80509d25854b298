"""Output targets: what a path names decides how it is written."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dataquarantine.errors import ConfigError, OutputError
from dataquarantine.io.targets import (
    AtomicTarget,
    DirectTarget,
    open_target,
    remove_stale_parts,
    write_error,
)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_kinds(tmp_path: Path) -> None:
    assert isinstance(open_target(tmp_path / "new.jsonl"), AtomicTarget)
    (tmp_path / "old.jsonl").write_bytes(b"x")
    assert isinstance(open_target(tmp_path / "old.jsonl"), AtomicTarget)
    os.mkfifo(tmp_path / "fifo")
    assert isinstance(open_target(tmp_path / "fifo"), DirectTarget)
    for device in ("/dev/null", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/2"):
        assert isinstance(open_target(device), DirectTarget)
    with pytest.raises(ConfigError, match="is a directory"):
        open_target(tmp_path)
    with pytest.raises(ConfigError, match="No such file"):
        open_target(tmp_path / "missing-dir" / "out.jsonl")


def test_a_link_is_resolved_and_kept(tmp_path: Path) -> None:
    (tmp_path / "real.jsonl").write_bytes(b"old")
    (tmp_path / "link.jsonl").symlink_to("real.jsonl")
    target = open_target(tmp_path / "link.jsonl")
    assert isinstance(target, AtomicTarget)
    assert target.path == tmp_path / "real.jsonl"
    with target.open_file() as f:
        f.write(b"new")
    target.commit()
    assert (tmp_path / "link.jsonl").is_symlink()
    assert (tmp_path / "real.jsonl").read_bytes() == b"new"


def test_stale_parts_of_dead_processes_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    dead = tmp_path / f".out.jsonl.{dead_pid()}-0123456789ab.part"
    live = tmp_path / f".out.jsonl.{os.getpid()}-0123456789ab.part"
    legacy_old = tmp_path / ".out.jsonl.0123456789ab.part"
    legacy_new = tmp_path / ".out.jsonl.ba9876543210.part"
    other = tmp_path / f".other.jsonl.{dead_pid()}-0123456789ab.part"
    for path in (dead, live, legacy_old, legacy_new, other):
        path.write_bytes(b"partial")
    day_ago = time.time() - 2 * 24 * 3600
    os.utime(legacy_old, (day_ago, day_ago))
    assert sorted(remove_stale_parts(out)) == sorted([dead, legacy_old])
    assert live.exists() and legacy_new.exists() and other.exists()
    # opening the target cleans up too; its own temporary file carries this PID
    target = AtomicTarget(out)
    assert target.tmp_path.name.startswith(f".out.jsonl.{os.getpid()}-")
    target.discard()


def test_write_errors_say_what_happened() -> None:
    import errno

    assert "no space left" in str(write_error("x", OSError(errno.ENOSPC, "No space")))
    assert "closed the pipe" in str(write_error("x", BrokenPipeError(errno.EPIPE, "pipe")))
    assert isinstance(write_error("x", OSError(errno.EIO, "I/O error")), OutputError)
