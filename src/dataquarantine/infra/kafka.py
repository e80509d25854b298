"""The Kafka boundary: client factories and error translation.

Everything ``confluent_kafka`` raises is translated here into
:class:`~dataquarantine.errors.BrokerError` classes: transient (retry, the broker or the
group coordinator will come back) or terminal (credentials, authorisation, a client that
librdkafka declared unusable). The clients' properties come from a
:class:`~dataquarantine.infra.kafka_config.KafkaClientConfig` (see
:mod:`dataquarantine.infra.kafka_config` for the choices made there).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer

from dataquarantine.errors import BrokerError, BrokerFatalError, BrokerUnavailableError, ConfigError
from dataquarantine.infra.kafka_config import KafkaClientConfig, consumer_config, producer_config

__all__ = [
    "LOST_OWNERSHIP",
    "TRANSPORT_DOWN",
    "KafkaClientConfig",
    "consumer_config",
    "is_lost_ownership",
    "make_consumer",
    "make_producer",
    "producer_config",
    "translate",
]

#: librdkafka's own log lines go through this logger (its name predates the move to infra/,
#: kept so that existing logging configurations still match).
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


def make_consumer(config: KafkaClientConfig, *, on_error: ErrorCallback) -> Consumer:
    """A consumer configured by :func:`consumer_config`; ``on_error`` gets client errors."""
    conf = consumer_config(config)
    conf["error_cb"] = on_error
    conf["logger"] = client_log
    try:
        return Consumer(conf)
    except KafkaException as exc:
        raise ConfigError(f"invalid consumer configuration: {exc.args[0].str()}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid consumer configuration: {exc}") from exc


def make_producer(
    config: KafkaClientConfig, *, on_error: ErrorCallback, on_delivery_error: DeliveryCallback
) -> Producer:
    """A producer configured by :func:`producer_config`. ``on_delivery_error(err, msg)`` is
    called (from ``poll``/``flush``) for every message that could not be delivered."""
    conf = producer_config(config)
    conf["error_cb"] = on_error
    conf["logger"] = client_log
    conf["on_delivery"] = on_delivery_error
    try:
        return Producer(conf)
    except KafkaException as exc:
        raise ConfigError(f"invalid producer configuration: {exc.args[0].str()}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid producer configuration: {exc}") from exc
