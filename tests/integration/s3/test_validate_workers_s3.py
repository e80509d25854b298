"""``validate --workers 2`` with payloads in S3 (moto_server): each worker puts its own chunk
objects; the records and their bytes are what one process stores."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.s3 import S3Target
from tests.fixtures.validate_runs import (
    report_without_timing,
    sample_jsonl,
    start_validate,
    store_contents,
)


def test_two_workers_store_what_one_stores_in_s3(tmp_path: Path, s3_target: S3Target) -> None:
    events = sample_jsonl(tmp_path / "events.jsonl", 5_000)
    results = []
    for workers in (1, 2):
        cwd = tmp_path / f"w{workers}"
        cwd.mkdir()
        store, payloads = f"sqlite:///{cwd}/q.db", f"{s3_target.url}/w{workers}"
        proc = start_validate(cwd, str(events), store=store, payloads=payloads, workers=workers)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
        results.append((report_without_timing(out), store_contents(store, payloads)))
    assert results[1] == results[0]
    assert len(results[0][1]) == results[0][0]["quarantined"]
