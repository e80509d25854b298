"""Reading payloads for export by chunk runs: integrity and the range arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataquarantine.errors import PayloadStoreError
from dataquarantine.quarantine.envelope import PayloadRef
from dataquarantine.quarantine.payloads import LocalPayloadStore
from dataquarantine.quarantine.service import Quarantine, read_runs
from dataquarantine.quarantine.sql import open_store
from dataquarantine.testing import make_item


def test_a_corrupt_chunk_is_detected(tmp_path: Path) -> None:
    store = LocalPayloadStore(tmp_path / "payloads")
    q = Quarantine(open_store(f"sqlite:///{tmp_path}/q.db"), store)
    q.store.migrate()
    q.write([make_item(b"first", line=1), make_item(b"second", line=2)])
    (chunk,) = [p for p in (tmp_path / "payloads").rglob("*") if p.is_file()]
    chunk.chmod(0o644)
    chunk.write_bytes(chunk.read_bytes().replace(b"second", b"SECOND"))
    with pytest.raises(PayloadStoreError, match="SHA-256 mismatch"):
        list(q.iter_payloads())
    q.close()


def ref(offset: int, length: int) -> PayloadRef:
    return PayloadRef(key="k", offset=offset, length=length, sha256="")


def test_runs_bridge_small_gaps_only() -> None:
    assert read_runs([]) == []
    assert read_runs([ref(10, 5), ref(0, 10)]) == [(0, 15)]
    assert read_runs([ref(0, 10), ref(100, 10)]) == [(0, 110)]  # a gap under 64 KiB is bridged
    far = 10 << 20
    assert read_runs([ref(0, 10), ref(far, 10)]) == [(0, 10), (far, far + 10)]
    # a gap as large as the bytes already in the run is bridged, not a larger one
    big = 1 << 20
    assert read_runs([ref(0, big), ref(2 * big, 1)]) == [(0, 2 * big + 1)]
    assert read_runs([ref(0, big), ref(2 * big + 1, 1)]) == [(0, big), (2 * big + 1, 2 * big + 2)]
    assert read_runs([ref(5, 0), ref(5, 0)]) == [(5, 5)]
