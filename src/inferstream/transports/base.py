"""The one Transport interface every pipeline runs on (``memory``, ``kafka``).

A transport moves opaque ``bytes`` between streamlets through *topics* split into *partitions*.
Consumers join a *consumer group*; a group's members share the topic's partitions. Every
consumed record carries its position (topic, partition, offset) and a consumer commits the
*next* offset to read per partition (Kafka's convention), so a restarted member resumes there.

The runtime drives a transport like this (all methods are called from one asyncio loop)::

    transport = MemoryTransport()
    await transport.create_topics([TopicSpec("app.ingress.out", partitions=3)])
    producer = transport.producer(client_id="app.ingress.0")
    acked = await producer.send("app.ingress.out", [b"a", b"b"], keys=None)  # waits while full
    await acked                      # resolves once the transport holds every record of the batch

    consumer = transport.consumer("app.proc.in", ["app.ingress.out"], client_id="app.proc.0")
    for batch in await consumer.poll(max_records=512, timeout=0.1):
        ...                          # batch.values[i] is at offset batch.offsets[i]
        await consumer.commit({batch.topic_partition: batch.offsets[-1] + 1})
    await consumer.close(); await producer.close(); await transport.close()

Implementations: :mod:`inferstream.transports.memory` (in-process, zero setup) and
``inferstream.transports.kafka`` (confluent-kafka against a real broker).
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple

#: Retention of topics the runtime creates: one week, never "forever" (the original's disks filled up).
DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000


class TransportError(Exception):
    """A transport operation failed (broker unreachable, unknown topic, closed client...)."""


#: A record's headers as Kafka carries them: (name, value) pairs (trace context: ``traceparent``).
Headers = Sequence[tuple[str, bytes]]


class TopicPartition(NamedTuple):
    """One partition of one topic."""

    topic: str
    partition: int


class Position(NamedTuple):
    """Where a consumed record came from."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create: partitions, replication and a finite retention by default."""

    name: str
    partitions: int = 1
    replication: int = 1
    retention_ms: int | None = DEFAULT_RETENTION_MS  # None: the transport's (broker's) default
    config: Mapping[str, str] = field(default_factory=dict)  # extra per-topic settings, passed through


@dataclass(frozen=True, slots=True)
class MessageBatch:
    """Consecutive records consumed from ONE partition, in offset order.

    ``offsets`` may be a ``range`` (memory) or a list (Kafka, where offsets can have gaps);
    ``keys`` may be ``None`` when no record of the batch has a key; ``headers`` likewise ``None``
    when no record has headers (the common case: no cost when tracing is off).
    """

    topic: str
    partition: int
    offsets: Sequence[int]
    values: Sequence[bytes]
    keys: Sequence[bytes | None] | None = None
    headers: Sequence[Headers | None] | None = None

    def __len__(self) -> int:
        return len(self.values)

    @property
    def topic_partition(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)

    @property
    def next_offset(self) -> int:
        """The offset to commit once every record of this batch is done."""
        return self.offsets[-1] + 1

    def position(self, index: int) -> Position:
        return Position(self.topic, self.partition, self.offsets[index])


class Producer(abc.ABC):
    """Writes batches of records to topics."""

    @abc.abstractmethod
    async def send(
        self,
        topic: str,
        values: Sequence[bytes],
        keys: Sequence[bytes | None] | None = None,
        headers: Sequence[Headers | None] | None = None,
    ) -> Awaitable[None]:
        """Hand a batch to the transport; return an awaitable that resolves when every record is acked.

        Awaiting ``send`` itself applies backpressure: it returns only once the transport has
        room for the batch. The returned awaitable raises :class:`TransportError` if any record
        of the batch could not be delivered. Records with equal keys go to the same partition;
        records without keys are spread evenly over the partitions. ``headers[i]`` travel with
        ``values[i]`` (``None``: no record has headers).
        """

    @abc.abstractmethod
    async def flush(self, timeout: float | None = None) -> None:
        """Wait until every record sent so far is acknowledged (or failed)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Flush and release the producer."""


class Consumer(abc.ABC):
    """A member of a consumer group reading the partitions assigned to it."""

    @abc.abstractmethod
    async def poll(self, max_records: int, timeout: float) -> list[MessageBatch]:
        """Up to ``max_records`` records in total, as one batch per partition; ``[]`` after ``timeout`` s."""

    @abc.abstractmethod
    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit, per partition, the next offset to read (last processed offset + 1).

        Commits for partitions no longer assigned to this member are ignored (the new owner
        re-reads from the last committed offset: at-least-once).
        """

    @abc.abstractmethod
    def assignment(self) -> set[TopicPartition]:
        """The partitions this member currently reads."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Leave the group (its partitions are reassigned to the other members)."""


class Transport(abc.ABC):
    """Factory of producers and consumers over one set of topics."""

    #: Short name used by ``--transport``.
    name: ClassVar[str]
    #: True if instances in different processes can share this transport's topics (kafka: yes,
    #: memory: no). The runner starts one process per streamlet instance only when this is True.
    multiprocess: ClassVar[bool] = False
    #: True if the transport offers transactional producers (exactly-once).
    transactions: ClassVar[bool] = False

    @abc.abstractmethod
    async def create_topics(self, specs: Sequence[TopicSpec]) -> None:
        """Create the topics that do not exist yet; existing topics are left as they are."""

    @abc.abstractmethod
    def producer(self, client_id: str) -> Producer:
        """A new producer."""

    def transactional_producer(self, client_id: str, transactional_id: str) -> Producer:
        """A producer whose sends belong to transactions that also commit consumed offsets
        (exactly-once; see ``inferstream.runtime.transactional``). Only transports with
        ``transactions = True`` have one."""
        raise TransportError(f"the {self.name} transport has no transactions: exactly-once needs kafka")

    @abc.abstractmethod
    def consumer(self, group: str, topics: Sequence[str], client_id: str) -> Consumer:
        """A new member of consumer ``group`` subscribed to ``topics``, starting at the committed offsets
        (or at the earliest offset when the group has committed nothing)."""

    @abc.abstractmethod
    async def lag(self, group: str, topics: Sequence[str]) -> int:
        """Records on ``topics`` that ``group`` has not committed yet (0 means fully drained)."""

    async def partition_lags(self, group: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
        """Per partition: records on ``topics`` that ``group`` has not committed yet."""
        raise NotImplementedError

    async def check(self) -> None:  # noqa: B027 - optional hook: a transport in this process is there
        """Pre-flight, before any topic or record: raise :class:`TransportError` saying what is missing
        and what to do (Kafka: no broker answers at the bootstrap address)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the transport holds (connections, admin clients)."""
