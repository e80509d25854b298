"""``validate --workers``: two processes give what one gives (valid output byte for byte,
the report, the quarantine's contents), and a killed worker fails the run, which a second
run completes without loss or duplicate. The CLI runs in a subprocess, SQLite store."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

import pytest
from tests.fixtures.validate_runs import (
    report_without_timing,
    sample_jsonl,
    start_validate,
    store_contents,
)


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~1.6 MB: cut into 8 ranges with --workers 2."""
    return sample_jsonl(tmp_path_factory.mktemp("events") / "events.jsonl", 5_000)


def _run(cwd: Path, *args: str, workers: int | None) -> tuple[dict[str, object], list[object]]:
    cwd.mkdir(exist_ok=True)
    store, payloads = f"sqlite:///{cwd}/q.db", f"file://{cwd}/payloads"
    proc = start_validate(cwd, *args, store=store, payloads=payloads, workers=workers)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    return report_without_timing(out), store_contents(store, payloads)


def test_two_workers_give_what_one_gives(tmp_path: Path, events: Path) -> None:
    one, store_one = _run(tmp_path / "one", str(events), "--valid-out", "v.jsonl", workers=1)
    two, store_two = _run(tmp_path / "two", str(events), "--valid-out", "v.jsonl", workers=2)
    assert (tmp_path / "two/v.jsonl").read_bytes() == (tmp_path / "one/v.jsonl").read_bytes()
    assert two == one
    assert one["reconciles"] is True and one["quarantined"]
    assert store_two == store_one
    assert len(store_one) == one["quarantined"] + one["remediated"]


