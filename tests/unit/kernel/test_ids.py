"""Run ids keep their format: file runs and load runs alike."""

from __future__ import annotations

import re
import time

from dataquarantine.kernel.ids import new_run_id

STAMP = r"\d{8}T\d{6}Z-[0-9a-f]{8}"


def test_file_run_id_format() -> None:
    before = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    run_id = new_run_id()
    after = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    assert re.fullmatch(STAMP, run_id)
    assert before <= run_id[:16] <= after


def test_prefixed_run_id_format() -> None:
    assert re.fullmatch("load-" + STAMP, new_run_id("load"))


def test_run_ids_are_unique() -> None:
    assert len({new_run_id() for _ in range(100)}) == 100
