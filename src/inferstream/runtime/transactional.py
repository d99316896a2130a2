"""Exactly-once consumption: a consuming instance works in transactions of about ``interval`` seconds.

A cycle polls, processes what it polled (up to ``max_in_flight`` batches at once, more polls
until ``interval`` has passed), sends every derived record and dead letter through the
instance's transactional producer, then commits the transaction together with the consumed
positions. A reader with ``read_committed`` sees a cycle's records exactly when its input
positions are committed. At-least-once instances use :meth:`StreamletInstance._consume`; this
path is taken only with ``guarantee: exactly-once`` on a transport that has transactions.

Failures are crash-only: a transaction that cannot commit (fenced by a newer instance, a
rebalance that took partitions away, a broker gone for longer than the transaction timeout) ends
the instance; its supervisor restarts it and it resumes from the last committed cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from inferstream.transports.base import (
    Consumer,
    MessageBatch,
    Producer,
    TopicPartition,
    Transport,
    TransportError,
)

if TYPE_CHECKING:
    from inferstream.runtime.instance import StreamletInstance

log = logging.getLogger("inferstream.runtime")

#: Guarantees a run or a streamlet can ask for.
AT_LEAST_ONCE = "at-least-once"
EXACTLY_ONCE = "exactly-once"
GUARANTEES = (AT_LEAST_ONCE, EXACTLY_ONCE)
#: Seconds per transaction (Kafka Streams' exactly-once default commit interval).
DEFAULT_INTERVAL = 0.1


class TransactionalProducer(Protocol):
    """What a transactional producer offers besides ``send`` (see transports.kafka_transactions)."""

    async def init(self) -> None: ...
    async def begin(self) -> None: ...
    async def commit(self, offsets: Mapping[TopicPartition, int], consumer: Any) -> None: ...
    async def abort(self) -> None: ...


class _CycleOffsets(Consumer):
    """Stands in for the consumer in ``_handle``: keeps the offsets it would commit for the transaction."""

    def __init__(self, real: Consumer) -> None:
        self.real = real
        self.offsets: dict[TopicPartition, int] = {}

    async def poll(self, max_records: int, timeout: float) -> list[MessageBatch]:
        raise NotImplementedError

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            if offset > self.offsets.get(tp, -1):
                self.offsets[tp] = offset

    def take(self) -> dict[TopicPartition, int]:
        taken, self.offsets = self.offsets, {}
        return taken

    def assignment(self) -> set[TopicPartition]:
        return self.real.assignment()

    async def close(self) -> None:
        return None


async def open_producer(transport: Transport, client: str, transactional: bool) -> Producer:
    """The instance's producer: transactional (its id is the client id, one per instance, so a
    restarted instance fences its zombie) or the transport's plain one."""
    if not transactional:
        return transport.producer(client)
    producer: Any = transport.transactional_producer(client, client)
    await producer.init()
    return producer  # type: ignore[no-any-return]


async def consume_transactionally(
    instance: StreamletInstance, inlet_name: str, interval: float = DEFAULT_INTERVAL
) -> None:
    """Consume ``inlet_name`` of ``instance`` in transactions until the instance stops."""
    consumer = instance._consumers[inlet_name]
    inlet = instance.streamlet.inlets()[inlet_name]
    tracker = instance._trackers[inlet_name]
    producer: Any = instance._producer
    cycle = _CycleOffsets(consumer)
    loop = asyncio.get_running_loop()
    max_records = instance.streamlet.max_batch_records
    while not instance.ctx.stopping.is_set():
        batches = await consumer.poll(max_records, instance.poll_timeout)
        if not batches:
            continue
        async with instance._transaction_lock:  # several inlets share one producer: one cycle at a time
            await producer.begin()
            deadline = loop.time() + interval
            tasks: list[asyncio.Task[None]] = []
            while True:
                for batch in batches:
                    await instance._slots.acquire()
                    ticket = tracker.track(batch.topic_partition, batch.next_offset)
                    task = asyncio.create_task(instance._handle(inlet, batch, ticket, cycle, tracker))
                    task.add_done_callback(lambda _: instance._slots.release())
                    tasks.append(task)
                left = deadline - loop.time()
                if left <= 0 or instance.ctx.stopping.is_set():
                    break
                batches = await consumer.poll(max_records, min(instance.poll_timeout, left))
            await _finish_cycle(instance, tasks, producer, cycle, consumer)


async def _finish_cycle(
    instance: StreamletInstance, tasks: list[asyncio.Task[None]], producer: Any, cycle: _CycleOffsets,
    consumer: Consumer,
) -> None:  # fmt: skip
    done, late = await asyncio.wait(tasks, timeout=None if not instance.ctx.stopping.is_set()
                                    else instance.shutdown_timeout)  # fmt: skip
    for task in late:
        task.cancel()
    if late:
        await asyncio.wait(late)
    failures = [t.exception() for t in done if not t.cancelled() and t.exception() is not None]
    if late or failures:
        with contextlib.suppress(TransportError):
            await producer.abort()  # nothing of this cycle becomes visible; its input is read again
        cycle.take()
        if failures:
            raise failures[0]  # type: ignore[misc]
        log.warning("%s: %d batch(es) unfinished when stopping; their transaction is aborted (they will "
                    "be consumed again)", instance.name, len(late))  # fmt: skip
        return
    await producer.commit(cycle.take(), consumer)


def parse_guarantees(values: list[str] | tuple[str, ...], streamlets: list[str]) -> dict[str, str]:
    """``--guarantee exactly-once`` (every streamlet) or ``--guarantee <streamlet>=exactly-once``
    (repeatable; later values win) → {streamlet: guarantee}; ValueError says what is wrong."""
    chosen: dict[str, str] = {}
    for value in values:
        name, sep, guarantee = value.rpartition("=")
        if guarantee not in GUARANTEES:
            raise ValueError(f"{value!r}: the guarantee is one of {', '.join(GUARANTEES)}")
        if not sep:
            chosen.update(dict.fromkeys(streamlets, guarantee))
        elif name not in streamlets:
            raise ValueError(f"{value!r}: no streamlet {name!r} (the blueprint has {', '.join(streamlets)})")
        else:
            chosen[name] = guarantee
    return chosen
