"""Inputs and outputs that are not plain files, through the CLI in a subprocess: symbolic
links, FIFOs, devices, directories, sockets, killed runs and unusable inputs."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

CLI = [sys.executable, "-m", "dataquarantine.cli.app"]

CONTRACT = """\
name: row
version: 1.0.0
schema:
  type: object
  required: [id]
  properties:
    id: {type: string, pattern: "^[0-9]+$"}
    name: {type: string}
"""
GOOD = [b'{"id":"1","name":"a"}\n', b'{"id":"3","name":"c"}\n']
JSONL = GOOD[0] + b'{"id":"x2"}\n' + GOOD[1]
CSV = b"id,name\n1,a\nx2,b\n3,c\n"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts/row.yaml").write_text(CONTRACT)
    (tmp_path / "in.jsonl").write_bytes(JSONL)
    (tmp_path / "in.csv").write_bytes(CSV)
    pq.write_table(pa.table({"id": ["1", "x2", "3"], "name": ["a", "b", "c"]}), tmp_path / "in.pq")
    return tmp_path


def start(
    ws: Path, *args: str, env: dict[str, str] | None = None, **kwargs
) -> subprocess.Popen[bytes]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DQ_")}
    environ.update(DQ_CONTRACTS_DIR=str(ws / "contracts"), COLUMNS="200", **(env or {}))
    return subprocess.Popen(
        [*CLI, "validate", "--contract", "row", "--no-progress", *args],
        cwd=ws,
        env=environ,
        stdout=kwargs.pop("stdout", subprocess.PIPE),
        stderr=subprocess.PIPE,
        stdin=kwargs.pop("stdin", subprocess.DEVNULL),
        **kwargs,
    )


def run(ws: Path, *args: str, stdin: bytes | None = None) -> tuple[int, bytes, str]:
    proc = start(ws, *args, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL)
    out, err = proc.communicate(stdin, timeout=120)
    return proc.returncode, out, err.decode()


def valid_ids(data: bytes) -> list[str]:
    return pq.read_table(io.BytesIO(data)).column("id").to_pylist()


INPUTS = [("in.jsonl", "out.jsonl"), ("in.csv", "out.parquet"), ("in.pq", "out.parquet")]

#: Device entries a regression would replace with a regular file when run as root.
_DEVICES = {"/dev/null": (1, 3), "/dev/full": (1, 7)}
_LINKS = {"/dev/stdout": "/proc/self/fd/1"}


@pytest.fixture(autouse=True)
def _dev_is_left_intact() -> Iterator[None]:
    """Fail a test that damaged /dev, and (as root) put the entries back."""
    yield
    damaged = []
    for path, (major, minor) in _DEVICES.items():
        if not stat.S_ISCHR(os.lstat(path).st_mode):
            damaged.append(path)
            if os.geteuid() == 0:
                os.unlink(path)
                os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(major, minor))
                os.chmod(path, 0o666)
    for path, target in _LINKS.items():
        if not os.path.islink(path):
            damaged.append(path)
            if os.geteuid() == 0:
                os.unlink(path)
                os.symlink(target, path)
    assert not damaged, f"the test replaced {damaged}"


def device(tmp_path: Path, name: str) -> str:
    """A private copy of /dev/null or /dev/full (root), else the real one."""
    if os.geteuid() != 0:
        return f"/dev/{name}"
    major, minor = _DEVICES[f"/dev/{name}"]
    path = tmp_path / name
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(major, minor))
    return str(path)


def expected(out: str) -> object:
    return b"".join(GOOD) if out.endswith(".jsonl") else ["1", "3"]


def content(path_or_bytes: Path | bytes, out: str) -> object:
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else path_or_bytes.read_bytes()
    return data if out.endswith(".jsonl") else valid_ids(data)


# -- --valid-out


@pytest.mark.parametrize(("src", "out"), INPUTS)
def test_a_symlink_is_kept_and_its_target_filled(ws: Path, src: str, out: str) -> None:
    (ws / "real").mkdir()
    target = ws / "real" / out
    target.write_bytes(b"old")
    target.chmod(0o640)
    (ws / out).symlink_to(target)
    code, _, err = run(ws, src, "--valid-out", out)
    assert code == 0, err
    assert (ws / out).is_symlink()
    assert content(target, out) == expected(out)
    assert target.stat().st_mode & 0o777 == 0o640  # the replaced file's mode is kept
    assert not list(ws.rglob("*.part"))


@pytest.mark.parametrize(("src", "out"), INPUTS)
def test_a_dangling_symlink_creates_its_target(ws: Path, src: str, out: str) -> None:
    (ws / out).symlink_to(ws / f"new-{out}")
    code, _, err = run(ws, src, "--valid-out", out)
    assert code == 0, err
    assert (ws / out).is_symlink()
    assert content(ws / f"new-{out}", out) == expected(out)


@pytest.mark.parametrize(("src", "out"), INPUTS)
def test_a_fifo_receives_the_records(ws: Path, src: str, out: str) -> None:
    fifo = ws / out
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    code, _, err = run(ws, src, "--valid-out", out)
    reader.join(timeout=60)
    assert code == 0, err
    assert fifo.is_fifo()
    assert content(received[0], out) == expected(out)


@pytest.mark.parametrize(("src", "out"), INPUTS)
def test_dev_stdout_receives_the_records(ws: Path, src: str, out: str) -> None:
    proc = start(ws, src, "--valid-out", "/dev/stdout")
    stdout, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    if out.endswith(".jsonl"):
        assert stdout.startswith(b"".join(GOOD))
    else:  # the Parquet file comes first on standard output, the summary after it
        end = stdout.index(b"PAR1", 4) + 4
        assert valid_ids(stdout[:end]) == ["1", "3"]


@pytest.mark.parametrize(("src", "out"), INPUTS)
def test_dev_null_is_written_not_replaced(ws: Path, src: str, out: str) -> None:
    null = device(ws, "null")
    code, _, err = run(ws, src, "--valid-out", null)
    assert code == 0, err
    assert Path(null).is_char_device()


@pytest.mark.parametrize(("src", "out"), INPUTS)
def test_a_full_device_is_a_runtime_failure(ws: Path, src: str, out: str) -> None:
    full = device(ws, "full")
    if not os.access(full, os.W_OK):
        pytest.skip("/dev/full is not writable here")
    code, stdout, err = run(ws, src, "--valid-out", full)
    assert code == 1, err
    assert "no space left" in err and full in err
    assert b"valid" not in stdout.lower()  # no summary: nothing is claimed
    assert Path(full).is_char_device()


def test_a_reader_that_goes_away_is_a_runtime_failure(ws: Path) -> None:
    big = b"".join(b'{"id":"%d"}\n' % i for i in range(300_000))
    (ws / "big.jsonl").write_bytes(big)
    fifo = ws / "out.jsonl"
    os.mkfifo(fifo)

    def read_a_little() -> None:
        with fifo.open("rb") as f:
            f.read(10)

    reader = threading.Thread(target=read_a_little)
    reader.start()
    code, stdout, err = run(ws, "big.jsonl", "--valid-out", str(fifo))
    reader.join(timeout=60)
    assert code == 1, err
    assert "closed the pipe" in err
    assert stdout == b""


@pytest.mark.parametrize(("src", "out"), INPUTS)
def test_a_directory_or_socket_is_refused(ws: Path, src: str, out: str) -> None:
    (ws / "dir").mkdir()
    code, _, err = run(ws, src, "--valid-out", "dir")
    assert code == 2 and "is a directory" in err
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(ws / "sock"))
    try:
        code, _, err = run(ws, src, "--valid-out", "sock")
    finally:
        sock.close()
    assert code == 2 and "socket" in err
    assert (ws / "dir").is_dir() and (ws / "sock").is_socket()


# -- temporary files of killed runs


def test_a_killed_run_leaves_a_part_file_that_the_next_run_removes(ws: Path) -> None:
    os.mkfifo(ws / "slow.jsonl")  # an input that never ends: the run is mid-way when killed
    proc = start(ws, "slow.jsonl", "--valid-out", "out.jsonl", "--batch-size", "10")
    with (ws / "slow.jsonl").open("wb") as feed:
        feed.write(b"".join(b'{"id":"%d"}\n' % i for i in range(100)))
        feed.flush()
        deadline = time.monotonic() + 60
        while not list(ws.glob(".out.jsonl.*.part")) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    (stale,) = ws.glob(".out.jsonl.*.part")
    assert f".out.jsonl.{proc.pid}-" in stale.name
    # a part file of a live process (ours) is left alone
    live = ws / f".out.jsonl.{os.getpid()}-0123456789ab.part"
    live.write_bytes(b"in progress")
    code, _, err = run(ws, "in.jsonl", "--valid-out", "out.jsonl")
    assert code == 0, err
    assert not stale.exists()
    assert live.exists()
    assert (ws / "out.jsonl").read_bytes() == b"".join(GOOD)


# -- inputs


def test_jsonl_from_dev_stdin_and_dash(ws: Path) -> None:
    for name in ("-", "/dev/stdin"):
        code, _, err = run(ws, name, "--valid-out", "out.jsonl", "--format", "jsonl", stdin=JSONL)
        assert code == 0, err
        assert (ws / "out.jsonl").read_bytes() == b"".join(GOOD)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("name", ["-", "/dev/stdin"])
def test_csv_and_parquet_need_a_regular_file(ws: Path, fmt: str, name: str) -> None:
    code, _, err = run(ws, name, "--format", fmt, stdin=CSV)
    assert code == 2, err
    assert "JSONL" in err and "does not exist" not in err


def test_a_directory_input_says_so(ws: Path) -> None:
    code, _, err = run(ws, str(ws / "contracts"), "--format", "jsonl")
    assert code == 2
    assert "is a directory" in err and "does not exist" not in err


def test_a_missing_input_is_a_usage_error(ws: Path) -> None:
    code, _, err = run(ws, "missing.jsonl")
    assert code == 2 and "does not exist" in err


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("bad.parquet", b"PAR1 not really parquet", "cannot read Parquet input"),
        ("trunc.parquet", None, "Parquet input"),
        ("head.csv", b"id,n\xe9me\n1,a\n", "not valid UTF-8"),
        ("dup.csv", b"id,id\n1,2\n", "two columns named"),
    ],
)
def test_an_unusable_input_is_a_runtime_failure(
    ws: Path, name: str, data: bytes | None, message: str
) -> None:
    if data is None:  # a real Parquet file cut short
        data = (ws / "in.pq").read_bytes()[:-20]
    (ws / name).write_bytes(data)
    code, _, err = run(ws, name)
    assert code == 1, err
    assert message in err
    assert "Traceback" not in err


def test_an_unreadable_input_is_a_runtime_failure(ws: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    (ws / "in.jsonl").chmod(0)
    code, _, err = run(ws, "in.jsonl")
    assert code == 1 and "Permission denied" in err


def test_the_summary_is_printed_after_the_output(ws: Path) -> None:
    code, out, err = run(ws, "in.jsonl", "--valid-out", "out.jsonl", "--json")
    assert code == 0, err
    assert json.loads(out)["valid"] == 2


# -- very long lines


def test_a_line_over_the_record_limit_is_quarantined_unparsed(ws: Path) -> None:
    big = b'{"id":"7","name":"' + b"n" * 5000 + b'"}\n'
    (ws / "mixed.jsonl").write_bytes(GOOD[0] + big + GOOD[1])
    proc = start(
        ws, "mixed.jsonl", "--valid-out", "out.jsonl", "--json", env={"DQ_MAX_RECORD_BYTES": "4096"}
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    summary = json.loads(out)
    assert summary["by_code"] == {"parse_error": 1} and summary["valid"] == 2
    assert (ws / "out.jsonl").read_bytes() == b"".join(GOOD)
    listed = subprocess.run(
        [*CLI, "quarantine", "export"], cwd=ws, capture_output=True, timeout=120, check=True
    )
    (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert "DQ_MAX_RECORD_BYTES" in row["errors"][0]["message"]
    assert row["source"]["line"] == 2
    assert row["payload_json"]["name"] == "n" * 5000  # the bytes are kept whole


# -- quarantine export -o follows the same rules


def export(ws: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*CLI, "quarantine", "export", *args], cwd=ws, capture_output=True, timeout=120
    )


def test_export_output_rules(ws: Path) -> None:
    assert run(ws, "in.jsonl")[0] == 0
    reference = export(ws).stdout
    assert reference.count(b"\n") == 1
    (ws / "real.jsonl").write_bytes(b"old")
    (ws / "link.jsonl").symlink_to("real.jsonl")
    assert export(ws, "-o", "link.jsonl").returncode == 0
    assert (ws / "link.jsonl").is_symlink()
    assert (ws / "real.jsonl").read_bytes() == reference
    (ws / "dir").mkdir()
    proc = export(ws, "-o", "dir")
    assert proc.returncode == 2 and b"is a directory" in proc.stderr
    full = device(ws, "full")
    if os.access(full, os.W_OK):
        proc = export(ws, "-o", full)
        assert proc.returncode == 1 and b"no space left" in proc.stderr
    assert not list(ws.glob(".*.part"))
