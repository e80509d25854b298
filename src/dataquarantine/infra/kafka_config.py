"""Kafka client configuration: the librdkafka properties of the worker's consumer and producer.

Plain values, no Kafka client import (the settings import this module on every path). The
clients themselves are made by :mod:`dataquarantine.infra.kafka`.

Choices, every one overridable through the extra properties except the two that the delivery
guarantee rests on (``enable.auto.commit`` and the idempotent producer):

- **Consumer**: offsets are committed only by the worker, explicitly, after a checkpoint is
  durable; ``auto.offset.reset=earliest`` so that a new group starts with the oldest message
  (losing nothing); ``partition.assignment.strategy=cooperative-sticky``: when a worker joins
  or leaves, only the partitions that move are revoked, the others keep flowing (with the eager
  protocol every rebalance stops every worker). All workers of a group must use the same
  strategy.
- **Producer**: ``enable.idempotence=true`` and ``acks=all`` (no duplicates from the
  producer's own retries, no loss on a leader change); a small ``linger.ms`` (batches form in a
  couple of milliseconds, latency stays low); ``lz4`` compression (cheap on CPU);
  ``delivery.report.only.error=true``: successful deliveries cost no Python callback, a failure
  is reported and blocks the commit.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dataquarantine.errors import ConfigError
from dataquarantine.masking import is_secret_key

__all__ = ["KafkaClientConfig", "consumer_config", "normalize_properties", "producer_config"]

# Properties the at-least-once guarantee depends on: the extra properties may not change them.
_PINNED_CONSUMER: Final = {"enable.auto.commit": "false"}
_PINNED_PRODUCER: Final = {"enable.idempotence": "true", "acks": "all"}
_ACKS_ALL: Final = frozenset({"all", "-1"})


@dataclass(frozen=True, slots=True)
class KafkaClientConfig:
    """Where the clients connect and the extra librdkafka properties they get.

    ``properties`` go to both clients, then ``consumer_properties`` or
    ``producer_properties`` on top. Values are the secrets revealed (for librdkafka only):
    they are left out of ``repr``. Build one from the stream settings with
    ``StreamSettings.kafka_client()``.
    """

    bootstrap_servers: str
    #: The consumer group (a producer-only config needs none).
    group_id: str | None = None
    properties: Mapping[str, str] = field(default_factory=dict, repr=False)
    consumer_properties: Mapping[str, str] = field(default_factory=dict, repr=False)
    producer_properties: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for name in ("properties", "consumer_properties", "producer_properties"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    @classmethod
    def from_env(cls, bootstrap_servers: str) -> KafkaClientConfig:
        """A producer configuration for ``bootstrap_servers`` with the extra properties of the
        environment (``DQ_KAFKA_EXTRA``, ``DQ_KAFKA_CONSUMER_EXTRA``,
        ``DQ_KAFKA_PRODUCER_EXTRA``), as the stream worker reads them."""
        env = _Environment()
        return cls(
            bootstrap_servers=bootstrap_servers,
            properties=_reveal(env.kafka_extra),
            consumer_properties=_reveal(env.kafka_consumer_extra),
            producer_properties=_reveal(env.kafka_producer_extra),
        )


def normalize_properties(value: Any) -> Any:
    """Extra librdkafka properties as strings (booleans lower-case), a property whose name
    looks secret wrapped in :class:`~pydantic.SecretStr`; a pydantic ``before`` validator."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, raw in value.items():
            if isinstance(raw, SecretStr):
                out[str(key)] = raw
                continue
            if raw is None or isinstance(raw, dict | list):
                raise ValueError(f"kafka_extra[{key!r}] must be a string, number or boolean")
            text = str(raw).lower() if isinstance(raw, bool) else str(raw)
            out[str(key)] = SecretStr(text) if is_secret_key(str(key)) else text
        return out
    return value


def _reveal(props: Mapping[str, str | SecretStr]) -> dict[str, str]:
    return {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in props.items()}


class _Environment(BaseSettings):
    """The extra properties of the environment, read as ``StreamSettings`` reads them."""

    model_config = SettingsConfigDict(env_prefix="DQ_", extra="ignore", frozen=True)

    kafka_extra: dict[str, str | SecretStr] = Field(default_factory=dict)
    kafka_consumer_extra: dict[str, str | SecretStr] = Field(default_factory=dict)
    kafka_producer_extra: dict[str, str | SecretStr] = Field(default_factory=dict)

    @field_validator("kafka_extra", "kafka_consumer_extra", "kafka_producer_extra", mode="before")
    @classmethod
    def _stringify_extra(cls, value: Any) -> Any:
        return normalize_properties(value)


def _client_id() -> str:
    return f"dataquarantine-{socket.gethostname()}"


def _merge(
    base: dict[str, Any], extra: Mapping[str, str], pinned: Mapping[str, str], who: str
) -> dict[str, Any]:
    conf = dict(base)
    conf.update(extra)
    for key, value in pinned.items():
        given = str(conf.get(key, value)).lower()
        if given != value and not (key == "acks" and given in _ACKS_ALL):
            raise ConfigError(
                f"kafka_extra: {key}={conf[key]} is not allowed for the {who}: the worker's "
                f"delivery guarantee needs {key}={value}"
            )
        conf[key] = value
    return conf


def consumer_config(config: KafkaClientConfig) -> dict[str, Any]:
    """librdkafka properties of the worker's consumer."""
    if config.group_id is None:
        raise ConfigError("a Kafka consumer needs a consumer group id")
    base: dict[str, Any] = {
        "bootstrap.servers": config.bootstrap_servers,
        "group.id": config.group_id,
        "client.id": _client_id(),
        "enable.auto.commit": "false",
        "enable.auto.offset.store": "false",
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        "enable.partition.eof": "false",
    }
    extra = {**config.properties, **config.consumer_properties}
    return _merge(base, extra, _PINNED_CONSUMER, "consumer")


def producer_config(config: KafkaClientConfig) -> dict[str, Any]:
    """librdkafka properties of the worker's producer."""
    base: dict[str, Any] = {
        "bootstrap.servers": config.bootstrap_servers,
        "client.id": _client_id(),
        "enable.idempotence": "true",
        "acks": "all",
        "linger.ms": "2",
        "compression.type": "lz4",
        "delivery.report.only.error": "true",
    }
    extra = {**config.properties, **config.producer_properties}
    conf = _merge(base, extra, _PINNED_PRODUCER, "producer")
    # A property of the Python client (not librdkafka): it must be a bool.
    conf["delivery.report.only.error"] = str(conf["delivery.report.only.error"]).lower() == "true"
    return conf
