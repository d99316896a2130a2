"""KafkaTransport against the real broker: positions, acks, commits, groups, retention, restarts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from inferstream.devtools.kafka_broker import start_broker
from inferstream.transports import TopicPartition, TopicSpec, TransportError, load_transport
from inferstream.transports.base import Consumer, MessageBatch
from inferstream.transports.kafka import KafkaTransport

pytestmark = pytest.mark.kafka  # needs the session's Kafka broker (tests/conftest.py)


def run(coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout=timeout))


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def drain(consumers: list[Consumer], expected: int, deadline_s: float = 30) -> list[MessageBatch]:
    """Poll every consumer until ``expected`` records arrived in total (bounded by ``deadline_s``)."""
    batches: list[MessageBatch] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    while sum(len(b) for b in batches) < expected and loop.time() < deadline:
        for consumer in consumers:
            batches += await consumer.poll(max_records=500, timeout=0.2)
    return batches


def test_load_transport_builds_kafka_from_flat_settings(bootstrap: str) -> None:
    transport = load_transport("kafka", {"bootstrap.servers": bootstrap, "producer.linger.ms": 1,
                                         "consumer.session.timeout.ms": 7000, "socket.timeout.ms": 9000})
    assert isinstance(transport, KafkaTransport)
    assert transport.settings.bootstrap_servers == bootstrap
    assert transport.settings.producer_config("p")["linger.ms"] == 1
    consumer_config = transport.settings.consumer_config("g", "c")
    assert consumer_config["session.timeout.ms"] == 7000 and consumer_config["socket.timeout.ms"] == 9000
    assert consumer_config["enable.auto.commit"] is False


def test_round_trip_spreads_keyless_records_evenly_and_resumes_at_commit(bootstrap: str) -> None:
    topic, group = unique("rt"), unique("g")

    async def scenario() -> None:
        transport = KafkaTransport(bootstrap)
        await transport.create_topics([TopicSpec(topic, partitions=3)])
        producer = transport.producer("p")
        values = [f"r{i}".encode() for i in range(900)]
        await (await producer.send(topic, values))
        consumer = transport.consumer(group, [topic], "c0")
        batches = await drain([consumer], 900)
        got = [v for b in batches for v in b.values]
        assert sorted(got) == sorted(values)
        per_partition = {p: sum(len(b) for b in batches if b.partition == p) for p in range(3)}
        assert per_partition == {0: 300, 1: 300, 2: 300}
        for batch in batches:  # offsets are consecutive positions of the partition
            assert list(batch.offsets) == list(range(batch.offsets[0], batch.offsets[0] + len(batch)))
        assert consumer.assignment() == {TopicPartition(topic, p) for p in range(3)}
        # Commit only partition 0 fully and the first 100 of partition 1.
        await consumer.commit({TopicPartition(topic, 0): 300, TopicPartition(topic, 1): 100})
        await consumer.close()
        assert await transport.lag(group, [topic]) == 200 + 300
        again = transport.consumer(group, [topic], "c1")
        rest = await drain([again], 500)
        assert sum(len(b) for b in rest) == 500
        assert {b.partition for b in rest} == {1, 2}
        assert min(b.offsets[0] for b in rest if b.partition == 1) == 100
        await again.close()
        await producer.close()
        await transport.delete_topics([topic])

    run(scenario())


def test_equal_keys_go_to_one_partition_and_keys_come_back(bootstrap: str) -> None:
    topic = unique("keys")

    async def scenario() -> None:
        transport = KafkaTransport(bootstrap)
        await transport.create_topics([TopicSpec(topic, partitions=4)])
        producer = transport.producer("p")
        keys: list[bytes | None] = [b"FP32", b"INT64", b"FP32", b"STRING"] * 25
        await (await producer.send(topic, [str(i).encode() for i in range(100)], keys))
        consumer = transport.consumer(unique("g"), [topic], "c")
        batches = await drain([consumer], 100)
        partitions_of: dict[bytes, set[int]] = {}
        for batch in batches:
            assert batch.keys is not None
            for key in batch.keys:
                assert key is not None
                partitions_of.setdefault(key, set()).add(batch.partition)
        assert set(partitions_of) == {b"FP32", b"INT64", b"STRING"}
        assert all(len(parts) == 1 for parts in partitions_of.values())
        await consumer.close()
        await producer.close()

    run(scenario())


def test_group_members_share_partitions_and_a_leaver_hands_over_after_its_commit(bootstrap: str) -> None:
    topic, group = unique("share"), unique("g")

    async def scenario() -> None:
        transport = KafkaTransport(bootstrap)
        await transport.create_topics([TopicSpec(topic, partitions=4)])
        first, second = transport.consumer(group, [topic], "a"), transport.consumer(group, [topic], "b")
        producer = transport.producer("p")
        try:
            # Both members join (polling drives the rebalances) before any record exists.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while len(first.assignment()) + len(second.assignment()) < 4 or not (
                first.assignment() and second.assignment()
            ):
                assert loop.time() < deadline, (first.assignment(), second.assignment())
                for member in (first, second):
                    assert await member.poll(10, 0.1) == []
            assert first.assignment() | second.assignment() == {TopicPartition(topic, p) for p in range(4)}
            assert not first.assignment() & second.assignment()
            await (await producer.send(topic, [f"{i}".encode() for i in range(400)]))
            batches = await drain([first, second], 400)
            assert sorted(v for b in batches for v in b.values) == sorted(f"{i}".encode() for i in range(400))
            # Everything processed: each commits what it owns, then the first leaves; nothing is re-read.
            for member in (first, second):
                ends = {tp: 100 for tp in member.assignment()}
                await member.commit(ends)
            await first.close()
            assert await transport.lag(group, [topic]) == 0
            assert await drain([second], 1, deadline_s=3) == []
        finally:
            await first.close()
            await second.close()
            await producer.close()

    run(scenario())


def test_topics_get_finite_retention_and_errors_are_typed(bootstrap: str) -> None:
    topic = unique("ret")

    async def scenario() -> None:
        transport = KafkaTransport(bootstrap)
        await transport.create_topics([TopicSpec(topic, partitions=2, retention_ms=3_600_000,
                                                 config={"segment.bytes": "10485760"})])
        await transport.create_topics([TopicSpec(topic, partitions=2)])  # exists: left as it is
        admin = AdminClient({"bootstrap.servers": bootstrap})
        resource = ConfigResource("topic", topic)
        described = admin.describe_configs([resource])[resource].result(timeout=30)
        assert described["retention.ms"].value == "3600000"
        assert described["segment.bytes"].value == "10485760"
        producer = transport.producer("p")
        with pytest.raises(TransportError, match="not usable"):
            await producer.send(unique("missing"), [b"x"])
        await producer.close()
        with pytest.raises(TransportError, match="cannot create Kafka topics"):
            await transport.create_topics([TopicSpec(unique("bad"), partitions=1, replication=3)])

    run(scenario())


def test_records_survive_a_broker_kill_and_restart(tmp_path_factory: pytest.TempPathFactory) -> None:
    # A broker of its own: the session broker must stay up for the other tests.
    broker = start_broker(data_dir=tmp_path_factory.mktemp("restart-broker"), heap="384m")
    topic, group = unique("restart"), unique("g")
    try:
        async def before() -> None:
            transport = KafkaTransport(broker.bootstrap_servers)
            await transport.create_topics([TopicSpec(topic, partitions=2)])
            producer = transport.producer("p")
            await (await producer.send(topic, [f"a{i}".encode() for i in range(500)]))
            await producer.close()
            # A fresh broker's group coordinator is still loading: lag() must wait it out, not crash
            # (the AdminClient's group-offsets request segfaults confluent-kafka 2.16.1 there).
            assert await transport.lag(group, [topic]) == 500
            await transport.close()

        async def after() -> list[bytes]:
            transport = KafkaTransport(broker.bootstrap_servers)
            producer = transport.producer("p2")
            await (await producer.send(topic, [f"b{i}".encode() for i in range(500)]))
            consumer = transport.consumer(group, [topic], "c")
            batches = await drain([consumer], 1000)
            await consumer.close()
            await producer.close()
            return [v for b in batches for v in b.values]

        run(before())
        broker.kill()  # SIGKILL: no clean shutdown, acknowledged records must be on disk
        broker.restart()
        got = run(after())
        assert len(got) == 1000
        assert set(got) == {f"a{i}".encode() for i in range(500)} | {f"b{i}".encode() for i in range(500)}
    finally:
        broker.stop()


def test_a_full_local_queue_makes_send_wait_and_every_record_arrives(bootstrap: str) -> None:
    topic = unique("full")

    async def scenario() -> None:
        # A 50-record local queue: batches of 400 must wait for acknowledgements, never fail.
        transport = KafkaTransport(bootstrap, **{"producer.queue.buffering.max.messages": 50})
        await transport.create_topics([TopicSpec(topic, partitions=2)])
        producer = transport.producer("p")
        acks = [await producer.send(topic, [f"{b}-{i}".encode() for i in range(400)]) for b in range(5)]
        await asyncio.gather(*acks)
        await producer.flush(timeout=10)
        consumer = transport.consumer(unique("g"), [topic], "c")
        got = [v for batch in await drain([consumer], 2000) for v in batch.values]
        assert sorted(got) == sorted(f"{b}-{i}".encode() for b in range(5) for i in range(400))
        await consumer.close()
        await producer.close()

    run(scenario())


def test_keyed_batches_report_every_record_and_resolve(bootstrap: str) -> None:
    topic = unique("keyed")

    async def scenario() -> None:
        transport = KafkaTransport(bootstrap)
        await transport.create_topics([TopicSpec(topic, partitions=3)])
        producer = transport.producer("p")
        ack = await producer.send(topic, [b"a", b"b", b"c"], [b"k1", None, b"k2"])
        await asyncio.wait_for(ack, 30)
        empty = await producer.send(topic, [])
        await empty  # nothing to send resolves at once
        await producer.close()
        assert await transport.lag(unique("g"), [topic]) == 3  # a group that read nothing lags by all

    run(scenario())
