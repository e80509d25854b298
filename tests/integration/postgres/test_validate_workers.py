"""``validate --workers 2`` into a PostgreSQL quarantine stores what one process stores, and
reports the same counts (the CLI in a subprocess, a schema of its own per run)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.fixtures.validate_runs import (
    report_without_timing,
    sample_jsonl,
    start_validate,
    store_contents,
)


def test_two_workers_store_what_one_stores(
    tmp_path: Path, pg_schema_url_factory: Callable[[], str]
) -> None:
    events = sample_jsonl(tmp_path / "events.jsonl", 5_000)
    results = []
    for workers in (1, 2):
        cwd = tmp_path / f"w{workers}"
        cwd.mkdir()
        store, payloads = pg_schema_url_factory(), f"file://{cwd}/payloads"
        args = (str(events), "--valid-out", "v.jsonl")
        proc = start_validate(cwd, *args, store=store, payloads=payloads, workers=workers)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
        results.append(
            (
                report_without_timing(out),
                store_contents(store, payloads),
                (cwd / "v.jsonl").read_bytes(),
            )
        )
    assert results[1] == results[0]
    assert len(results[0][1]) == results[0][0]["quarantined"]
