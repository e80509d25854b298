"""The double pass: remediate an invalid record, validate it again with the same contract,
and (in a file run) send the fixed record on while the original is quarantined."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from dataquarantine.kernel.lifecycle import Status
from dataquarantine.kernel.revisions import RevisionKind
from dataquarantine.quarantine.envelope import QuarantineFilter
from dataquarantine.quarantine.service import Quarantine
from dataquarantine.remediation import RecordOutcome, Remediation, remediate
from dataquarantine.runner import ValidationRun
from dataquarantine.testing import InMemoryPayloadStore, InMemoryQuarantineStore
from dataquarantine.validation.contract import Contract
from dataquarantine.validation.registry import ContractRegistry, Router

CONTRACT: dict[str, Any] = {
    "name": "signup",
    "version": "1.0.0",
    "phone_region": "FR",
    "schema": {
        "type": "object",
        "required": ["email", "phone", "age", "at", "country"],
        "properties": {
            "email": {"type": "string", "pattern": "^[a-z0-9.]+@[a-z0-9.]+$"},
            "phone": {"type": "string", "pattern": "^\\+[0-9]{8,15}$"},
            "age": {"type": "integer", "minimum": 0},
            "at": {"type": "string", "format": "date-time"},
            "country": {"type": "string"},
        },
    },
    "remediation": [
        {"field": "email", "action": "trim"},
        {"field": "email", "action": "lowercase"},
        {"field": "phone", "action": "e164_phone"},
        {"field": "age", "action": "coerce_int"},
        {"field": "at", "action": "iso_timestamp"},
        {"field": "country", "action": "default", "value": "FR"},
    ],
}
GOOD = (
    b'{"email":"ann@x.fr","phone":"+33123456789","age":30,'
    b'"at":"2024-05-01T10:00:00Z","country":"FR"}'
)
FIXABLE = b'{"email":" Ann@X.FR ","phone":"01 23 45 67 89","age":"30","at":"01/05/2024 10:00"}'
UNFIXABLE = b'{"email":"ann@x.fr","phone":"no phone","age":"thirty","at":"2024-05-01T10:00:00Z"}'
UNCHANGED = (
    b'{"email":"ann@x.fr","phone":"+33123456789","age":-1,'
    b'"at":"2024-05-01T10:00:00Z","country":"FR"}'
)


@pytest.fixture
def contract() -> Contract:
    return Contract.from_dict(CONTRACT)


def test_a_fixable_record_becomes_a_valid_revision(contract: Contract) -> None:
    assert not contract.validate(FIXABLE).valid
    revision = remediate(contract, FIXABLE)
    assert revision is not None and revision.valid
    assert revision.kind is RevisionKind.REMEDIATION and revision.author == "remediation"
    assert orjson.loads(revision.payload) == {
        "email": "ann@x.fr",
        "phone": "+33123456789",
        "age": 30,
        "at": "2024-05-01T10:00:00Z",
        "country": "FR",
    }
    assert [(c.path, c.action) for c in revision.changes] == [
        ("/email", "trim"),
        ("/email", "lowercase"),
        ("/phone", "e164_phone"),
        ("/age", "coerce_int"),
        ("/at", "iso_timestamp"),
        ("/country", "default"),
    ]
    assert contract.validate(revision.payload).valid


def test_a_record_still_invalid_keeps_the_attempt_and_the_errors_left(contract: Contract) -> None:
    revision = remediate(contract, UNFIXABLE)
    assert revision is not None and not revision.valid
    assert {v.path for v in revision.errors} == {"/phone", "/age"}
    assert [c.action for c in revision.changes] == ["default"]


def test_nothing_is_attempted_without_rules_a_change_or_json(contract: Contract) -> None:
    plain = Contract.from_dict({k: v for k, v in CONTRACT.items() if k != "remediation"})
    assert remediate(plain, FIXABLE) is None
    assert remediate(contract, UNCHANGED) is None
    assert remediate(contract, b"{oops") is None


def test_outcomes_are_counted_per_record_and_per_action(contract: Contract) -> None:
    remediation = Remediation()
    for payload in (FIXABLE, UNFIXABLE, UNCHANGED):
        remediation.attempt(contract, payload)
    stats = remediation.stats.to_dict()
    assert stats["records"] == {"remediated": 1, "still_invalid": 1, "unchanged": 1}
    assert stats["actions"]["e164_phone"] == {"applied": 1, "failed": 1}
    assert stats["actions"]["coerce_int"] == {"applied": 1, "failed": 1}
    assert remediation.stats.by_contract[("signup", RecordOutcome.REMEDIATED)] == 1


# -- in a file run ---------------------------------------------------------------------------


@pytest.fixture
def run_parts(contract: Contract) -> tuple[Router, Quarantine]:
    router = Router(ContractRegistry([contract]), contract="signup")
    return router, Quarantine(InMemoryQuarantineStore(), InMemoryPayloadStore())


def test_a_file_run_sends_the_fixed_record_on_and_quarantines_the_original(
    tmp_path: Path, run_parts: tuple[Router, Quarantine]
) -> None:
    router, quarantine = run_parts
    source = tmp_path / "in.jsonl"
    source.write_bytes(GOOD + b"\n" + FIXABLE + b"\r\n" + UNFIXABLE + b"\n")
    out = tmp_path / "valid.jsonl"
    summary = ValidationRun(router, quarantine, valid_out=out).run([str(source)])

    assert (summary.total, summary.valid, summary.quarantined, summary.remediated) == (3, 2, 1, 1)
    assert summary.reconciles
    assert summary.by_contract["signup@1.0.0"].remediated == 1
    assert summary.to_dict()["remediation"]["records"]["remediated"] == 1
    lines = out.read_bytes().split(b"\n")
    assert lines[0] == GOOD
    fixed = lines[1].removesuffix(b"\r")
    assert orjson.loads(fixed)["phone"] == "+33123456789"
    assert lines[1].endswith(b"\r")  # the line keeps its terminator

    records = {r.status: r for r in quarantine.list()}
    assert set(records) == {Status.REMEDIATED, Status.QUARANTINED}
    assert quarantine.payload(records[Status.REMEDIATED]) == FIXABLE  # the original, untouched
    assert quarantine.payload(records[Status.QUARANTINED]) == UNFIXABLE
    assert quarantine.count(QuarantineFilter(status=Status.REMEDIATED)) == 1
    stored = quarantine.store.revisions(records[Status.REMEDIATED].id)  # type: ignore[attr-defined]
    assert len(stored) == 1 and stored[0].payload == fixed and stored[0].valid
    left = quarantine.store.revisions(records[Status.QUARANTINED].id)  # type: ignore[attr-defined]
    assert len(left) == 1 and not left[0].valid


def test_no_remediate_leaves_invalid_records_as_they_are(
    tmp_path: Path, run_parts: tuple[Router, Quarantine]
) -> None:
    router, quarantine = run_parts
    source = tmp_path / "in.jsonl"
    source.write_bytes(FIXABLE + b"\n")
    summary = ValidationRun(router, quarantine, remediate=False).run([str(source)])
    assert (summary.valid, summary.quarantined, summary.remediated) == (0, 1, 0)
    assert [r.status for r in quarantine.list()] == [Status.QUARANTINED]


def test_csv_and_parquet_runs_write_the_fixed_values(
    tmp_path: Path, run_parts: tuple[Router, Quarantine]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    router, quarantine = run_parts
    csv = tmp_path / "in.csv"
    csv.write_text(
        "email,phone,age,at,country\n"
        "ann@x.fr,+33123456789,30,2024-05-01T10:00:00Z,FR\n"
        " Bob@X.FR ,01 23 45 67 89,41,01/05/2024 10:00,FR\n"
    )
    out = tmp_path / "valid.parquet"
    summary = ValidationRun(router, quarantine, valid_out=out).run([str(csv)])
    assert (summary.valid, summary.remediated, summary.quarantined) == (2, 1, 0)
    rows = pq.read_table(out).to_pylist()
    assert rows[1]["email"] == "bob@x.fr" and rows[1]["phone"] == "+33123456789"

    table = pa.table(
        {
            "email": ["ann@x.fr", " Bob@X.FR "],
            "phone": ["+33123456789", "0123456789"],
            "age": [30, 41],
            "at": ["2024-05-01T10:00:00Z", "1714557600"],
            "country": ["FR", "FR"],
        }
    )
    pq.write_table(table, tmp_path / "in.parquet")
    out2 = tmp_path / "valid2.parquet"
    summary = ValidationRun(router, quarantine, valid_out=out2).run([str(tmp_path / "in.parquet")])
    assert (summary.valid, summary.remediated) == (2, 1)
    assert pq.read_table(out2).to_pylist()[1]["at"] == "2024-05-01T10:00:00Z"


def test_a_parquet_row_whose_fix_does_not_fit_its_column_stays_quarantined(
    tmp_path: Path, run_parts: tuple[Router, Quarantine]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    router, quarantine = run_parts
    table = pa.table(
        {
            "email": ["ann@x.fr"],
            "phone": ["+33123456789"],
            "age": ["30"],  # a string column: the coerced 30 cannot go back into it
            "at": ["2024-05-01T10:00:00Z"],
            "country": ["FR"],
        }
    )
    pq.write_table(table, tmp_path / "in.parquet")
    out = tmp_path / "valid.parquet"
    summary = ValidationRun(router, quarantine, valid_out=out).run([str(tmp_path / "in.parquet")])
    assert (summary.valid, summary.remediated, summary.quarantined) == (0, 0, 1)
    assert summary.remediation["records"]["still_invalid"] == 1
    assert summary.remediation["records"]["remediated"] == 0
    (record,) = quarantine.list()
    assert record.status is Status.QUARANTINED
    (attempt,) = quarantine.store.revisions(record.id)  # type: ignore[attr-defined]
    assert "does not fit the Parquet columns" in attempt.errors[0].message
