"""Kafka transport figures: broker startup, produce and consume rates, and the pass-through pipeline
end to end over a real broker (``inferstream run --transport kafka``: one process per instance).

    .venv/bin/python bench/kafka.py                                  # 1,000,000 records, own broker
    .venv/bin/python bench/kafka.py --records 200000 --skip-pipeline
    .venv/bin/python bench/kafka.py --bootstrap 127.0.0.1:9092        # an already running broker

End to end is measured from the CreateTime of the first record the ingress wrote to the moment
the egress's consumer group has committed every record (lag 0, polled every 50 ms), so the
seconds the instance processes take to start are not counted; the wall time including them is
printed too. Records are fraud-sized Avro ``SourceRequest``s (182 bytes, pre-encoded), forwarded
without decoding (``FraudPassThrough``): this measures the transport and the runtime.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from confluent_kafka import Consumer
from confluent_kafka import TopicPartition as RdTopicPartition

from inferstream.bench.machine import describe_machine
from inferstream.runtime.examples import fraud_sized_request
from inferstream.transports import TopicSpec
from inferstream.transports.kafka import BOOTSTRAP_ENV, KafkaTransport
from inferstream.transports.kafka_broker import start_broker

BLUEPRINT = """
name: {app}
streamlets:
  ingress:
    class: inferstream.runtime.examples:FraudSizedIngress
    config: {{batch-size: {batch}}}
  processor:
    class: inferstream.runtime.examples:FraudPassThrough
    instances: {instances}
  egress: inferstream.runtime.examples:CountingEgress
connections:
  ingress.out: [processor.in]
  processor.out: [egress.in]
"""


async def produce_consume(bootstrap: str, records: int, partitions: int, batch: int) -> tuple[float, float]:
    """Records/s of one producer (acks awaited) and then of one consumer reading them all back."""
    transport = KafkaTransport(bootstrap)
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    await transport.create_topics([TopicSpec(topic, partitions=partitions)])
    payloads = [fraud_sized_request(i) for i in range(64)]
    values = (payloads * (batch // len(payloads) + 1))[:batch]
    producer = transport.producer("bench-producer")
    sends = records // batch
    started = time.perf_counter()
    acks = [await producer.send(topic, values) for _ in range(sends)]
    await asyncio.gather(*acks)
    produce_rate = sends * batch / (time.perf_counter() - started)
    await producer.close()

    consumer = transport.consumer(f"bench-{uuid.uuid4().hex[:8]}", [topic], "bench-consumer")
    got, first = 0, 0.0
    while got < sends * batch:
        batches = await consumer.poll(4096, 0.5)
        if batches and not first:
            first = time.perf_counter()
        got += sum(len(b) for b in batches)
        if batches:
            await consumer.commit({b.topic_partition: b.next_offset for b in batches})
    consume_rate = got / (time.perf_counter() - first)
    await consumer.close()
    await transport.delete_topics([topic])
    return produce_rate, consume_rate


def first_create_time(bootstrap: str, topic: str, partitions: int) -> float:
    """Seconds since the epoch of the earliest record on ``topic``."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "bench-probe", "enable.auto.commit": False}
    )
    earliest = []
    try:
        consumer.assign([RdTopicPartition(topic, p, 0) for p in range(partitions)])
        deadline = time.monotonic() + 30
        seen: set[int] = set()
        while len(seen) < partitions and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None or msg.error() is not None or msg.partition() in seen:
                continue
            seen.add(msg.partition())
            earliest.append(msg.timestamp()[1] / 1000)
            consumer.pause([RdTopicPartition(topic, msg.partition())])
    finally:
        consumer.close()
    return min(earliest)


async def committed_everything(transport: KafkaTransport, group: str, topic: str, records: int) -> bool:
    if await transport.lag(group, [topic]) != 0:
        return False
    # lag 0 also holds before anything arrived: check that the topic holds every record.
    return await transport.lag(f"bench-empty-{group}", [topic]) >= records


def pipeline(bootstrap: str, records: int, instances: int, batch: int) -> tuple[float, float, float]:
    """(records/s end to end, seconds end to end, wall seconds incl. process startup)."""
    app = f"passthrough-{uuid.uuid4().hex[:6]}"
    folder = Path(tempfile.mkdtemp(prefix="bench-kafka-"))
    blueprint = folder / f"{app}.yaml"
    blueprint.write_text(BLUEPRINT.format(app=app, batch=batch, instances=instances))
    log = (folder / "run.log").open("wb")
    env = {**os.environ, BOOTSTRAP_ENV: bootstrap}
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inferstream.cli.main",
            "run",
            str(blueprint),
            "--transport",
            "kafka",
            "--records",
            str(records),
            "--no-progress",
            "--summary-json",
            str(folder / "summary.json"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    transport = KafkaTransport(bootstrap)
    group, topic = f"{app}.egress.in", f"{app}.processor.out"

    async def wait_done() -> float:
        while process.poll() is None:
            try:
                if await committed_everything(transport, group, topic, records):
                    return time.time()
            except Exception:  # topics not created yet
                pass
            await asyncio.sleep(0.05)
        raise SystemExit(
            f"inferstream run ended ({process.returncode}) before the egress committed; see {log.name}"
        )

    done_at = asyncio.run(wait_done())
    process.wait(300)
    wall = time.perf_counter() - started
    first = first_create_time(bootstrap, f"{app}.ingress.out", max(1, instances))
    seconds = done_at - first
    return records / seconds, seconds, wall


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=1, help="partitions of the produce/consume topic")
    parser.add_argument("--instances", type=int, default=1, help="processor instances in the pipeline")
    parser.add_argument("--batch", type=int, default=1024, help="records per producer batch")
    parser.add_argument("--bootstrap", help="use this broker instead of starting one")
    parser.add_argument("--skip-pipeline", action="store_true", help="only produce/consume")
    args = parser.parse_args()

    machine = describe_machine()
    print(
        f"machine: {machine['cpu_model']}, {machine['cores']} cores, load at start "
        f"{machine['load_average_at_start']}, Python {machine['python']}"
    )
    with ExitStack() as stack:
        bootstrap = args.bootstrap
        if bootstrap is None:
            began = time.perf_counter()
            broker = stack.enter_context(start_broker(heap="512m"))
            print(
                f"broker: KRaft single node, format + start until it answers: "
                f"{time.perf_counter() - began:.1f} s"
            )
            bootstrap = broker.bootstrap_servers
        produce_rate, consume_rate = asyncio.run(
            produce_consume(bootstrap, args.records, args.partitions, args.batch)
        )
        print(
            f"transport, {args.records:,} records of 182 B, {args.partitions} partition(s): "
            f"produce (acked) {produce_rate:,.0f} records/s, "
            f"consume (committed) {consume_rate:,.0f} records/s"
        )
        if not args.skip_pipeline:
            rate, seconds, wall = pipeline(bootstrap, args.records, args.instances, args.batch)
            print(
                f"pipeline ingress -> pass-through x{args.instances} -> egress on kafka: "
                f"{args.records:,} records in {seconds:.2f} s = {rate:,.0f} records/s end to end "
                f"(wall incl. process startup {wall:.1f} s)"
            )
    print(f"load at end {[round(v, 2) for v in os.getloadavg()]}")


if __name__ == "__main__":
    main()
