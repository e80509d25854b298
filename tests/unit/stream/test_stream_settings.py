"""Stream settings: sources and their priority, topic lists, secrets, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from dataquarantine.errors import ConfigError
from dataquarantine.infra.kafka_config import consumer_config, producer_config
from dataquarantine.stream.settings import StreamSettings


@pytest.fixture(autouse=True)
def no_dq_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("DQ_"):
            monkeypatch.delenv(name)


def test_defaults_follow_the_seed_names() -> None:
    s = StreamSettings.load()
    assert s.kafka_consumer_group_id == "dataquarantine-validators"
    assert s.kafka_raw_topic == ["raw-events"]
    assert s.kafka_valid_topic == "validated-events"
    assert s.kafka_dlq_topic == "quarantine-dlq"
    assert s.kafka_max_poll_records == 500
    assert s.prometheus_port == 8081


def test_options_beat_environment_beat_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "stream.yaml"
    path.write_text(
        "kafka_valid_topic: from-yaml\nkafka_dlq_topic: from-yaml\nkafka_raw_topic: [a, b]\n"
    )
    monkeypatch.setenv("DQ_KAFKA_DLQ_TOPIC", "from-env")
    monkeypatch.setenv("DQ_KAFKA_MAX_POLL_RECORDS", "42")
    s = StreamSettings.from_yaml(path, kafka_max_poll_records=7)
    assert s.kafka_valid_topic == "from-yaml"
    assert s.kafka_dlq_topic == "from-env"
    assert s.kafka_max_poll_records == 7
    assert s.kafka_raw_topic == ["a", "b"]


def test_raw_topic_takes_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DQ_KAFKA_RAW_TOPIC", "orders, payments,")
    assert StreamSettings.load().raw_topics == ["orders", "payments"]


def test_kafka_extra_secrets_are_masked_but_passed_to_clients(tmp_path: Path) -> None:
    path = tmp_path / "stream.yaml"
    path.write_text(
        "kafka_extra:\n  sasl.password: hunter2\n  security.protocol: SASL_SSL\n"
        "  socket.keepalive.enable: true\n  linger.ms: 1\n"
    )
    s = StreamSettings.from_yaml(path)
    assert isinstance(s.kafka_extra["sasl.password"], SecretStr)
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.redacted())
    conf = producer_config(s.kafka_client())
    assert conf["sasl.password"] == "hunter2"
    assert conf["security.protocol"] == "SASL_SSL"
    assert conf["socket.keepalive.enable"] == "true"
    assert conf["linger.ms"] == "1"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://dq:s3cret@db:5432/dq",
        "postgresql://db:5432/dq?user=dq&password=s3cret",
        "postgresql://db:5432/dq?user=dq&PassWord=s3cret",
        "postgresql://db:5432/dq?user=dq&sslpassword=s3cret",
        "postgresql://dq:s3%2Fcret@db:5432/dq",
    ],
)
def test_store_url_password_is_masked(url: str) -> None:
    s = StreamSettings.load(store_url=url)
    assert "s3cret" not in str(s.redacted()) and "s3%2Fcret" not in str(s.redacted())
    assert "db:5432/dq" in s.redacted()["store_url"]


def test_delivery_guarantee_settings_cannot_be_overridden() -> None:
    with pytest.raises(ConfigError, match=r"enable\.auto\.commit"):
        consumer_config(
            StreamSettings.load(kafka_extra={"enable.auto.commit": "true"}).kafka_client()
        )
    with pytest.raises(ConfigError, match=r"enable\.idempotence"):
        producer_config(
            StreamSettings.load(kafka_producer_extra={"enable.idempotence": False}).kafka_client()
        )
    assert (
        producer_config(StreamSettings.load(kafka_extra={"acks": "-1"}).kafka_client())["acks"]
        == "all"
    )


def test_client_specific_properties_go_to_one_client_only() -> None:
    s = StreamSettings.load(
        kafka_consumer_extra={"session.timeout.ms": 6000},
        kafka_producer_extra={"linger.ms": 0},
    )
    assert consumer_config(s.kafka_client())["session.timeout.ms"] == "6000"
    assert "session.timeout.ms" not in producer_config(s.kafka_client())
    assert producer_config(s.kafka_client())["linger.ms"] == "0"
    consumer = consumer_config(s.kafka_client())
    assert consumer["enable.auto.commit"] == "false"
    assert consumer["auto.offset.reset"] == "earliest"
    assert consumer["partition.assignment.strategy"] == "cooperative-sticky"


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"kafka_bogus": 1}, "unknown setting 'kafka_bogus'"),
        ({"kafka_max_poll_records": 0}, "kafka_max_poll_records"),
        ({"kafka_extra": {"a": {"nested": 1}}}, "kafka_extra"),
        ({"topic_contracts": {"t": "a@b@c"}}, "NAME@VERSION"),
        ({"flush_interval_ms": -1}, "flush_interval_ms"),
    ],
)
def test_bad_values_are_config_errors(overrides: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        StreamSettings.load(**overrides)  # type: ignore[arg-type]


def test_yaml_problems_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        StreamSettings.from_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("kafka_bootstrap_servrs: x\n")
    with pytest.raises(ConfigError, match="did you mean 'kafka_bootstrap_servers'"):
        StreamSettings.from_yaml(bad)
    bad.write_text("[1, 2]\n")
    with pytest.raises(ConfigError, match="mapping"):
        StreamSettings.from_yaml(bad)
    bad.write_text("")
    assert StreamSettings.from_yaml(bad).kafka_valid_topic == "validated-events"
