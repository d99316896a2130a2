"""The Kafka side of :class:`~inferstream.transports.base.Consumer`: one group member, explicit commits.

All blocking librdkafka calls (``consume``, synchronous commits, ``close``) run on one thread of
the consumer's own, so the asyncio loop stays responsive and the rebalance callbacks (which
librdkafka runs inside ``consume``) never race each other. Commits asked for by the runtime are
sent asynchronously; on revocation and on close the latest of them is committed synchronously,
so a partition's next owner resumes right after the last acknowledged record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from confluent_kafka import Consumer as _RdConsumer
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import TopicPartition as _RdTopicPartition

from inferstream.transports.base import Consumer, MessageBatch, TopicPartition, TransportError

_LOG = logging.getLogger(__name__)
# Errors a retry cannot fix; the rest (broker restarting, connections dropping) librdkafka heals.
_FATAL_CODES = frozenset({
    KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError._AUTHENTICATION,
})


class KafkaConsumer(Consumer):
    """A member of consumer group ``config["group.id"]`` subscribed to ``topics``."""

    def __init__(self, config: dict[str, Any], topics: Sequence[str]) -> None:
        self._group = str(config["group.id"])
        self._rd = _RdConsumer({**config, "on_commit": self._on_commit})
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"kafka-consumer-{config.get('client.id')}")
        self._assigned: frozenset[TopicPartition] = frozenset()
        # The latest offset the runtime asked to commit, per partition, and the latest the broker
        # confirmed: revoke and close commit synchronously only what is not confirmed yet.
        self._wanted: dict[TopicPartition, int] = {}
        self._confirmed: dict[TopicPartition, int] = {}
        self._closed = False
        self._rd.subscribe(list(topics), on_assign=self._on_assign, on_revoke=self._on_revoke,
                           on_lost=self._on_lost)

    # -- rebalance callbacks: run on the consumer thread, inside consume() --

    def _on_assign(self, _rd: Any, partitions: list[_RdTopicPartition]) -> None:
        added = {TopicPartition(p.topic, p.partition) for p in partitions}
        self._assigned = self._assigned | added
        _LOG.info("%s: assigned %s", self._group, sorted(added))

    def _on_revoke(self, _rd: Any, partitions: list[_RdTopicPartition]) -> None:
        revoked = {TopicPartition(p.topic, p.partition) for p in partitions}
        # Hand over cleanly: the next owner starts right after what we finished.
        self._commit_sync(revoked)
        self._assigned = self._assigned - revoked
        _LOG.info("%s: revoked %s", self._group, sorted(revoked))

    def _on_lost(self, _rd: Any, partitions: list[_RdTopicPartition]) -> None:
        # Lost (session expired): another member may own them already, so commit nothing.
        lost = {TopicPartition(p.topic, p.partition) for p in partitions}
        self._assigned = self._assigned - lost
        for tp in lost:
            self._wanted.pop(tp, None)
        _LOG.warning("%s: lost %s", self._group, sorted(lost))

    def _on_commit(self, err: KafkaError | None, partitions: list[_RdTopicPartition]) -> None:
        # Served inside consume() on the consumer thread, for asynchronous and synchronous commits.
        for p in partitions:
            if err is None and p.error is None:
                tp = TopicPartition(p.topic, p.partition)
                if p.offset > self._confirmed.get(tp, -1):
                    self._confirmed[tp] = p.offset

    def _commit_sync(self, partitions: set[TopicPartition] | frozenset[TopicPartition]) -> None:
        # list(): a snapshot, as the loop thread may add offsets meanwhile.
        todo = [_RdTopicPartition(tp.topic, tp.partition, offset) for tp, offset in list(self._wanted.items())
                if tp in partitions and offset > self._confirmed.get(tp, -1)]
        if not todo:
            return
        try:
            done = self._rd.commit(offsets=todo, asynchronous=False)
        except KafkaException as exc:
            # Not fatal for at-least-once: the next owner re-reads from the older committed offset.
            _LOG.warning("%s: commit of %d partitions failed: %s", self._group, len(todo), exc)
            return
        self._on_commit(None, done or [])

    # -- Consumer interface --

    async def poll(self, max_records: int, timeout: float) -> list[MessageBatch]:
        if self._closed:
            raise TransportError("poll on a closed Kafka consumer")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._consume, max_records, timeout)

    def _consume(self, max_records: int, timeout: float) -> list[MessageBatch]:
        # consume(n, timeout) waits for n records OR the timeout, so below full rate every poll
        # waited the whole timeout (p99 ~400 ms over three stages). Wait only for the first record,
        # then take what is already fetched without waiting.
        messages = self._rd.consume(1, timeout)
        if messages and max_records > 1:
            messages.extend(self._rd.consume(max_records - 1, 0))
        runs: dict[tuple[str, int], tuple[list[int], list[bytes], list[bytes | None], list[Any]]] = {}
        for msg in messages:
            err = msg.error()
            if err is not None:
                self._raise_if_fatal(err)
                continue
            key = (msg.topic(), msg.partition())
            run = runs.get(key)  # type: ignore[arg-type]  # set on every message without error
            if run is None:
                run = runs[key] = ([], [], [], [])  # type: ignore[index]
            run[0].append(msg.offset())  # type: ignore[arg-type]
            run[1].append(msg.value() or b"")
            run[2].append(msg.key())
            run[3].append(msg.headers())  # None for records without headers
        batches = []
        for (topic, partition), (offsets, values, keys, headers) in runs.items():
            has_keys = any(k is not None for k in keys)
            has_headers = any(h for h in headers)
            batches.append(MessageBatch(topic, partition, offsets, values, keys if has_keys else None,
                                        headers if has_headers else None))
        return batches

    def _raise_if_fatal(self, err: KafkaError) -> None:
        if err.fatal() or err.code() in _FATAL_CODES:
            raise TransportError(f"Kafka consumer of group {self._group!r}: {err.str()}")
        # Transient (broker restarting, transport failures): librdkafka reconnects by itself.
        _LOG.warning("%s: %s", self._group, err.str())

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        assigned = self._assigned
        todo = []
        for tp, offset in offsets.items():
            if tp not in assigned:
                continue  # no longer ours: the new owner re-reads from the last commit
            if self._wanted.get(tp, -1) >= offset:
                continue
            self._wanted[tp] = offset
            todo.append(_RdTopicPartition(tp.topic, tp.partition, offset))
        if not todo or self._closed:
            return
        try:
            # Asynchronous: librdkafka sends commits in order; revoke and close commit synchronously.
            self._rd.commit(offsets=todo, asynchronous=True)
        except KafkaException as exc:
            _LOG.warning("%s: commit failed (will retry with the next one): %s", self._group, exc)

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._close_blocking)
        self._thread.shutdown(wait=False)

    def _close_blocking(self) -> None:
        # Sync commit of every wanted offset (async ones may still be in flight), then leave the group.
        self._commit_sync(self._assigned)
        self._rd.close()
