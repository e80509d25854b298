"""``load`` with OpenLineage configured: START and COMPLETE, the staging table in (with the
contract's assertions and the row count), the target table and the quarantine out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.fixtures.lineage import Receiver, check_event
from tests.integration.postgres.load_db import LoadDb, make_load_db, write_contract
from typer.testing import CliRunner

from dataquarantine.cli.app import app

pytestmark = pytest.mark.postgres


def test_load_emits_its_datasets_and_assertions(
    pg_schema_url: str, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENLINEAGE_URL", receiver.url)
    db: LoadDb = make_load_db(pg_schema_url)
    db.stage(
        [("CL1", 1, 1, 60, "open"), ("CL2", 2, 2, 30, "pending"), ("CL12", 998, 78, 5, "open")]
    )
    result = CliRunner().invoke(
        app,
        ["load", "--db", db.url, "--contract", str(write_contract(tmp_path)), "--json",
         "--store", f"sqlite:///{tmp_path / 'q.db'}", "--payloads", f"file://{tmp_path / 'p'}"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    start, complete = receiver.events
    for event in receiver.events:
        check_event(event)
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    (staging,) = complete["inputs"]
    assert staging["name"] == summary["staging"]
    facets = staging["inputFacets"]
    assert facets["dataQualityMetrics"]["rowCount"] == 3
    got = {
        (a["assertion"], a["success"], a.get("actual"))
        for a in facets["dataQualityAssertions"]["assertions"]
    }
    assert ("schema", True, "0") in got
    assert ("foreign_key", False, "1") in got  # CL12's parent is missing
    outputs = {
        o["name"]: o["outputFacets"]["outputStatistics"]["rowCount"] for o in complete["outputs"]
    }
    assert outputs == {summary["target"]: 2, "dq_quarantine": 1}
