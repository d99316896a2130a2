"""``kafka``: the transport over a real Apache Kafka cluster (confluent-kafka / librdkafka).

Topics are created by the AdminClient with the spec's partitions, replication and a finite
retention; instances of a streamlet in any number of processes share a topic's partitions
through their consumer group. Delivery is at-least-once: the runtime commits only positions
whose derived records the broker acknowledged (see :mod:`~inferstream.transports.kafka_producer`
and :mod:`~inferstream.transports.kafka_consumer`)::

    transport = KafkaTransport("127.0.0.1:9092")
    transport = KafkaTransport(**{"bootstrap.servers": "...", "security.protocol": "SSL",
                                  "producer.linger.ms": 10})    # as load_transport("kafka", conf) does
    transport = KafkaTransport(settings=KafkaSettings(...))

Without a bootstrap address the environment's ``INFERSTREAM_KAFKA_BOOTSTRAP_SERVERS`` is used, then
``127.0.0.1:9092``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from confluent_kafka import Consumer as _RdConsumer
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import TopicPartition as _RdTopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewPartitions, NewTopic

from inferstream.transports.base import TopicPartition, TopicSpec, Transport, TransportError
from inferstream.transports.kafka_config import KafkaSettings
from inferstream.transports.kafka_consumer import KafkaConsumer
from inferstream.transports.kafka_producer import KafkaProducer
from inferstream.transports.kafka_transactions import KafkaTransactionalProducer

_LOG = logging.getLogger(__name__)
_ADMIN_TIMEOUT = 30.0
# A transaction's commit marker takes an offset after its last record, so a group that consumed
# everything of a transactional topic still trails the end by a marker or a few: such small lags
# are checked for real records before they count.
_MARKER_LAG = 16
#: Bootstrap servers when none are given (how the runner hands a broker to instance processes).
BOOTSTRAP_ENV = "INFERSTREAM_KAFKA_BOOTSTRAP_SERVERS"


class KafkaTransport(Transport):
    """Producers, consumers and topic administration against one Kafka cluster."""

    name: ClassVar[str] = "kafka"
    multiprocess: ClassVar[bool] = True
    transactions: ClassVar[bool] = True

    def __init__(
        self,
        bootstrap_servers: str | None = None,
        *,
        client_config: Mapping[str, Any] | None = None,
        settings: KafkaSettings | None = None,
        **config: Any,
    ) -> None:
        """``client_config`` and ``config``: flat librdkafka settings (``producer.`` etc. prefixes: one
        role); the runtime gathers ``client_config`` from ``transports.kafka."sasl.mechanism"``-style keys."""
        if settings is None:
            flat = {"bootstrap.servers": os.environ.get(BOOTSTRAP_ENV, "127.0.0.1:9092")}
            flat.update(client_config or {})
            flat.update(config)
            if bootstrap_servers is not None:
                flat["bootstrap.servers"] = bootstrap_servers
            settings = KafkaSettings.from_mapping(flat)
        elif bootstrap_servers is not None or config or client_config:
            raise TypeError("pass either settings= or bootstrap_servers/config, not both")
        self.settings = settings
        self._admin: AdminClient | None = None
        self._probes: dict[str, _RdConsumer] = {}
        self._lag_thread = ThreadPoolExecutor(1, thread_name_prefix="kafka-lag")

    async def check(self, timeout: float = 5.0) -> None:
        """Pre-flight: a broker answers at the bootstrap address within ``timeout`` s, else TransportError."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, lambda: self.admin.list_topics(timeout=timeout))
        except KafkaException as exc:
            where = self.settings.bootstrap_servers
            raise TransportError(
                f"no Kafka broker answered at {where} within {timeout:g} s ({exc.args[0].str()}); start "
                f"one with `inferstream kafka start`, or set transports.kafka.bootstrap-servers "
                f"(or {BOOTSTRAP_ENV}) to yours"
            ) from None

    @property
    def admin(self) -> AdminClient:
        if self._admin is None:
            self._admin = AdminClient(self.settings.admin_config())
        return self._admin

    async def create_topics(self, specs: Sequence[TopicSpec]) -> None:
        if not specs:
            return
        new = [NewTopic(spec.name, num_partitions=spec.partitions, replication_factor=spec.replication,
                        config=_topic_config(spec)) for spec in specs]
        futures = self.admin.create_topics(
            new, operation_timeout=_ADMIN_TIMEOUT, request_timeout=_ADMIN_TIMEOUT
        )
        problems = []
        for name, future in futures.items():
            try:
                await asyncio.wrap_future(future)
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                if error.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    problems.append(f"{name}: {error.str()}")
        if problems:
            raise TransportError("cannot create Kafka topics: " + "; ".join(problems))
        await self._wait_visible({spec.name: 1 for spec in specs})
        await self._grow_partitions(specs)

    async def _grow_partitions(self, specs: Sequence[TopicSpec]) -> None:
        """An existing topic with fewer partitions than asked for gets more (scaling a streamlet up);
        Kafka cannot take partitions away, so a topic with more keeps them."""
        loop = asyncio.get_running_loop()
        meta = await loop.run_in_executor(None, lambda: self.admin.list_topics(timeout=_ADMIN_TIMEOUT))
        grow = [NewPartitions(spec.name, spec.partitions) for spec in specs
                if len(meta.topics[spec.name].partitions) < spec.partitions]
        if not grow:
            return
        for item in grow:
            _LOG.warning("topic %s: growing to %d partitions (keys may map to new partitions)",
                         item.topic, item.new_total_count)
        futures = self.admin.create_partitions(grow, operation_timeout=_ADMIN_TIMEOUT)
        for name, future in futures.items():
            try:
                await asyncio.wrap_future(future)
            except KafkaException as exc:
                raise TransportError(f"cannot add partitions to {name}: {exc.args[0].str()}") from exc
        await self._wait_visible({item.topic: item.new_total_count for item in grow})

    async def _wait_visible(self, partitions: dict[str, int]) -> None:
        # Admin calls return before the cluster metadata shows the change; producers look partitions up next.
        loop = asyncio.get_running_loop()
        for _ in range(100):
            meta = await loop.run_in_executor(None, lambda: self.admin.list_topics(timeout=_ADMIN_TIMEOUT))
            if all(name in meta.topics and len(meta.topics[name].partitions) >= count
                   for name, count in partitions.items()):
                return
            await asyncio.sleep(0.05)
        raise TransportError(f"topics {sorted(partitions)} changed but the cluster metadata lags behind")

    def producer(self, client_id: str) -> KafkaProducer:
        return KafkaProducer(self.settings.producer_config(client_id))

    def transactional_producer(self, client_id: str, transactional_id: str) -> KafkaTransactionalProducer:
        return KafkaTransactionalProducer(self.settings.producer_config(client_id), transactional_id)

    def consumer(self, group: str, topics: Sequence[str], client_id: str) -> KafkaConsumer:
        return KafkaConsumer(self.settings.consumer_config(group, client_id), topics)

    async def lag(self, group: str, topics: Sequence[str]) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _ADMIN_TIMEOUT
        while True:
            try:
                return await loop.run_in_executor(self._lag_thread, self._lag_blocking, group, list(topics))
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                # A fresh or restarted broker answers NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS
                # for a while: retriable, so wait it out (bounded).
                if not (error.retriable() or _coordinator_moving(error)) or loop.time() > deadline:
                    raise TransportError(f"lag of group {group!r}: {error.str()}") from exc
                await asyncio.sleep(0.2)

    async def partition_lags(self, group: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._lag_thread, self._partition_lags_blocking, group, list(topics)
            )
        except KafkaException as exc:
            raise TransportError(f"lag of group {group!r}: {exc.args[0].str()}") from exc

    def _lag_blocking(self, group: str, topics: list[str]) -> int:
        return sum(self._partition_lags_blocking(group, topics).values())

    def _partition_lags_blocking(self, group: str, topics: list[str]) -> dict[TopicPartition, int]:
        # A consumer that never subscribes does not join the group; it only reads its offsets. Not
        # the AdminClient's group-offsets request: confluent-kafka 2.16.1 segfaults when a fresh
        # broker answers it with COORDINATOR_LOAD_IN_PROGRESS. One probe per group, reused: the
        # runner asks every 0.2 s while draining.
        probe = self._probes.get(group)
        if probe is None:
            config = self.settings.consumer_config(group, f"{group}.lag-probe")
            probe = self._probes[group] = _RdConsumer(config)
        meta = probe.list_topics(timeout=_ADMIN_TIMEOUT)
        partitions = []
        for topic in topics:
            info = meta.topics.get(topic)
            if info is None or info.error is not None:
                raise TransportError(f"lag: unknown topic {topic!r}")
            partitions += [_RdTopicPartition(topic, p) for p in info.partitions]
        lags: dict[TopicPartition, int] = {}
        for tp in probe.committed(partitions, timeout=_ADMIN_TIMEOUT) if partitions else []:
            low, high = probe.get_watermark_offsets(tp, timeout=_ADMIN_TIMEOUT)
            start = tp.offset if tp.offset >= 0 else low  # nothing committed: all retained records
            lag = max(0, high - start)
            if 0 < lag <= _MARKER_LAG and _only_markers(probe, tp.topic, tp.partition, start):
                lag = 0
            lags[TopicPartition(tp.topic, tp.partition)] = lag
        return lags

    async def delete_topics(self, names: Sequence[str]) -> None:
        """Delete topics (tests, ``inferstream`` clean-up); unknown ones are ignored."""
        if not names:
            return
        futures = self.admin.delete_topics(list(names), operation_timeout=_ADMIN_TIMEOUT)
        for future in futures.values():
            try:
                await asyncio.wrap_future(future)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                    raise TransportError(f"cannot delete topics: {exc.args[0].str()}") from exc

    async def close(self) -> None:
        self._admin = None  # AdminClient has no close(); dropping it ends its threads
        probes, self._probes = list(self._probes.values()), {}
        loop = asyncio.get_running_loop()
        for probe in probes:
            await loop.run_in_executor(self._lag_thread, probe.close)


def _only_markers(probe: _RdConsumer, topic: str, partition: int, start: int) -> bool:
    """True if the partition holds no committed record from ``start`` on (only transaction markers)."""
    probe.assign([_RdTopicPartition(topic, partition, start)])
    try:
        return not [m for m in probe.consume(1, 0.5) if m.error() is None]
    finally:
        probe.unassign()


def _coordinator_moving(error: KafkaError) -> bool:
    return error.code() in (
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
    )


def _topic_config(spec: TopicSpec) -> dict[str, str]:
    config = {key: str(value) for key, value in spec.config.items()}
    if spec.retention_ms is not None:
        config.setdefault("retention.ms", str(spec.retention_ms))
    return config
