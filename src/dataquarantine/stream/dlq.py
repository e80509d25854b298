"""The DLQ message of an invalid record: the seed's JSON envelope plus ``dq.*`` headers.

Envelope (one JSON object)::

    {"original_message": <the original, as JSON, byte for byte>,   # when it is JSON
     "original_message_b64": "<base64>",                           # when it is not
     "validation_error": {"error_type", "error_message", "field_path"},   # the headline
     "errors": [every violation: code, path, message, rule?, keyword?],
     "source_topic", "source_partition", "source_offset",
     "quarantined_at": "<RFC 3339 UTC>", "quarantine_id": "<uuid>",
     "contract": <name or null>, "contract_version": <version or null>}

``original_message`` is the original text spliced in unchanged (not re-serialised), so big
integers, number spellings and key order survive. An original bigger than the configured limit
is left out (``original_omitted: true`` and ``original_size``): the quarantine store keeps
every byte under ``quarantine_id``. The original headers come first, then the ``dq.*`` ones,
then Kafka Connect's ``__connect.errors.*`` ones (topic, partition, offset, exception class
name ``dataquarantine.<code>`` and message), so tools built for Connect DLQs read ours too.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from dataquarantine.kernel.results import ContractRef, ErrorCode, ValidationResult, Violation
from dataquarantine.quarantine.envelope import KafkaSource, QuarantineItem
from dataquarantine.stream.dialects import CONNECT_HEADERS

__all__ = ["HEADERS", "DlqMessage", "Header", "dlq_envelope", "dlq_headers"]

Header = tuple[str, bytes]

#: The headers the worker adds to every DLQ message.
HEADERS: Final = (
    "dq.error.code",
    "dq.error.path",
    "dq.contract",
    "dq.source.topic",
    "dq.source.partition",
    "dq.source.offset",
    "dq.quarantine.id",
    *CONNECT_HEADERS,
)

_ORIGINAL = b'{"original_message":'


def _is_json(raw: bytes) -> bool:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    # orjson reads a leading UTF-8 BOM; spliced into an envelope it would break the JSON.
    return not raw.startswith(b"\xef\xbb\xbf")


def _headline(errors: Sequence[Violation]) -> dict[str, str]:
    if not errors:
        return {
            "error_type": ErrorCode.SYSTEM_ERROR.value,
            "error_message": "no violation recorded",
            "field_path": "",
        }
    first = errors[0]
    return {
        "error_type": first.code.value,
        "error_message": first.message,
        "field_path": first.path,
    }


def dlq_envelope(
    raw: bytes,
    errors: Sequence[Violation],
    *,
    topic: str,
    partition: int,
    offset: int,
    quarantine_id: str,
    quarantined_at: str,
    contract: ContractRef | None,
    max_original_bytes: int,
) -> bytes:
    """The JSON envelope of one invalid message (see the module docstring)."""
    rest: dict[str, Any] = {
        "validation_error": _headline(errors),
        "errors": [v.to_dict() for v in errors],
        "source_topic": topic,
        "source_partition": partition,
        "source_offset": offset,
        "quarantined_at": quarantined_at,
        "quarantine_id": quarantine_id,
        "contract": contract.name if contract else None,
        "contract_version": contract.version if contract else None,
    }
    if len(raw) > max_original_bytes:
        rest["original_omitted"] = True
        rest["original_size"] = len(raw)
        return orjson.dumps(rest)
    if _is_json(raw):
        # The original text itself, spliced in: byte for byte, whatever orjson would write.
        return _ORIGINAL + raw + b"," + orjson.dumps(rest)[1:]
    return orjson.dumps({"original_message_b64": base64.b64encode(raw).decode("ascii"), **rest})


def dlq_headers(
    original: Sequence[Header] | None,
    errors: Sequence[Violation],
    *,
    topic: str,
    partition: int,
    offset: int,
    quarantine_id: str,
    contract: ContractRef | None,
) -> list[Header]:
    """The original headers followed by the ``dq.*`` and ``__connect.errors.*`` headers."""
    head = errors[0] if errors else None
    code = head.code.value if head else ErrorCode.SYSTEM_ERROR.value
    message = (
        f"{head.path}: {head.message}" if head and head.path else (head.message if head else "")
    )
    connect = (
        topic.encode(),
        str(partition).encode(),
        str(offset).encode(),
        f"dataquarantine.{code}".encode(),
        message.encode("utf-8", "surrogatepass"),
    )
    ours: list[Header] = [
        ("dq.error.code", (head.code.value if head else ErrorCode.SYSTEM_ERROR.value).encode()),
        ("dq.error.path", (head.path if head else "").encode("utf-8", "surrogatepass")),
        ("dq.contract", str(contract).encode() if contract else b""),
        ("dq.source.topic", topic.encode()),
        ("dq.source.partition", str(partition).encode()),
        ("dq.source.offset", str(offset).encode()),
        ("dq.quarantine.id", quarantine_id.encode()),
        *zip(CONNECT_HEADERS, connect, strict=True),
    ]
    return [*original, *ours] if original else ours


_NO_VIOLATION = Violation(ErrorCode.SYSTEM_ERROR, "", "invalid without a recorded violation")


@dataclass(frozen=True, slots=True)
class DlqMessage:
    """An invalid message: its quarantine item and its DLQ message (value, key, headers)."""

    item: QuarantineItem
    quarantine_id: str
    value: bytes
    key: bytes | None
    headers: list[Header]
    quarantined_at: str

    @classmethod
    def build(
        cls,
        raw: bytes,
        result: ValidationResult,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        headers: Sequence[Header] | None,
        run_id: str,
        quarantined_at: str,
        max_original_bytes: int,
    ) -> DlqMessage:
        errors = result.errors or (_NO_VIOLATION,)
        # The id is computed once, here; the quarantine write reuses it (and the digest).
        item = QuarantineItem.identified(
            KafkaSource(topic, partition, offset), raw, errors, result.contract, run_id
        )
        qid = str(item.record_id())
        value = dlq_envelope(
            raw,
            errors,
            topic=topic,
            partition=partition,
            offset=offset,
            quarantine_id=qid,
            quarantined_at=quarantined_at,
            contract=result.contract,
            max_original_bytes=max_original_bytes,
        )
        dq_headers = dlq_headers(
            headers,
            errors,
            topic=topic,
            partition=partition,
            offset=offset,
            quarantine_id=qid,
            contract=result.contract,
        )
        return cls(item, qid, value, key, dq_headers, quarantined_at)

    def without_original(self) -> bytes:
        """The envelope without the original and with the headline violation only, for a
        message too big for the DLQ topic (the store keeps every byte)."""
        src = self.item.source
        assert isinstance(src, KafkaSource)
        return dlq_envelope(
            self.item.payload,
            self.item.errors[:1],
            topic=src.topic,
            partition=src.partition,
            offset=src.offset,
            quarantine_id=self.quarantine_id,
            quarantined_at=self.quarantined_at,
            contract=self.item.contract,
            max_original_bytes=0,
        )
