"""The source of a record read from another tool's DLQ: its identity and its stored form."""

from __future__ import annotations

from dataquarantine.quarantine.envelope import DlqSource, KafkaSource, source_from_dict

SOURCE = DlqSource(
    topic="orders.dlq",
    partition=1,
    offset=17,
    dialect="connect",
    origin=KafkaSource("orders", 0, 5),
    key=b"\x00k",
    headers=(("trace", b"\xff\x00"), ("__connect.errors.topic", b"orders")),
)


def test_round_trips_through_its_dict() -> None:
    assert source_from_dict(SOURCE.to_dict()) == SOURCE
    bare = DlqSource("d", 0, 0, "unknown")
    assert source_from_dict(bare.to_dict()) == bare


def test_identity_is_the_dlq_coordinates() -> None:
    assert SOURCE.coordinates == "dlq:orders.dlq:1:17"
    assert SOURCE.name == "orders.dlq"
    assert SOURCE.original_topic == "orders"
    assert DlqSource("d", 0, 0, "confluent", origin_topic="payments").original_topic == "payments"


def test_original_headers_drop_the_dlq_tools_ones() -> None:
    assert SOURCE.original_headers() == [("trace", b"\xff\x00")]
