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
from typing import Any, ClassVar

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException
from confluent_kafka import TopicPartition as _RdTopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._listoffsets import OffsetSpec
from confluent_kafka.cimpl import NewPartitions, NewTopic

from inferstream.transports.base import TopicSpec, Transport, TransportError
from inferstream.transports.kafka_config import KafkaSettings
from inferstream.transports.kafka_consumer import KafkaConsumer
from inferstream.transports.kafka_producer import KafkaProducer

_LOG = logging.getLogger(__name__)
_ADMIN_TIMEOUT = 30.0
#: Bootstrap servers when none are given (how the runner hands a broker to instance processes).
BOOTSTRAP_ENV = "INFERSTREAM_KAFKA_BOOTSTRAP_SERVERS"


class KafkaTransport(Transport):
    """Producers, consumers and topic administration against one Kafka cluster."""

    name: ClassVar[str] = "kafka"
    multiprocess: ClassVar[bool] = True

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

    def consumer(self, group: str, topics: Sequence[str], client_id: str) -> KafkaConsumer:
        return KafkaConsumer(self.settings.consumer_config(group, client_id), topics)

    async def lag(self, group: str, topics: Sequence[str]) -> int:
        # Admin requests only (no consumer client per call): the runner asks every 0.2 s while draining.
        try:
            loop = asyncio.get_running_loop()
            meta = await loop.run_in_executor(None, lambda: self.admin.list_topics(timeout=_ADMIN_TIMEOUT))
            partitions = []
            for topic in topics:
                info = meta.topics.get(topic)
                if info is None or info.error is not None:
                    raise TransportError(f"lag: unknown topic {topic!r}")
                partitions += [_RdTopicPartition(topic, p) for p in info.partitions]
            if not partitions:
                return 0
            request = [ConsumerGroupTopicPartitions(group, partitions)]
            timeout = _ADMIN_TIMEOUT
            (offsets,) = self.admin.list_consumer_group_offsets(request, request_timeout=timeout).values()
            answer = await asyncio.wrap_future(offsets)
            committed = {(tp.topic, tp.partition): tp.offset for tp in answer.topic_partitions}
            latest, earliest = OffsetSpec.latest(), OffsetSpec.earliest()  # type: ignore[no-untyped-call]
            ends = self.admin.list_offsets({tp: latest for tp in partitions}, request_timeout=timeout)
            starts = self.admin.list_offsets({tp: earliest for tp in partitions}, request_timeout=timeout)
            total = 0
            for tp in partitions:
                high = (await asyncio.wrap_future(ends[tp])).offset
                position = committed.get((tp.topic, tp.partition), -1)
                if position < 0:  # nothing committed: every retained record is still to read
                    position = (await asyncio.wrap_future(starts[tp])).offset
                total += max(0, high - position)
            return total
        except KafkaException as exc:
            raise TransportError(f"lag of group {group!r}: {exc.args[0].str()}") from exc

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


def _topic_config(spec: TopicSpec) -> dict[str, str]:
    config = {key: str(value) for key, value in spec.config.items()}
    if spec.retention_ms is not None:
        config.setdefault("retention.ms", str(spec.retention_ms))
    return config
