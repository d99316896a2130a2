"""Kafka transport figures: broker startup, produce and consume rates, and the pass-through pipeline
end to end over a real broker (``inferstream run --transport kafka``: one process per instance).

    .venv/bin/python benchmarks/kafka.py                                  # 1,000,000 records, own broker
    .venv/bin/python benchmarks/kafka.py --records 200000 --skip-pipeline
    .venv/bin/python benchmarks/kafka.py --bootstrap 127.0.0.1:9092        # an already running broker

End to end is measured from the CreateTime of the first record the ingress wrote to the moment
the egress's consumer group has committed every record (lag 0, polled every 50 ms), so the
seconds the instance processes take to start are not counted; the wall time including them is
printed too. Because the project's machines are shared and rates swing with their load, CPU time
per record is printed as well (client process incl. librdkafka threads, and the broker JVM); it
hardly depends on the load. For the pipeline it is marginal: the CPU of a second, small run
(process startup, imports) is subtracted. Records are fraud-sized Avro ``SourceRequest``s
(182 bytes, pre-encoded), forwarded without decoding (``FraudPassThrough``): this measures the
transport and the runtime. A warm-up round (not counted) lets the broker's JIT compile first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from confluent_kafka import Consumer
from confluent_kafka import TopicPartition as RdTopicPartition

from inferstream.apps.examples import fraud_sized_request
from inferstream.bench.machine import describe_machine
from inferstream.devtools.kafka_broker import start_broker
from inferstream.transports import TopicSpec
from inferstream.transports.kafka import BOOTSTRAP_ENV, KafkaTransport

BLUEPRINT = """
name: {app}
streamlets:
  ingress:
    class: inferstream.apps.examples:FraudSizedIngress
    config: {{batch-size: {batch}}}
  processor:
    class: inferstream.apps.examples:FraudPassThrough
    instances: {instances}
  egress: inferstream.apps.examples:CountingEgress
connections:
  ingress.out: [processor.in]
  processor.out: [egress.in]
"""


def process_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) a process used so far; 0 for an unknown one."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Cpu:
    """CPU µs per record of this process and of the broker over a ``with`` block."""

    def __init__(self, broker_pid: int | None, records: int) -> None:
        self.broker_pid, self.records = broker_pid, records
        self.client = self.broker = 0.0

    def __enter__(self) -> Cpu:
        self._client0, self._broker0 = time.process_time(), process_cpu(self.broker_pid)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client = (time.process_time() - self._client0) / self.records * 1e6
        self.broker = (process_cpu(self.broker_pid) - self._broker0) / self.records * 1e6

    def __str__(self) -> str:
        broker = f", broker {self.broker:.1f} µs" if self.broker_pid else ""
        return f"CPU/record: client {self.client:.1f} µs{broker}"


async def produce_consume(
    bootstrap: str, records: int, partitions: int, batch: int, broker_pid: int | None
) -> tuple[float, float, Cpu, Cpu]:
    """Records/s (and CPU) of one producer (acks awaited), then of one consumer reading them back."""
    transport = KafkaTransport(bootstrap)
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    await transport.create_topics([TopicSpec(topic, partitions=partitions)])
    payloads = [fraud_sized_request(i) for i in range(64)]
    values = (payloads * (batch // len(payloads) + 1))[:batch]
    producer = transport.producer("bench-producer")
    sends = records // batch
    with Cpu(broker_pid, sends * batch) as produce_cpu:
        started = time.perf_counter()
        acks = [await producer.send(topic, values) for _ in range(sends)]
        await asyncio.gather(*acks)
        produce_rate = sends * batch / (time.perf_counter() - started)
    await producer.close()

    consumer = transport.consumer(f"bench-{uuid.uuid4().hex[:8]}", [topic], "bench-consumer")
    got, first = 0, 0.0
    with Cpu(broker_pid, sends * batch) as consume_cpu:
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
    return produce_rate, consume_rate, produce_cpu, consume_cpu


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


def pipeline(
    bootstrap: str, records: int, instances: int, batch: int, broker_pid: int | None
) -> tuple[float, float, float, float, float]:
    """(records/s end to end, seconds end to end, wall seconds incl. process startup,
    CPU seconds of the pipeline's processes, CPU seconds of the broker)."""
    cpu0, broker0 = children_cpu(), process_cpu(broker_pid)
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
    cpu, broker_cpu = children_cpu() - cpu0, process_cpu(broker_pid) - broker0
    first = first_create_time(bootstrap, f"{app}.ingress.out", max(1, instances))
    seconds = done_at - first
    return records / seconds, seconds, wall, cpu, broker_cpu


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
    parser.add_argument(
        "--warmup-records", type=int, default=200_000, help="produced and consumed first, not counted"
    )
    parser.add_argument(
        "--baseline-records",
        type=int,
        default=10_000,
        help="records of the small pipeline run whose CPU (startup) is subtracted",
    )
    args = parser.parse_args()

    machine = describe_machine()
    print(
        f"machine: {machine['cpu_model']}, {machine['cores']} cores, load at start "
        f"{machine['load_average_at_start']}, Python {machine['python']}"
    )
    with ExitStack() as stack:
        bootstrap, broker_pid = args.bootstrap, None
        if bootstrap is None:
            began = time.perf_counter()
            broker = stack.enter_context(start_broker(heap="512m"))
            print(
                f"broker: KRaft single node, format + start until it answers: "
                f"{time.perf_counter() - began:.1f} s"
            )
            bootstrap, broker_pid = broker.bootstrap_servers, broker.pid
        if args.warmup_records:  # the broker's JIT compiles its hot paths during the first ~100k records
            asyncio.run(produce_consume(bootstrap, args.warmup_records, args.partitions, args.batch, None))
        produce_rate, consume_rate, produce_cpu, consume_cpu = asyncio.run(
            produce_consume(bootstrap, args.records, args.partitions, args.batch, broker_pid)
        )
        print(f"transport, {args.records:,} records of 182 B, {args.partitions} partition(s):")
        print(f"  produce (acked)     {produce_rate:>10,.0f} records/s   {produce_cpu}")
        print(f"  consume (committed) {consume_rate:>10,.0f} records/s   {consume_cpu}")
        if not args.skip_pipeline:
            rate, seconds, wall, cpu, broker_cpu = pipeline(
                bootstrap, args.records, args.instances, args.batch, broker_pid
            )
            print(
                f"pipeline ingress -> pass-through x{args.instances} -> egress on kafka: "
                f"{args.records:,} records in {seconds:.2f} s = {rate:,.0f} records/s end to end "
                f"(wall incl. process startup {wall:.1f} s)"
            )
            small = pipeline(bootstrap, args.baseline_records, args.instances, args.batch, broker_pid)
            extra = args.records - args.baseline_records
            per_record = (cpu - small[3]) / extra * 1e6
            broker_per_record = (broker_cpu - small[4]) / extra * 1e6
            print(
                f"  marginal CPU/record: pipeline processes {per_record:.1f} µs, broker "
                f"{broker_per_record:.1f} µs -> at most {2e6 / (per_record + broker_per_record):,.0f} "
                f"records/s if 2 idle cores were shared perfectly"
            )
    print(f"load at end {[round(v, 2) for v in os.getloadavg()]}")


if __name__ == "__main__":
    main()
