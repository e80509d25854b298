"""The Kafka boundary: client configurations, client factories and error translation.

Everything ``confluent_kafka`` raises is translated here into
:class:`~dataquarantine.errors.BrokerError` classes: transient (retry, the broker or the
group coordinator will come back) or terminal (credentials, authorisation, a client that
librdkafka declared unusable).

Choices, every one overridable through ``kafka_extra`` except the two that the delivery
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

import logging
import socket
from collections.abc import Callable, Mapping
from typing import Any, Final

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer

from dataquarantine.errors import BrokerError, BrokerFatalError, BrokerUnavailableError, ConfigError
from dataquarantine.stream.settings import StreamSettings

__all__ = [
    "LOST_OWNERSHIP",
    "TRANSPORT_DOWN",
    "consumer_config",
    "is_lost_ownership",
    "make_consumer",
    "make_producer",
    "producer_config",
    "translate",
]

#: librdkafka's own log lines go through this logger.
client_log = logging.getLogger("dataquarantine.stream.kafka")

ErrorCallback = Callable[[KafkaError], None]
DeliveryCallback = Callable[[KafkaError | None, Any], None]

#: Errors meaning "the broker cannot be reached right now" (also reported through error_cb).
TRANSPORT_DOWN: Final = frozenset(
    {
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._TIMED_OUT,
        KafkaError._RESOLVE,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError.REQUEST_TIMED_OUT,
    }
)

#: Commit errors meaning "the group moved on without us": the partitions belong to another
#: member now, which starts again from the last committed offset (duplicates, no loss).
LOST_OWNERSHIP: Final = frozenset(
    {
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError.FENCED_INSTANCE_ID,
        KafkaError._ASSIGNMENT_LOST,
        KafkaError.STALE_MEMBER_EPOCH,
    }
)

_TRANSIENT: Final = TRANSPORT_DOWN | {
    KafkaError._WAIT_COORD,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError._MSG_TIMED_OUT,
    KafkaError._QUEUE_FULL,
    KafkaError._TIMED_OUT_QUEUE,
    KafkaError._IN_PROGRESS,
    KafkaError._PREV_IN_PROGRESS,
    KafkaError.NOT_ENOUGH_REPLICAS,
    KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
}

# Properties the at-least-once guarantee depends on: kafka_extra may not change them.
_PINNED_CONSUMER: Final = {"enable.auto.commit": "false"}
_PINNED_PRODUCER: Final = {"enable.idempotence": "true", "acks": "all"}
_ACKS_ALL: Final = frozenset({"all", "-1"})


def translate(exc: KafkaException | KafkaError, context: str) -> BrokerError:
    """The :mod:`dataquarantine.errors` class for a librdkafka error (chain it with ``from``)."""
    err = exc.args[0] if isinstance(exc, KafkaException) and exc.args else exc
    if not isinstance(err, KafkaError):
        return BrokerUnavailableError(f"{context}: {exc}")
    message = f"{context}: {err.name()}: {err.str()}"
    if err.fatal():
        return BrokerFatalError(message)
    if err.retriable() or err.code() in _TRANSIENT:
        return BrokerUnavailableError(message)
    return BrokerFatalError(message)


def is_lost_ownership(exc: KafkaException | KafkaError) -> bool:
    err = exc.args[0] if isinstance(exc, KafkaException) and exc.args else exc
    return isinstance(err, KafkaError) and err.code() in LOST_OWNERSHIP


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


def consumer_config(settings: StreamSettings) -> dict[str, Any]:
    """librdkafka properties of the worker's consumer."""
    base: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "group.id": settings.kafka_consumer_group_id,
        "client.id": _client_id(),
        "enable.auto.commit": "false",
        "enable.auto.offset.store": "false",
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        "enable.partition.eof": "false",
    }
    extra = {**settings.client_properties(), **settings.client_properties("consumer")}
    return _merge(base, extra, _PINNED_CONSUMER, "consumer")


def producer_config(settings: StreamSettings) -> dict[str, Any]:
    """librdkafka properties of the worker's producer."""
    base: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "client.id": _client_id(),
        "enable.idempotence": "true",
        "acks": "all",
        "linger.ms": "2",
        "compression.type": "lz4",
        "delivery.report.only.error": "true",
    }
    extra = {**settings.client_properties(), **settings.client_properties("producer")}
    conf = _merge(base, extra, _PINNED_PRODUCER, "producer")
    # A property of the Python client (not librdkafka): it must be a bool.
    conf["delivery.report.only.error"] = str(conf["delivery.report.only.error"]).lower() == "true"
    return conf


def make_consumer(settings: StreamSettings, *, on_error: ErrorCallback) -> Consumer:
    """A consumer configured by :func:`consumer_config`; ``on_error`` gets client errors."""
    conf = consumer_config(settings)
    conf["error_cb"] = on_error
    conf["logger"] = client_log
    try:
        return Consumer(conf)
    except KafkaException as exc:
        raise ConfigError(f"invalid consumer configuration: {exc.args[0].str()}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid consumer configuration: {exc}") from exc


def make_producer(
    settings: StreamSettings, *, on_error: ErrorCallback, on_delivery_error: DeliveryCallback
) -> Producer:
    """A producer configured by :func:`producer_config`. ``on_delivery_error(err, msg)`` is
    called (from ``poll``/``flush``) for every message that could not be delivered."""
    conf = producer_config(settings)
    conf["error_cb"] = on_error
    conf["logger"] = client_log
    conf["on_delivery"] = on_delivery_error
    try:
        return Producer(conf)
    except KafkaException as exc:
        raise ConfigError(f"invalid producer configuration: {exc.args[0].str()}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid producer configuration: {exc}") from exc
