"""The embedded transport: in-process topics with partitions, consumer groups and committed positions.

Zero setup, one process, one asyncio loop. Bounded: a partition holds at most ``capacity``
records that some consumer group has not committed yet; a producer waits (backpressure) until
the slowest group commits. A partition is a deque of the produced batches ("chunks"), so sending
a batch is one append, and committed chunks are dropped from the head.
"""

from __future__ import annotations

import asyncio
import itertools
import zlib
from collections import deque
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inferstream.transports.base import (
    Consumer,
    Headers,
    MessageBatch,
    Producer,
    TopicPartition,
    TopicSpec,
    Transport,
    TransportError,
)

DEFAULT_CAPACITY = 65_536


@dataclass
class _Chunk:
    base: int  # offset of values[0]
    values: Sequence[bytes]
    keys: Sequence[bytes | None] | None
    headers: Sequence[Headers | None] | None = None

    @property
    def end(self) -> int:
        return self.base + len(self.values)


@dataclass
class _Partition:
    chunks: deque[_Chunk] = field(default_factory=deque)
    start: int = 0  # offset of the oldest record still held
    end: int = 0  # offset the next record gets

    def append(
        self,
        values: Sequence[bytes],
        keys: Sequence[bytes | None] | None,
        headers: Sequence[Headers | None] | None = None,
    ) -> None:
        self.chunks.append(_Chunk(self.end, values, keys, headers))
        self.end += len(values)

    def read(self, offset: int, limit: int) -> tuple[int, list[bytes], list[bytes | None] | None, Any]:
        """At most ``limit`` records from ``offset`` (clamped to what is held): (first, values, keys,
        headers); keys and headers are ``None`` when no record read has any."""
        offset = max(offset, self.start)
        values: list[bytes] = []
        keys: list[bytes | None] = []
        headers: list[Headers | None] = []
        any_key = any_headers = False
        for chunk in self.chunks:
            if chunk.end <= offset:
                continue
            lo = max(offset, chunk.base) - chunk.base
            hi = min(len(chunk.values), lo + limit - len(values))
            values.extend(chunk.values[lo:hi])
            if chunk.keys is not None:
                any_key = True
                keys.extend(chunk.keys[lo:hi])
            else:
                keys.extend([None] * (hi - lo))
            if chunk.headers is not None:
                any_headers = True
                headers.extend(chunk.headers[lo:hi])
            else:
                headers.extend([None] * (hi - lo))
            if len(values) >= limit:
                break
        return offset, values, keys if any_key else None, headers if any_headers else None

    def trim(self, upto: int) -> None:
        """Forget records below ``upto`` (every group has committed them)."""
        while self.chunks and self.chunks[0].end <= upto:
            self.start = self.chunks.popleft().end


@dataclass
class _Group:
    topics: set[str] = field(default_factory=set)
    members: list[MemoryConsumer] = field(default_factory=list)
    committed: dict[TopicPartition, int] = field(default_factory=dict)
    generation: int = 0


