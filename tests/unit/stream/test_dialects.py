"""Reading the headers of Kafka Connect, Confluent rule and Spring Kafka DLQ messages."""

from __future__ import annotations

import pytest

from dataquarantine.kernel.results import ContractRef, ErrorCode, Violation
from dataquarantine.quarantine.envelope import KafkaSource
from dataquarantine.stream.dialects import Dialect, DlqFormat, detect, is_dialect_header, parse
from dataquarantine.stream.dlq import dlq_headers

CONNECT = [
    ("trace", b"t-1"),
    ("__connect.errors.topic", b"orders"),
    ("__connect.errors.partition", b"2"),
    ("__connect.errors.offset", b"41"),
    ("__connect.errors.connector.name", b"jdbc-sink"),
    ("__connect.errors.task.id", b"0"),
    ("__connect.errors.stage", b"VALUE_CONVERTER"),
    ("__connect.errors.class.name", b"org.apache.kafka.connect.json.JsonConverter"),
    ("__connect.errors.exception.class.name", b"org.apache.kafka.connect.errors.DataException"),
    ("__connect.errors.exception.message", b"Converting byte[] to Kafka Connect data failed"),
    ("__connect.errors.exception.stacktrace", b"org.apache...\n\tat ..."),
]
CONFLUENT = [
    ("__rule.name", b"checkAmount"),
    ("__rule.mode", b"WRITE"),
    ("__rule.subject", b"payments-value"),
    ("__rule.topic", b"payments"),
    ("__rule.exception", b"Expr failed: 'message.amount > 0'"),
]
SPRING = [
    ("kafka_dlt-original-topic", b"invoices"),
    ("kafka_dlt-original-partition", (3).to_bytes(4, "big")),
    ("kafka_dlt-original-offset", (1234567890123).to_bytes(8, "big")),
    ("kafka_dlt-original-timestamp", (1700000000000).to_bytes(8, "big")),
    ("kafka_dlt-original-timestamp-type", b"CreateTime"),
    ("kafka_dlt-original-consumer-group", b"billing"),
    (
        "kafka_dlt-exception-fqcn",
        b"org.springframework.kafka.listener.ListenerExecutionFailedException",
    ),
    ("kafka_dlt-exception-message", b"Listener failed; nested exception is NumberFormatException"),
    ("kafka_dlt-exception-stacktrace", b"..."),
]


def test_connect() -> None:
    err = parse(CONNECT)
    assert err.dialect is Dialect.CONNECT
    assert err.origin == KafkaSource("orders", 2, 41)
    assert err.exception == "org.apache.kafka.connect.errors.DataException"
    assert err.message == "Converting byte[] to Kafka Connect data failed"
    assert dict(err.context) == {"connector": "jdbc-sink", "task": "0", "stage": "VALUE_CONVERTER"}
    assert err.problems == ()


def test_confluent_names_the_topic_only() -> None:
    err = parse(CONFLUENT)
    assert err.dialect is Dialect.CONFLUENT
    assert (err.origin, err.origin_topic) == (None, "payments")
    assert err.exception == "rule checkAmount"
    assert err.message == "Expr failed: 'message.amount > 0'"
    assert dict(err.context) == {
        "rule": "checkAmount",
        "mode": "WRITE",
        "subject": "payments-value",
    }


def test_spring_binary_coordinates() -> None:
    err = parse(SPRING)
    assert err.dialect is Dialect.SPRING
    assert err.origin == KafkaSource("invoices", 3, 1234567890123)
    assert err.exception == "org.springframework.kafka.listener.ListenerExecutionFailedException"
    assert dict(err.context) == {"group": "billing"}


def test_spring_text_coordinates_are_read_too() -> None:
    headers = [*SPRING[:1], ("kafka_dlt-original-partition", b"3"),
               ("kafka_dlt-original-offset", b"7"), *SPRING[6:]]  # fmt: skip
    assert parse(headers).origin == KafkaSource("invoices", 3, 7)


@pytest.mark.parametrize(
    ("headers", "dialect"),
    [(CONNECT, Dialect.CONNECT), (CONFLUENT, Dialect.CONFLUENT), (SPRING, Dialect.SPRING),
     ([("trace", b"x")], Dialect.UNKNOWN), ([], Dialect.UNKNOWN)],
)  # fmt: skip
def test_auto_detects_each_message(headers: list[tuple[str, bytes]], dialect: Dialect) -> None:
    assert detect(headers) is dialect
    assert parse(headers, DlqFormat.AUTO).dialect is dialect


def test_malformed_and_missing_headers_are_problems_not_failures() -> None:
    headers = [("__connect.errors.topic", b"orders"), ("__connect.errors.partition", b"two")]
    err = parse(headers)
    assert err.dialect is Dialect.CONNECT
    assert err.origin is None and err.origin_topic == "orders"
    assert err.problems == (
        "malformed __connect.errors.partition",
        "missing __connect.errors.offset",
        "missing __connect.errors.exception.class.name",
    )
    violation = err.violation()
    assert violation.code is ErrorCode.UPSTREAM_ERROR
    assert "malformed __connect.errors.partition" in violation.message


def test_a_forced_format_reads_what_it_can() -> None:
    err = parse(CONNECT, DlqFormat.SPRING)
    assert err.dialect is Dialect.SPRING
    assert "missing kafka_dlt-original-topic" in err.problems


def test_unknown_dialect() -> None:
    err = parse(None)
    assert err.dialect is Dialect.UNKNOWN
    assert err.violation() == Violation(
        ErrorCode.UPSTREAM_ERROR, "", "unknown: unknown exception [no known DLQ headers]",
        rule="unknown", keyword="unknown",
    )  # fmt: skip


def test_the_violation_names_tool_and_exception() -> None:
    violation = parse(SPRING).violation()
    assert violation.rule == (
        "spring-kafka:org.springframework.kafka.listener.ListenerExecutionFailedException"
    )
    assert violation.keyword == "spring"
    assert violation.message.startswith("spring-kafka: org.springframework")


def test_our_dlq_messages_read_as_connect_ones() -> None:
    errors = (Violation(ErrorCode.SCHEMA_VIOLATION, "/user_id", "'x' does not match"),)
    headers = dlq_headers(
        [("trace", b"1")], errors, topic="raw", partition=1, offset=9, quarantine_id="q",
        contract=ContractRef("user_event", "1.0.0"),
    )  # fmt: skip
    err = parse(headers)
    assert err.dialect is Dialect.CONNECT and err.problems == ()
    assert err.origin == KafkaSource("raw", 1, 9)
    assert err.exception == "dataquarantine.schema_violation"
    assert err.message == "/user_id: 'x' does not match"


def test_dialect_headers() -> None:
    assert [is_dialect_header(k) for k, _ in CONNECT[:2]] == [False, True]
    assert all(is_dialect_header(k) for k, _ in CONFLUENT + SPRING)
