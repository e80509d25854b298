"""split/check on JSON lines: per record, the same verdict, codes, paths and rule ids as the
engine (differential), record ids, reconciliation, and laziness (no Spark job)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.fixtures.spark import require_spark

require_spark()

from tests.unit.spark.differential import (
    engine_verdict,
    jsonl_records,
    spark_jsonl_verdicts,
    spark_verdict,
)

from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR, write_jsonl
from dataquarantine.errors import ConfigError
from dataquarantine.kernel.results import ErrorCode
from dataquarantine.quarantine.envelope import uuid5
from dataquarantine.spark import ID, PAYLOAD, check, read_jsonl, split
from dataquarantine.validation.contract import Contract

TRAPS: dict[str, Any] = {
    "name": "traps",
    "version": "1.2.0",
    "schema": {
        "type": "object",
        "required": ["id", "user_id"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer", "minimum": 0},
            "user_id": {"type": "string", "pattern": "^USER[0-9]{6}$"},
            "at": {"type": "string", "format": "date-time"},
            "day": {"type": "string", "format": "date"},
            "amount": {"type": "number"},
            "kind": {"type": "string"},
            "email": {"type": "string"},
            "tree": {"type": "array"},
        },
    },
    "rules": [
        {"id": "positive", "expr": "!has(record.amount) || record.amount > 0", "field": "amount"},
        {
            "id": "signup_email",
            "expr": "!has(record.kind) || record.kind != 'signup' || has(record.email)",
            "severity": "warn",
        },
    ],
}

OK = b'{"id": 1, "user_id": "USER123456"}'
TRAP_LINES = [
    OK,
    b'{"id": 2, "user_id": "USER123456\\n"}',  # a trailing newline against `$`
    b'{"id": 3, "user_id": "USER123456", "amount": NaN}',  # not JSON
    b'{"id": 123456789012345678901234567890, "user_id": "USER123456"}',  # beyond 64 bits
    b'{"id": -123456789012345678901234567890, "user_id": "USER123456"}',
    b'{"id": 4, "user_id": "USER123456", "at": "2024-02-30T10:00:00Z"}',  # impossible date
    b'{"id": 5, "user_id": "USER123456", "day": "2023-02-29"}',
    b'{"id": 6, "user_id": "USER123456", "at": "2024-01-01T24:00:00Z"}',
    b'{"id": 7, "user_id": "USER\xff\xfe56"}',  # not UTF-8
    b'{"id": 8, "user_id": "USER123456", "tree": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"id": 9, "user_id": "USER123456", "tree": ' + b"[" * 60 + b"]" * 60 + b"}",
    b'{"id": 10}',  # missing field
    b'{"id": 11, "user_id": "USER123456", "extra": true, "more": 1}',  # extra fields
    b'{"id": 12, "user_id": "USER123456", "amount": -5}',  # an error rule
    b'{"id": 13, "user_id": "USER123456", "kind": "signup"}',  # a warn rule only: valid
    b'{"id": 14, "user_id": "USER12", "kind": "signup", "amount": 0}',  # errors and a warning
    b'{"id": 15, "user_id": "USER123456"} trailing',
    b"[1, 2, 3]",
    b'"just a string"',
    b'{"id": 16, "id": 17, "user_id": "USER123456"}',  # duplicate keys
    b'{"id": 1.0, "user_id": "USER123456"}',
    b'{"id": 18, "user_id": "USER123456", "amount": 1e400}',
    b"\x00\x01 binary",
    b'{"id": 10}',  # identical to an earlier bad line: its own record
    OK,
]


def _traps_file(tmp_path: Path) -> Path:
    """The trap lines with the reader's edge cases: a BOM, CRLF, blank lines, a lone \\r
    inside a line, and a last line without terminator."""
    body = b"\xef\xbb\xbf" + b"\n".join(TRAP_LINES[:5]) + b"\r\n\n  \t\r\n"
    body += b"\n".join(TRAP_LINES[5:]) + b'\n{"id": 19, "user_id": "USER\r123456"}\n'
    body += b'{"id": 20, "user_id": "USER123456"}\r'
    path = tmp_path / "traps file.jsonl"
    path.write_bytes(body)
    return path


@pytest.fixture(scope="module")
def traps() -> Contract:
    return Contract.from_dict(TRAPS)


@pytest.mark.parametrize("split_bytes", [1000, 1 << 20])
def test_trap_lines_get_the_engines_verdicts(
    spark: Any, tmp_path: Path, traps: Contract, split_bytes: int
) -> None:
    path = _traps_file(tmp_path)
    records = jsonl_records(path)
    expected = [engine_verdict(traps.validate(raw)) for raw in records]
    got = spark_jsonl_verdicts(read_jsonl(spark, str(path), split_bytes=split_bytes), traps)
    assert [verdict for _, verdict in got] == expected
    assert len(got) == len(records) == len(TRAP_LINES) + 2
    codes = {v[1][0][0] for v in expected if not v[0]}
    assert codes == {"schema_violation", "parse_error", "rule_violation"}
    assert any(v[0] and v[2] for v in expected), "a valid record with a warning"


def test_payloads_are_the_default_readers_records(
    spark: Any, tmp_path: Path, traps: Contract
) -> None:
    path = _traps_file(tmp_path)
    rows = check(read_jsonl(spark, str(path), split_bytes=2000), traps).orderBy("offset").collect()
    records = jsonl_records(path)
    bad = [(row[PAYLOAD], records[i]) for i, row in enumerate(rows) if not row["_dq_valid"]]
    assert bad and all(got == want for got, want in bad)
    assert [row["offset"] for row in rows][:2] == [0, 3 + len(TRAP_LINES[0]) + 1]
    assert rows[0]["path"] == path.resolve().as_uri()


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_RECORD = st.fixed_dictionaries(
    {},
    optional={
        "id": st.integers(-3, 2**64) | st.floats(allow_nan=False) | st.text(max_size=3),
        "user_id": st.sampled_from(["USER123456", "USER123456\n", "user1", "USER12345é"]),
        "at": st.sampled_from(["2024-02-29T10:00:00Z", "2023-02-29T10:00:00Z", "2024-01-01"]),
        "amount": st.integers(-2, 2) | st.floats(allow_nan=False, allow_infinity=False),
        "kind": st.sampled_from(["signup", "login"]),
        "email": st.text(max_size=5),
        "tree": _JSON,
        "extra": _JSON,
    },
)
_LINE = st.one_of(
    _RECORD.map(lambda r: json.dumps(r, ensure_ascii=False).encode()),
    _JSON.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=20).filter(lambda b: b"\n" not in b),
)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=st.lists(_LINE, min_size=1, max_size=60))
def test_generated_lines_get_the_engines_verdicts(
    spark: Any, tmp_path_factory: pytest.TempPathFactory, traps: Contract, lines: list[bytes]
) -> None:
    path = tmp_path_factory.mktemp("lines") / "generated.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    expected = [engine_verdict(traps.validate(raw)) for raw in jsonl_records(path)]
    got = spark_jsonl_verdicts(read_jsonl(spark, str(path), split_bytes=512), traps)
    assert [v for _, v in got] == expected


def test_oversize_lines_are_parse_errors_without_parsing(
    spark: Any, tmp_path: Path, traps: Contract
) -> None:
    path = tmp_path / "big.jsonl"
    path.write_bytes(OK + b"\n" + b'{"id": 1, "user_id": "' + b"x" * 100 + b'"}\n' + OK + b"\n")
    got = spark_jsonl_verdicts(read_jsonl(spark, str(path)), traps, max_record_bytes=60)
    verdicts = [v for _, v in got]
    assert [v[0] for v in verdicts] == [True, False, True]
    assert verdicts[1][1] == (
        (
            "parse_error",
            "",
            "record of 124 bytes is larger than the limit of 60 bytes "
            "(DQ_MAX_RECORD_BYTES); it was not parsed",
            None,
            None,
            "error",
        ),
    )


def test_demo_events_get_the_engines_verdicts(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    counts = write_jsonl(path, 600, bad_ratio=0.2, seed=7)
    assert sum(counts.values()) == 600
    for name in ("user_event-1.0.0.yaml", "user_event-1.1.0.yaml"):
        contract = Contract.from_file(DEMO_CONTRACTS_DIR / name)
        expected = [engine_verdict(contract.validate(raw)) for raw in jsonl_records(path)]
        got = spark_jsonl_verdicts(read_jsonl(spark, str(path), split_bytes=32768), contract)
        assert [v for _, v in got] == expected
        assert sum(not v[0] for v in expected) > 100  # page views and planted errors


def test_split_reconciles_and_ids_do_not_depend_on_partitioning(
    spark: Any, tmp_path: Path, traps: Contract
) -> None:
    path = _traps_file(tmp_path)
    frames = {size: read_jsonl(spark, str(path), split_bytes=size) for size in (1000, 1 << 20)}
    ids: dict[int, list[str]] = {}
    for size, df in frames.items():
        valid, quarantine = split(df, traps, run_id="run-1")
        n_in, n_valid, n_bad = df.count(), valid.count(), quarantine.count()
        assert n_in == n_valid + n_bad == len(jsonl_records(path))
        ids[size] = sorted(row[ID] for row in quarantine.select(ID).collect())
    assert ids[1000] == ids[1 << 20]
    assert len(set(ids[1000])) == len(ids[1000]), "two identical bad lines are two records"


def test_lines_judged_in_the_reader_match_the_engine_stage(
    spark: Any, tmp_path: Path, traps: Contract
) -> None:
    """check on read_jsonl's own frame judges lines in the reader; on a frame derived from it,
    in a mapInArrow stage: the same rows, verdicts, errors, payloads and ids."""
    df = read_jsonl(spark, str(_traps_file(tmp_path)), split_bytes=1000)

    def rows(frame: Any) -> list[Any]:
        return sorted(tuple(r) for r in check(frame, traps).drop("_dq_warnings").collect())

    assert rows(df) == rows(df.select("*"))


def test_quarantine_rows_carry_the_store_fields(
    spark: Any, tmp_path: Path, traps: Contract
) -> None:
    path = _traps_file(tmp_path)
    df = read_jsonl(spark, str(path))
    valid, quarantine = split(df, traps, run_id="run-7")
    assert valid.columns == df.columns == ["path", "offset", "value"]
    assert quarantine.columns == [
        "path",
        "offset",
        "value",
        "_dq_id",
        "_dq_contract",
        "_dq_contract_version",
        "_dq_run_id",
        "_dq_errors",
        "_dq_payload",
    ]
    row = quarantine.where("offset > 0").orderBy("offset").first()
    assert row is not None
    assert (row["_dq_contract"], row["_dq_contract_version"], row["_dq_run_id"]) == (
        "traps",
        "1.2.0",
        "run-7",
    )
    digest = __import__("hashlib").sha256(row[PAYLOAD]).hexdigest()
    assert row[ID] == str(uuid5(f"file:{path.resolve().as_uri()}@{row['offset']}#{digest}"))
    assert uuid.UUID(row[ID]).version == 5
    assert row["_dq_errors"][0]["code"] in {c.value for c in ErrorCode}


def test_split_runs_no_spark_job(spark: Any, tmp_path: Path, traps: Contract) -> None:
    path = _traps_file(tmp_path)
    df = read_jsonl(spark, str(path))
    tracker = spark.sparkContext.statusTracker()
    before = set(tracker.getJobIdsForGroup())
    valid, quarantine = split(df, traps)
    checked = check(df, traps)
    assert set(tracker.getJobIdsForGroup()) == before
    assert valid.count() + quarantine.count() == checked.count()  # now jobs run
    assert set(tracker.getJobIdsForGroup()) != before


def test_a_frame_without_coordinates_is_refused(spark: Any, traps: Contract) -> None:
    df = spark.createDataFrame([(1, "USER123456")], "id long, user_id string")
    with pytest.raises(ConfigError, match="coordinates"):
        split(df, traps)
    reserved = spark.createDataFrame([(1,)], "_dq_id long")
    with pytest.raises(ConfigError, match="_dq_"):
        check(reserved, traps)


def test_spark_verdict_helper_reads_violations() -> None:
    row = {"_dq_valid": True, "_dq_errors": [], "_dq_warnings": []}
    assert spark_verdict(row) == (True, (), ())
