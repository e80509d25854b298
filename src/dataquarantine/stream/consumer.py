"""The worker's side of the consumer group: polling, pausing, seeking and committing.

Every call runs in the worker's thread (rebalance callbacks too: librdkafka serves them from
``consume``). Errors are translated into :mod:`dataquarantine.errors` here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from dataquarantine.infra import kafka
from dataquarantine.stream.checkpoint import Partition
from dataquarantine.stream.status import WorkerStatus

__all__ = ["GroupConsumer"]

log = logging.getLogger("dataquarantine.stream")


class GroupConsumer:
    """A subscribed consumer with the operations the commit protocol needs."""

    def __init__(
        self, consumer: Consumer, status: WorkerStatus, *, batch: int, cooperative: bool
    ) -> None:
        self.consumer = consumer
        self.status = status
        self.batch = batch
        self.cooperative = cooperative
        self.paused = False

    def poll(self, idle_timeout: float) -> list[Message]:
        """Up to ``batch`` messages. When none is waiting, block for the first one only (at
        most ``idle_timeout`` s), then take whatever else is there: a trickle of messages is
        never held back until a full batch forms."""
        consumer, size = self.consumer, self.batch
        batch = consumer.consume(size, 0)
        if not batch:
            batch = consumer.consume(1, idle_timeout)
            if batch and size > 1:
                batch.extend(consumer.consume(size - 1, 0))
        if not batch:
            return batch
        good = [m for m in batch if m.error() is None]
        if len(good) != len(batch):
            for m in batch:
                err = m.error()
                if err is not None:
                    self.status.on_message_error(err)
        if good:
            self.status.broker_up()
        return good

    def assign(self, partitions: list[TopicPartition]) -> None:
        """Take ``partitions`` (from ``on_assign``); they start paused if the rest is."""
        if self.cooperative:
            self.consumer.incremental_assign(partitions)
        else:
            self.consumer.assign(partitions)
        if self.paused and partitions:
            self.consumer.pause(partitions)

    def pause(self) -> None:
        """Stop fetching on the whole assignment (the group membership holds)."""
        if not self.paused:
            parts = self.consumer.assignment()
            if parts:
                self.consumer.pause(parts)
            self.paused = True

    def resume(self) -> None:
        if self.paused:
            parts = self.consumer.assignment()
            if parts:
                self.consumer.resume(parts)
            self.paused = False

    def wait(self, seconds: float, tick: Callable[[], None]) -> None:
        """Keep polling for ``seconds`` without taking messages (heartbeats, rebalances);
        ``tick()`` runs between polls."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            stray = self.consumer.consume(self.batch, min(left, 0.2))
            if stray:
                self._put_back(stray)
            tick()

    def _put_back(self, stray: list[Message]) -> None:
        """Messages that arrived while paused (a partition assigned meanwhile): seek back to
        them, so they are consumed again after the pause, and pause their partitions."""
        first: dict[Partition, int] = {}
        for m in stray:
            if m.error() is None:
                tp: Any = (m.topic(), m.partition())
                first.setdefault(tp, int(m.offset() or 0))
        self.seek(first)
        for topic, partition in first:
            try:
                self.consumer.pause([TopicPartition(topic, partition)])
            except KafkaException as exc:
                where = {"topic": topic, "partition": partition}
                log.warning("pause %s[%d]: %s", topic, partition, exc, extra=where)

    def seek(self, offsets: Mapping[Partition, int]) -> None:
        """Consume each partition again from the given offset."""
        for (topic, partition), offset in offsets.items():
            try:
                self.consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:  # no longer assigned: its new owner redoes it
                where = {"topic": topic, "partition": partition, "offset": offset}
                log.warning("seek %s[%d]: %s", topic, partition, exc, extra=where)

    def commit(self, offsets: list[TopicPartition]) -> None:
        """Commit ``offsets`` synchronously. A commit refused because the partitions moved to
        another member is logged and skipped (the new owner consumes them again);
        other failures raise :class:`~dataquarantine.errors.BrokerError`."""
        if not offsets:
            return
        try:
            done = self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            if kafka.is_lost_ownership(exc):
                log.warning("commit refused, the partitions moved to another worker: %s", exc)
                return
            if exc.args[0].code() == KafkaError._NO_OFFSET:
                return
            raise kafka.translate(exc, "offset commit") from exc
        for tp in done or ():
            if tp.error is not None:
                if kafka.is_lost_ownership(tp.error):
                    where = {"topic": tp.topic, "partition": tp.partition, "offset": tp.offset}
                    log.warning(
                        "commit of %s[%d] refused: %s",
                        tp.topic,
                        tp.partition,
                        tp.error,
                        extra=where,
                    )
                    continue
                raise kafka.translate(tp.error, f"offset commit of {tp.topic}[{tp.partition}]")
        self.status.broker_up()
