import asyncio

import pytest

from inferstream.transports import TopicPartition, TopicSpec, TransportError, load_transport
from inferstream.transports.memory import MemoryTransport


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coro, timeout=20))


def test_records_round_trip_with_positions_and_resume_at_commit() -> None:
    async def scenario() -> None:
        transport = load_transport("memory")
        await transport.create_topics([TopicSpec("t", partitions=1)])
        producer = transport.producer("p")
        await (await producer.send("t", [b"a", b"b", b"c"]))
        consumer = transport.consumer("g", ["t"], "c0")
        (batch,) = await consumer.poll(max_records=2, timeout=1)
        assert list(batch.values) == [b"a", b"b"]
        assert list(batch.offsets) == [0, 1]
        await consumer.commit({batch.topic_partition: batch.next_offset})
        assert await transport.lag("g", ["t"]) == 1
        await consumer.close()
        again = transport.consumer("g", ["t"], "c1")
        (rest,) = await again.poll(max_records=10, timeout=1)
        assert list(rest.values) == [b"c"] and rest.offsets[0] == 2

    run(scenario())


def test_group_members_share_partitions_and_keys_stick_to_a_partition() -> None:
    async def scenario() -> None:
        transport = MemoryTransport()
        await transport.create_topics([TopicSpec("t", partitions=3)])
        members = [transport.consumer("g", ["t"], f"c{i}") for i in range(3)]
        assignments = [m.assignment() for m in members]
        assert sorted(tp.partition for a in assignments for tp in a) == [0, 1, 2]
        producer = transport.producer("p")
        keys = [b"x", b"y", b"x", b"z", b"x"]
        await producer.send("t", [b"1", b"2", b"3", b"4", b"5"], keys)
        seen: dict[bytes, set[int]] = {}
        for member in members:
            for batch in await member.poll(100, 0.1):
                for key in batch.keys or []:
                    assert key is not None
                    seen.setdefault(key, set()).add(batch.partition)
        assert all(len(parts) == 1 for parts in seen.values())
        assert sum(1 for _ in seen) == 3
        await members[0].close()
        assert len(members[1].assignment() | members[2].assignment()) == 3

    run(scenario())


def test_full_partition_makes_the_producer_wait_until_a_commit() -> None:
    async def scenario() -> None:
        transport = MemoryTransport(capacity=4)
        await transport.create_topics([TopicSpec("t")])
        consumer = transport.consumer("g", ["t"], "c")
        producer = transport.producer("p")
        await producer.send("t", [b"0"] * 4)
        blocked = asyncio.create_task(producer.send("t", [b"1"]))
        await asyncio.sleep(0.05)
        assert not blocked.done()
        (batch,) = await consumer.poll(10, 1)
        await consumer.commit({TopicPartition("t", 0): batch.next_offset})
        await asyncio.wait_for(blocked, 2)
        assert transport.end_offsets("t") == [5]

    run(scenario())


def test_unknown_topic_and_transport_are_clear_errors() -> None:
    async def scenario() -> None:
        transport = MemoryTransport()
        with pytest.raises(TransportError, match="unknown topic 'nope'"):
            await transport.producer("p").send("nope", [b"x"])

    run(scenario())
    with pytest.raises(TransportError, match="unknown transport 'carrier-pigeon'"):
        load_transport("carrier-pigeon")


def test_a_topic_nobody_consumes_keeps_its_newest_records_instead_of_blocking() -> None:
    async def scenario() -> None:
        transport = MemoryTransport(capacity=10)
        await transport.create_topics([TopicSpec("dead-letters")])
        producer = transport.producer("p")
        for i in range(30):
            await asyncio.wait_for(producer.send("dead-letters", [str(i).encode()] * 3), 1)
        held = transport.partitions("dead-letters")[0]
        assert held.end == 90 and held.end - held.start <= 12
        assert held.read(0, 100)[1][-1] == b"29"

    run(scenario())


def test_capacity_comes_from_settings_text_and_bad_values_are_clear() -> None:
    assert load_transport("memory", {"capacity": "1000"}).capacity == 1000  # type: ignore[attr-defined]
    with pytest.raises(TransportError, match="capacity must be a whole number"):
        load_transport("memory", {"capacity": "lots"})