def test_many_files_and_csv_are_shared_per_file(tmp_path: Path, events: Path) -> None:
    lines = events.read_bytes().splitlines(keepends=True)
    (tmp_path / "a.jsonl").write_bytes(b"".join(lines[:1000]).rstrip(b"\n"))  # no last \n
    (tmp_path / "b.jsonl").write_bytes(b"".join(lines[1000:]))
    inputs = [str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl"), str(events)]
    one, store_one = _run(tmp_path / "one", *inputs, "--valid-out", "v.jsonl", workers=1)
    two, store_two = _run(tmp_path / "two", *inputs, "--valid-out", "v.jsonl", workers=2)
    assert (tmp_path / "two/v.jsonl").read_bytes() == (tmp_path / "one/v.jsonl").read_bytes()
    assert (two, store_two) == (one, store_one)


def test_csv_files_without_valid_output(tmp_path: Path) -> None:
    rows = "".join(f'{i},"line {i}\nwith a break",{"x" if i % 7 == 0 else i}\n' for i in range(300))
    for name in ("a.csv", "b.csv"):
        (tmp_path / name).write_text("id,text,n\n" + rows)
    inputs = [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]
    one, store_one = _run(tmp_path / "one", *inputs, workers=1)
    two, store_two = _run(tmp_path / "two", *inputs, workers=2)
    assert (two, store_two) == (one, store_one)
    assert one["total"] == 600


ROW_CONTRACT = """\
name: row
version: 1.0.0
schema:
  type: object
  required: [id]
  properties:
    id: {type: string, pattern: "^[0-9]+$"}
    name: {type: string}
"""


def test_a_parquet_file_is_shared_by_row_groups(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts/row.yaml").write_text(ROW_CONTRACT)
    ids = [f"x{i}" if i % 13 == 0 else str(i) for i in range(20_000)]
    table = pa.table({"id": ids, "name": [f"name {i} " * 3 for i in range(20_000)]})
    pq.write_table(table, tmp_path / "rows.parquet", row_group_size=1_500)
    results = []
    for workers in (1, 2):
        cwd = tmp_path / f"w{workers}"
        cwd.mkdir()
        store, payloads = f"sqlite:///{cwd}/q.db", f"file://{cwd}/payloads"
        args = (str(tmp_path / "rows.parquet"), "--contract", "row")
        proc = start_validate(
            cwd,
            *args,
            store=store,
            payloads=payloads,
            workers=workers,
            contracts=tmp_path / "contracts",
        )
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
        results.append((report_without_timing(out), store_contents(store, payloads)))
    assert results[1] == results[0]
    assert results[0][0]["quarantined"] == len(range(0, 20_000, 13))
    lines = sorted(json.loads(row[1])["line"] for row in results[0][1])
    assert lines == [i + 1 for i in range(0, 20_000, 13)]


def _worker_pids(parent: int) -> list[int]:
    """The worker processes of ``parent`` (forked: not its resource tracker, if any)."""
    try:
        children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    except OSError:
        return []
    pids = []
    for pid in map(int, children):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in cmdline:
            pids.append(pid)
    return pids


def _validating(cwd: Path) -> bool:
    """Whether a part file of the run in ``cwd`` has lines yet."""
    for part in cwd.glob(".dq-parts-*/*"):
        with contextlib.suppress(OSError):
            if part.stat().st_size:
                return True
    return False


def test_a_killed_worker_fails_the_run_and_a_rerun_completes(tmp_path: Path) -> None:
    big = sample_jsonl(tmp_path / "big.jsonl", 60_000)
    reference, store_reference = _run(
        tmp_path / "one", str(big), "--valid-out", "v.jsonl", workers=1
    )
    cwd = tmp_path / "two"
    cwd.mkdir()
    store, payloads = f"sqlite:///{cwd}/q.db", f"file://{cwd}/payloads"
    args = (str(big), "--valid-out", "v.jsonl")
    proc = start_validate(cwd, *args, store=store, payloads=payloads, workers=2)
    # Kill a worker once it validates (its part file has lines): the parent writes what
    # arrived, the killed worker's task is lost.
    deadline = time.monotonic() + 120
    killed = False
    while not killed and time.monotonic() < deadline and proc.poll() is None:
        pids = _worker_pids(proc.pid)
        if pids and _validating(cwd):
            os.kill(pids[0], signal.SIGKILL)
            killed = True
        time.sleep(0.02)
    out, err = proc.communicate(timeout=120)
    assert killed, "the run ended before a worker could be killed"
    assert proc.returncode == 1, err.decode()
    assert b"worker process died" in err
    assert not (cwd / "v.jsonl").exists()  # nothing published
    assert not list(cwd.glob(".dq-parts-*"))  # parts cleaned up
    partial = store_contents(store, payloads)
    assert len(partial) < len(store_reference)

    again = start_validate(cwd, *args, store=store, payloads=payloads, workers=2)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err.decode()
    assert report_without_timing(out) == reference
    assert (cwd / "v.jsonl").read_bytes() == (tmp_path / "one/v.jsonl").read_bytes()
    assert store_contents(store, payloads) == store_reference


def test_standard_input_and_csv_to_parquet_use_one_process(tmp_path: Path, events: Path) -> None:
    """What cannot be shared (a stream; CSV whose valid rows become one Parquet file) is
    validated by the command's own process, whatever --workers says."""
    one, _ = _run(tmp_path / "one", str(events), "--valid-out", "v.jsonl", workers=1)
    cwd = tmp_path / "stdin"
    cwd.mkdir()
    store, payloads = f"sqlite:///{cwd}/q.db", f"file://{cwd}/payloads"
    args = ("-", "--valid-out", "v.jsonl")
    with events.open("rb") as stdin:
        proc = start_validate(cwd, *args, store=store, payloads=payloads, workers=2, stdin=stdin)
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    report = report_without_timing(out)
    assert (report["total"], report["quarantined"]) == (one["total"], one["quarantined"])
    assert (cwd / "v.jsonl").read_bytes() == (tmp_path / "one/v.jsonl").read_bytes()

    rows = "".join(f"{i},{'x' if i % 7 == 0 else i}\n" for i in range(3000))
    (tmp_path / "a.csv").write_text("id,n\n" + rows)
    (tmp_path / "b.csv").write_text("id,n\n" + rows)
    inputs = (str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--valid-out", "v.parquet")
    csv_one, csv_store_one = _run(tmp_path / "csv1", *inputs, workers=1)
    csv_two, csv_store_two = _run(tmp_path / "csv2", *inputs, workers=2)
    assert (csv_two, csv_store_two) == (csv_one, csv_store_one)
    one_bytes = (tmp_path / "csv1/v.parquet").read_bytes()
    assert (tmp_path / "csv2/v.parquet").read_bytes() == one_bytes
