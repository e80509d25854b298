"""The Kafka clients' properties: the same dicts as before the move to infra/, key for key."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from dataquarantine.errors import ConfigError
from dataquarantine.infra.kafka_config import KafkaClientConfig, consumer_config, producer_config
from dataquarantine.stream.settings import StreamSettings

CLIENT_ID = f"dataquarantine-{socket.gethostname()}"

FIXTURES: dict[str, dict[str, Any]] = {
    "defaults": {},
    "sasl": {
        "kafka_bootstrap_servers": "b1:9093,b2:9093",
        "kafka_extra": {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "PLAIN",
            "sasl.username": "dq",
            "sasl.password": "s3cret",
        },
        "kafka_consumer_extra": {"session.timeout.ms": 6000},
        "kafka_producer_extra": {"linger.ms": 0, "acks": "-1"},
    },
    "tuned": {
        "kafka_consumer_group_id": "dq-orders",
        "kafka_extra": {"enable.auto.offset.store": True, "enable.auto.commit": False},
        "kafka_producer_extra": {"delivery.report.only.error": "False", "compression.type": "zstd"},
        "kafka_consumer_extra": {"auto.offset.reset": "latest"},
    },
}

_SASL = {
    "security.protocol": "SASL_SSL",
    "sasl.mechanism": "PLAIN",
    "sasl.username": "dq",
    "sasl.password": "s3cret",
}

# Computed with the code before the move (then in the stream package), in its key order.
EXPECTED: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "defaults": (
        {
            "bootstrap.servers": "localhost:9092",
            "group.id": "dataquarantine-validators",
            "client.id": CLIENT_ID,
            "enable.auto.commit": "false",
            "enable.auto.offset.store": "false",
            "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "cooperative-sticky",
            "enable.partition.eof": "false",
        },
        {
            "bootstrap.servers": "localhost:9092",
            "client.id": CLIENT_ID,
            "enable.idempotence": "true",
            "acks": "all",
            "linger.ms": "2",
            "compression.type": "lz4",
            "delivery.report.only.error": True,
        },
    ),
    "sasl": (
        {
            "bootstrap.servers": "b1:9093,b2:9093",
            "group.id": "dataquarantine-validators",
            "client.id": CLIENT_ID,
            "enable.auto.commit": "false",
            "enable.auto.offset.store": "false",
            "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "cooperative-sticky",
            "enable.partition.eof": "false",
            **_SASL,
            "session.timeout.ms": "6000",
        },
        {
            "bootstrap.servers": "b1:9093,b2:9093",
            "client.id": CLIENT_ID,
            "enable.idempotence": "true",
            "acks": "all",
            "linger.ms": "0",
            "compression.type": "lz4",
            "delivery.report.only.error": True,
            **_SASL,
        },
    ),
    "tuned": (
        {
            "bootstrap.servers": "localhost:9092",
            "group.id": "dq-orders",
            "client.id": CLIENT_ID,
            "enable.auto.commit": "false",
            "enable.auto.offset.store": "true",
            "auto.offset.reset": "latest",
            "partition.assignment.strategy": "cooperative-sticky",
            "enable.partition.eof": "false",
        },
        {
            "bootstrap.servers": "localhost:9092",
            "client.id": CLIENT_ID,
            "enable.idempotence": "true",
            "acks": "all",
            "linger.ms": "2",
            "compression.type": "zstd",
            "delivery.report.only.error": False,
            "enable.auto.offset.store": "true",
            "enable.auto.commit": "false",
        },
    ),
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_client_dicts_are_unchanged(name: str) -> None:
    client = StreamSettings.load(**FIXTURES[name]).kafka_client()
    consumer, producer = EXPECTED[name]
    assert list(consumer_config(client).items()) == list(consumer.items())
    assert list(producer_config(client).items()) == list(producer.items())


def test_the_config_is_frozen_and_keeps_secrets_out_of_repr() -> None:
    client = StreamSettings.load(**FIXTURES["sasl"]).kafka_client()
    assert "s3cret" not in repr(client)
    with pytest.raises(AttributeError):
        client.bootstrap_servers = "elsewhere:9092"  # type: ignore[misc]
    with pytest.raises(TypeError):
        client.properties["acks"] = "0"  # type: ignore[index]


def test_a_producer_only_config_makes_no_consumer() -> None:
    client = KafkaClientConfig(bootstrap_servers="b:9092")
    assert producer_config(client)["bootstrap.servers"] == "b:9092"
    with pytest.raises(ConfigError, match="consumer group"):
        consumer_config(client)


def test_from_env_reads_the_extra_properties_as_the_stream_settings_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DQ_KAFKA_EXTRA", '{"security.protocol": "SSL", "ssl.key.password": "k"}')
    monkeypatch.setenv("DQ_KAFKA_PRODUCER_EXTRA", '{"linger.ms": 5, "enable.idempotence": true}')
    monkeypatch.setenv("DQ_KAFKA_CONSUMER_EXTRA", '{"session.timeout.ms": "7000"}')
    from_env = KafkaClientConfig.from_env("b:9092")
    stream = StreamSettings(kafka_bootstrap_servers="b:9092").kafka_client()
    assert producer_config(from_env) == producer_config(stream)
    assert producer_config(from_env)["ssl.key.password"] == "k"
    assert from_env.consumer_properties == {"session.timeout.ms": "7000"}
