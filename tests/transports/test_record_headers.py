"""Record headers (trace context) travel beside keys on both transports; lag per partition."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from inferstream.transports import TopicPartition, TopicSpec
from inferstream.transports.base import Transport
from inferstream.transports.kafka import KafkaTransport
from inferstream.transports.memory import MemoryTransport

TRACEPARENT = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def _round_trip(transport: Transport, topic: str, keyed: bool) -> list[Any]:
    await transport.create_topics([TopicSpec(topic, partitions=2)])
    producer = transport.producer("p")
    values = [f"r{i}".encode() for i in range(10)]
    keys = [f"k{i % 3}".encode() for i in range(10)] if keyed else None
    headers = [[("traceparent", TRACEPARENT + str(i).encode())] if i % 2 == 0 else None for i in range(10)]
    await (await producer.send(topic, values, keys, headers))
    await (await producer.send(topic, [b"plain"]))  # a batch without headers
    consumer = transport.consumer("g", [topic], "c")
    got: list[Any] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while len(got) < 11 and loop.time() < deadline:
        for batch in await consumer.poll(100, 0.2):
            heads = batch.headers if batch.headers is not None else [None] * len(batch)
            got += list(zip(batch.values, heads, strict=True))
            await consumer.commit({batch.topic_partition: batch.next_offset})
    lags = await transport.partition_lags("g", [topic])
    assert lags == {TopicPartition(topic, 0): 0, TopicPartition(topic, 1): 0}
    await consumer.close()
    await producer.close()
    await transport.close()
    return got


def _check(got: list[Any]) -> None:
    assert len(got) == 11
    for value, headers in got:
        if value == b"plain":
            assert not headers
            continue
        i = int(value[1:])
        if i % 2 == 0:
            assert [(k, bytes(v)) for k, v in headers] == [("traceparent", TRACEPARENT + str(i).encode())]
        else:
            assert not headers


@pytest.mark.parametrize("keyed", [False, True])
def test_memory_transport_carries_headers_record_by_record(keyed: bool) -> None:
    _check(asyncio.run(_round_trip(MemoryTransport(), "t", keyed)))


def test_memory_batches_without_headers_have_none() -> None:
    async def scenario() -> Any:
        transport = MemoryTransport()
        await transport.create_topics([TopicSpec("t")])
        await (await transport.producer("p").send("t", [b"a", b"b"]))
        consumer = transport.consumer("g", ["t"], "c")
        (batch,) = await consumer.poll(10, 0.1)
        assert await transport.partition_lags("g", ["t"]) == {TopicPartition("t", 0): 2}
        return batch.headers

    assert asyncio.run(scenario()) is None


@pytest.mark.kafka
@pytest.mark.parametrize("keyed", [False, True])
def test_kafka_transport_carries_headers_record_by_record(bootstrap: str, keyed: bool) -> None:
    _check(asyncio.run(_round_trip(KafkaTransport(bootstrap), f"hdr-{uuid.uuid4().hex[:8]}", keyed)))
