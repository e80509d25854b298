"""The DLQ envelope and headers."""

from __future__ import annotations

import base64
import hashlib

import orjson
from hypothesis import given
from hypothesis import strategies as st

from dataquarantine.kernel.results import ContractRef, ErrorCode, ValidationResult, Violation
from dataquarantine.quarantine.envelope import KafkaSource, QuarantineItem
from dataquarantine.stream.dlq import HEADERS, DlqMessage, dlq_envelope, dlq_headers

ERRORS = (
    Violation(ErrorCode.SCHEMA_VIOLATION, "/user_id", "does not match", keyword="pattern"),
    Violation(ErrorCode.RULE_VIOLATION, "/amount", "must be positive", rule="priced"),
)
REF = ContractRef("user_event", "1.1.0")


def envelope(raw: bytes, **kw: object) -> dict[str, object]:
    args: dict[str, object] = {
        "topic": "raw",
        "partition": 3,
        "offset": 42,
        "quarantine_id": "0b7c6f1e-0000-5000-8000-000000000000",
        "quarantined_at": "2024-05-01T10:00:00+00:00",
        "contract": REF,
        "max_original_bytes": 1000,
    }
    args.update(kw)
    return orjson.loads(dlq_envelope(raw, ERRORS, **args))  # type: ignore[arg-type]


def test_json_original_is_embedded_byte_for_byte() -> None:
    raw = b'{"big": 123456789012345678901234567890, "f": 1.50, "z": 1, "a": 2}'
    value = dlq_envelope(
        raw, ERRORS, topic="raw", partition=3, offset=42, quarantine_id="q",
        quarantined_at="t", contract=REF, max_original_bytes=1000,
    )  # fmt: skip
    assert raw in value
    env = orjson.loads(value)
    assert "original_message_b64" not in env
    assert env["validation_error"] == {
        "error_type": "schema_violation",
        "error_message": "does not match",
        "field_path": "/user_id",
    }
    assert [e["code"] for e in env["errors"]] == ["schema_violation", "rule_violation"]
    assert env["errors"][1]["rule"] == "priced"
    assert (env["source_topic"], env["source_partition"], env["source_offset"]) == ("raw", 3, 42)
    assert (env["contract"], env["contract_version"]) == ("user_event", "1.1.0")
    assert env["quarantine_id"] == "q"


def test_non_json_original_is_base64() -> None:
    for raw in (b"\xff\xfenot json", b"", b'{"a":1,}', b"\xef\xbb\xbf{}", b"NaN"):
        env = envelope(raw, contract=None)
        assert "original_message" not in env
        assert base64.b64decode(env["original_message_b64"]) == raw  # type: ignore[arg-type]
        assert env["contract"] is None and env["contract_version"] is None


def test_oversized_original_is_left_out() -> None:
    env = envelope(b'"' + b"x" * 5000 + b'"', max_original_bytes=1000)
    assert env["original_omitted"] is True and env["original_size"] == 5002
    assert "original_message" not in env and "original_message_b64" not in env


@given(st.binary(max_size=200))
def test_any_bytes_give_a_json_envelope_that_keeps_them(raw: bytes) -> None:
    env = envelope(raw)
    if "original_message_b64" in env:
        assert base64.b64decode(env["original_message_b64"]) == raw  # type: ignore[arg-type]
    else:
        assert env["original_message"] == orjson.loads(raw)


def test_headers_keep_the_originals_first() -> None:
    original = [("trace", b"\x00\x01"), ("dq.error.code", b"old")]
    headers = dlq_headers(
        original, ERRORS, topic="raw", partition=3, offset=42, quarantine_id="q", contract=REF
    )
    assert headers[:2] == original
    assert [k for k, _ in headers[2:]] == list(HEADERS)
    values = dict(headers[2:])
    assert values["dq.error.code"] == b"schema_violation"
    assert values["dq.error.path"] == b"/user_id"
    assert values["dq.contract"] == b"user_event@1.1.0"
    assert values["dq.source.partition"] == b"3"
    assert values["dq.source.offset"] == b"42"
    assert values["dq.quarantine.id"] == b"q"
    assert values["__connect.errors.topic"] == b"raw"
    assert values["__connect.errors.partition"] == b"3"
    assert values["__connect.errors.offset"] == b"42"
    assert values["__connect.errors.exception.class.name"] == b"dataquarantine.schema_violation"
    assert values["__connect.errors.exception.message"].startswith(b"/user_id: ")
    assert dlq_headers(
        None, (), topic="t", partition=0, offset=0, quarantine_id="q", contract=None
    )[0] == ("dq.error.code", b"system_error")


def test_build_computes_the_record_identity_once_for_the_store() -> None:
    raw = b'{"user_id": "u1"}'
    result = ValidationResult(False, ERRORS, (), None, REF)
    msg = DlqMessage.build(
        raw, result, topic="raw", partition=3, offset=42, key=b"k", headers=None,
        run_id="run", quarantined_at="2024-05-01T10:00:00+00:00", max_original_bytes=1000,
    )  # fmt: skip
    # The id the DLQ message carries is the one the store derives from the source and bytes.
    plain = QuarantineItem(KafkaSource("raw", 3, 42), raw, ERRORS, REF, "run")
    assert msg.item == plain
    assert msg.item.identity == (hashlib.sha256(raw).hexdigest(), plain.record_id())
    assert msg.quarantine_id == str(plain.record_id()) == str(msg.item.record_id())
    assert dict(msg.headers)["dq.quarantine.id"] == msg.quarantine_id.encode()
    assert msg.item.record_id("0" * 64) == plain.record_id("0" * 64)  # another digest: computed