class MemoryTransport(Transport):
    """In-process topics. ``capacity``: uncommitted records a partition may hold before producers wait."""

    name = "memory"
    multiprocess = False

    def __init__(self, capacity: int | str = DEFAULT_CAPACITY) -> None:
        # settings may come as text (``--conf transports.memory.capacity=1000``)
        if not str(capacity).strip().isdigit() or int(capacity) < 1:
            raise TransportError(f"memory transport: capacity must be a whole number ≥ 1, not {capacity!r}")
        self.capacity = int(capacity)
        self._topics: dict[str, list[_Partition]] = {}
        self._groups: dict[str, _Group] = {}
        self._changed: asyncio.Condition | None = None  # data appended, commits made, members moved
        self._closed = False

    @property
    def changed(self) -> asyncio.Condition:
        if self._changed is None:  # created lazily, inside the running loop
            self._changed = asyncio.Condition()
        return self._changed

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    # -- topics ---------------------------------------------------------------------------------
    async def create_topics(self, specs: Sequence[TopicSpec]) -> None:
        for spec in specs:
            if spec.partitions < 1:
                raise TransportError(f"topic {spec.name!r}: partitions must be at least 1")
            held = self._topics.setdefault(spec.name, [])
            if len(held) < spec.partitions:  # new topic, or more partitions for more instances
                held.extend(_Partition() for _ in range(spec.partitions - len(held)))
                for group in self._groups.values():
                    if spec.name in group.topics:
                        group.generation += 1  # members pick up the new partitions

    def partitions(self, topic: str) -> list[_Partition]:
        try:
            return self._topics[topic]
        except KeyError:
            known = ", ".join(sorted(self._topics)) or "none"
            raise TransportError(f"unknown topic {topic!r} (topics: {known})") from None

    def end_offsets(self, topic: str) -> list[int]:
        return [p.end for p in self.partitions(topic)]

    def backlog(self, topic: str, partition: int) -> int:
        """Records of a partition that its slowest consumer group has not committed."""
        held = self.partitions(topic)[partition]
        floor = self._min_committed(TopicPartition(topic, partition))
        return held.end - (held.start if floor is None else floor)

    def _min_committed(self, tp: TopicPartition) -> int | None:
        """The lowest committed offset over the groups reading ``tp``; None if no group reads it."""
        floors = [g.committed.get(tp, 0) for g in self._groups.values() if tp.topic in g.topics]
        return min(floors) if floors else None

    # -- clients --------------------------------------------------------------------------------
    def producer(self, client_id: str) -> Producer:
        return MemoryProducer(self, client_id)

    def consumer(self, group: str, topics: Sequence[str], client_id: str) -> MemoryConsumer:
        for topic in topics:
            self.partitions(topic)  # fail early on unknown topics
        state = self._groups.setdefault(group, _Group())
        state.topics.update(topics)
        member = MemoryConsumer(self, group, list(topics), client_id)
        state.members.append(member)
        state.generation += 1
        return member

    def _leave(self, member: MemoryConsumer) -> None:
        state = self._groups[member.group]
        if member in state.members:
            state.members.remove(member)
            state.generation += 1

    def assignment_of(self, member: MemoryConsumer) -> set[TopicPartition]:
        """Round-robin of every subscribed partition over the group's members, in join order."""
        state = self._groups[member.group]
        members = [m for m in state.members if not m.closed]
        if member not in members:
            return set()
        mine: set[TopicPartition] = set()
        for topic in sorted(state.topics):
            subscribers = [m for m in members if topic in m.topics]
            if member not in subscribers:
                continue
            for partition in range(len(self.partitions(topic))):
                if subscribers[partition % len(subscribers)] is member:
                    mine.add(TopicPartition(topic, partition))
        return mine

    def committed(self, group: str) -> dict[TopicPartition, int]:
        return dict(self._groups[group].committed) if group in self._groups else {}

    async def lag(self, group: str, topics: Sequence[str]) -> int:
        return sum((await self.partition_lags(group, topics)).values())

    async def partition_lags(self, group: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
        committed = self._groups[group].committed if group in self._groups else {}
        return {
            TopicPartition(topic, index): held.end - committed.get(TopicPartition(topic, index), 0)
            for topic in topics
            for index, held in enumerate(self.partitions(topic))
        }

    async def close(self) -> None:
        self._closed = True
        await self._notify()


class MemoryProducer(Producer):
    def __init__(self, transport: MemoryTransport, client_id: str) -> None:
        self._transport = transport
        self.client_id = client_id
        self._next_partition = itertools.count()

    async def send(
        self,
        topic: str,
        values: Sequence[bytes],
        keys: Sequence[bytes | None] | None = None,
        headers: Sequence[Headers | None] | None = None,
    ) -> Awaitable[None]:
        transport = self._transport
        partitions = transport.partitions(topic)
        if keys is not None and len(keys) != len(values):
            raise TransportError(f"topic {topic!r}: {len(keys)} keys for {len(values)} values")
        if not values:
            return _done()
        if keys is None or all(k is None for k in keys):
            # unkeyed: the whole batch to the next partition in turn (sticky per batch, like Kafka's)
            await self._append(topic, next(self._next_partition) % len(partitions), values, None, headers)
        else:
            by_partition: dict[int, tuple[list[bytes], list[bytes | None], list[Headers | None]]] = {}
            for position, (value, key) in enumerate(zip(values, keys, strict=True)):
                index = (
                    zlib.crc32(key) % len(partitions)
                    if key is not None
                    else next(self._next_partition) % len(partitions)
                )
                vs, ks, hs = by_partition.setdefault(index, ([], [], []))
                vs.append(value)
                ks.append(key)
                hs.append(headers[position] if headers is not None else None)
            for index, (vs, ks, hs) in sorted(by_partition.items()):
                await self._append(topic, index, vs, ks, hs if headers is not None else None)
        return _done()  # in memory, appended is acknowledged

    async def _append(
        self,
        topic: str,
        index: int,
        values: Sequence[bytes],
        keys: Sequence[bytes | None] | None,
        headers: Sequence[Headers | None] | None = None,
    ) -> None:
        transport = self._transport
        held = transport.partitions(topic)[index]
        changed = transport.changed
        tp = TopicPartition(topic, index)
        async with changed:
            # Backpressure; a batch larger than the capacity still goes into an empty partition.
            while (
                transport._min_committed(tp) is not None
                and transport.backlog(topic, index) > 0
                and (transport.backlog(topic, index) + len(values) > transport.capacity)
            ):
                if transport._closed:
                    raise TransportError("the memory transport is closed")
                await changed.wait()
            held.append(values, keys, headers)
            if transport._min_committed(tp) is None:
                # Nobody consumes this topic (e.g. dead letters nobody reads): keep the newest
                # ``capacity`` records, as a size-based retention would, instead of blocking forever.
                while held.chunks and held.end - held.chunks[0].end >= transport.capacity:
                    held.start = held.chunks.popleft().end
            changed.notify_all()

    async def flush(self, timeout: float | None = None) -> None:
        return None

    async def close(self) -> None:
        return None


def _done() -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


class MemoryConsumer(Consumer):
    def __init__(self, transport: MemoryTransport, group: str, topics: list[str], client_id: str) -> None:
        self._transport = transport
        self.group = group
        self.topics = topics
        self.client_id = client_id
        self.closed = False
        self._generation = -1
        self._assigned: set[TopicPartition] = set()
        self._fetch: dict[TopicPartition, int] = {}
        self._turn = 0  # which partition to read first, so every partition gets its turn

    def _refresh(self) -> None:
        state = self._transport._groups[self.group]
        if state.generation == self._generation:
            return
        self._generation = state.generation
        assigned = self._transport.assignment_of(self)
        for tp in assigned - self._assigned:
            self._fetch[tp] = state.committed.get(tp, 0)  # a new owner resumes at the committed position
        for tp in self._assigned - assigned:
            self._fetch.pop(tp, None)
        self._assigned = assigned

    def assignment(self) -> set[TopicPartition]:
        self._refresh()
        return set(self._assigned)

    def _take(self, max_records: int) -> list[MessageBatch]:
        self._refresh()
        order = sorted(self._assigned)
        if not order:
            return []
        self._turn = (self._turn + 1) % len(order)
        batches: list[MessageBatch] = []
        budget = max_records
        for tp in order[self._turn :] + order[: self._turn]:
            if budget <= 0:
                break
            held = self._transport.partitions(tp.topic)[tp.partition]
            first, values, keys, headers = held.read(self._fetch[tp], budget)
            if not values:
                continue
            self._fetch[tp] = first + len(values)
            budget -= len(values)
            offsets = range(first, first + len(values))
            batches.append(MessageBatch(tp.topic, tp.partition, offsets, values, keys, headers))
        return batches

    async def poll(self, max_records: int, timeout: float) -> list[MessageBatch]:
        if self.closed:
            raise TransportError(f"consumer {self.client_id!r} is closed")
        batches = self._take(max_records)
        if batches or timeout <= 0:
            return batches
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        changed = self._transport.changed
        async with changed:
            while not batches and not self._transport._closed:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(changed.wait(), remaining)
                except TimeoutError:
                    break
                batches = self._take(max_records)
        return batches

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        self._refresh()
        state = self._transport._groups[self.group]
        for tp, offset in offsets.items():
            if tp in self._assigned:  # a revoked partition's commit would overwrite the new owner's
                state.committed[tp] = offset
                floor = self._transport._min_committed(tp)
                if floor is not None:
                    self._transport.partitions(tp.topic)[tp.partition].trim(floor)
        await self._transport._notify()  # producers waiting for space

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._transport._leave(self)
            await self._transport._notify()
