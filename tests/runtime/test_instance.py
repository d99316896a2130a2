"""StreamletInstance: outputs leave in consumption order per partition, however many batches are in flight."""

from __future__ import annotations

import asyncio
from typing import Any

from inferstream.runtime.codecs import RawCodec
from inferstream.runtime.config import StreamletConfig
from inferstream.runtime.instance import StreamletInstance, Wiring
from inferstream.runtime.offsets import OffsetTracker
from inferstream.runtime.run_stats import InstanceStats
from inferstream.runtime.streamlet import InBatch, Inlet, Outlet, Output, Processor, StreamletContext
from inferstream.transports.base import TopicPartition, TopicSpec
from inferstream.transports.memory import MemoryTransport

RECORDS = 400
BATCH = 10


class EarlierIsSlower(Processor):
    """Batches that start at an even ten take 20 ms, the others none: without ordering, later batches
    would overtake earlier ones. Every seventh batch emits nothing, every eleventh fails."""

    inlet = Inlet[list[bytes]]("in", "demo.Raw", RawCodec("demo.Raw"))
    outlet = Outlet[list[bytes]]("out", "demo.Raw", RawCodec("demo.Raw"))
    max_batch_records = BATCH
    max_in_flight = 8

    async def process(self, batch: InBatch[list[bytes]], out: Output) -> None:
        first = int(batch.records[0]) // BATCH
        await asyncio.sleep(0.02 if first % 2 == 0 else 0.0)
        if first % 11 == 5:
            raise ValueError("unlucky batch")  # dead-lettered; must not hold the next batch back
        if first % 7 == 3:
            return
        await out.emit(self.outlet, list(batch.records[: len(batch) // 2]))
        await asyncio.sleep(0)
        await out.emit(self.outlet, list(batch.records[len(batch) // 2 :]))


def _expected() -> list[int]:
    kept = [n for n in range(RECORDS) if (n // BATCH) % 11 != 5 and (n // BATCH) % 7 != 3]
    return kept


async def _run(partitions: int) -> dict[int, list[int]]:
    transport = MemoryTransport()
    await transport.create_topics([TopicSpec("in", partitions), TopicSpec("out", 1), TopicSpec("dead", 1)])
    producer = transport.producer("test")
    for start in range(0, RECORDS, BATCH):  # one partition per ten: each batch keeps its numbers together
        values = [str(n).encode() for n in range(start, start + BATCH)]
        ack = await producer.send("in", values, [str(start // BATCH % partitions).encode()] * BATCH)
        await ack
    ctx = StreamletContext("app", "order", 0, 1, StreamletConfig({}))
    wiring = Wiring({"in": "in"}, {"in": "app.order.in"}, {"out": ["out"]}, "dead")
    instance = StreamletInstance(EarlierIsSlower(), ctx, transport, wiring, InstanceStats("order", 0))
    await instance.setup()
    task = asyncio.create_task(instance.run())
    while await transport.lag("app.order.in", ["in"]) > 0:
        await asyncio.sleep(0.02)
    ctx.stopping.set()
    await task
    reader = transport.consumer("reader", ["out"], "reader")
    seen: dict[int, list[int]] = {}
    while sum(len(v) for v in seen.values()) < len(_expected()):
        for polled in await reader.poll(1000, 0.1):
            for value in polled.values:
                n = int(value)
                seen.setdefault(n // BATCH % partitions, []).append(n)
    return seen


def test_outputs_leave_in_consumption_order_with_eight_batches_in_flight() -> None:
    seen = asyncio.run(asyncio.wait_for(_run(partitions=1), 30))
    assert seen[0] == _expected()


def test_order_is_per_partition_and_every_partition_keeps_its_own() -> None:
    seen = asyncio.run(asyncio.wait_for(_run(partitions=3), 30))
    for partition, numbers in seen.items():
        assert numbers == [n for n in _expected() if n // BATCH % 3 == partition]


def test_a_batch_waits_for_its_predecessors_emits_not_for_their_acks() -> None:
    async def scenario() -> list[str]:
        tracker = OffsetTracker()
        tp = TopicPartition("t", 0)
        a, b, c = (tracker.track(tp, end) for end in (10, 20, 30))
        events: list[str] = []

        async def wait(name: str, ticket: Any) -> None:
            await ticket.turn()
            events.append(name)

        waiting = [asyncio.create_task(wait("c", c)), asyncio.create_task(wait("b", b))]
        await asyncio.sleep(0.01)
        assert events == []  # a has not emitted: nobody goes
        a.emitted()  # a emitted (not acknowledged: not done) -> b goes, c still waits for b
        await asyncio.sleep(0.01)
        assert events == ["b"]
        b.emitted()
        await asyncio.gather(*waiting)
        d = tracker.track(tp, 40)  # tracked while c has not emitted: d waits for c
        c.emitted()
        await asyncio.wait_for(d.turn(), 1)
        return events

    assert asyncio.run(scenario()) == ["b", "c"]
