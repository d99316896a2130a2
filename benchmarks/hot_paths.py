"""Per-record cost of the pipeline's hot paths, each alone (issue 14, round 3).

    .venv/bin/python benchmarks/hot_paths.py                          # own broker, every part
    .venv/bin/python benchmarks/hot_paths.py --bootstrap 127.0.0.1:9092 --skip decode

Parts:

- ``produce``: handing 500-record batches to librdkafka, today's ``produce()`` loop (one delivery
  report per partition run) against ``Producer.produce_batch`` (a list of dicts; a callback only
  on each run's last record). Microseconds per record on the calling thread (what the event loop
  pays) and for the whole process (librdkafka's threads included).
- ``consume``: ``KafkaConsumer._consume`` (the runtime's poll: librdkafka messages into
  per-partition ``MessageBatch``es) over a pre-filled topic, per record.
- ``latency``: one record per millisecond through the broker, produce to consume, p50/p99 — with
  librdkafka's defaults and with ``socket.nagle.disable=true``.
- ``decode``: ``ServingResultsCodec.decode`` (the decider's and the counters' decode) per call
  and per record at the batch sizes the bench's stage traces show (1 to 1,000 records), on fraud
  results of mixed model calls (durations of 1- and 2-byte varints, so two payload lengths).

CPU is measured with ``time.thread_time``/``process_time``, so the figures move less with the
machine's load than rates do; the machine and its load are printed.
"""

from __future__ import annotations

import argparse
import os
import random
import struct
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from inferstream.bench.machine import describe_machine
from inferstream.devtools.kafka_broker import start_broker
from inferstream.transports.kafka_config import KafkaSettings
from inferstream.transports.kafka_consumer import KafkaConsumer

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "creditcard-sample.csv"
BATCH = 500
PARTITIONS = 4


def new_topic(bootstrap: str, prefix: str) -> str:
    topic = f"{prefix}-{os.getpid()}-{time.monotonic_ns()}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, PARTITIONS, 1)]).values():
        future.result()
    return topic


def bench_produce(bootstrap: str, rounds: int = 400) -> None:
    topic = new_topic(bootstrap, "produce")
    conf = {
        "bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 1,
        "batch.num.messages": 10_000, "queue.buffering.max.messages": 2_000_000,
        "queue.buffering.max.kbytes": 2_000_000, "message.timeout.ms": 0,
    }
    producer = Producer(conf)
    values = [os.urandom(350) for _ in range(BATCH)]
    reports = [0]

    def report(err: Any, msg: Any) -> None:
        reports[0] += 1

    runs = [(k * BATCH // PARTITIONS, (k + 1) * BATCH // PARTITIONS) for k in range(PARTITIONS)]

    def loop() -> None:  # what KafkaProducer._produce_run does, keyless, gapless
        produce = producer.produce
        for partition, (lo, hi) in enumerate(runs):
            for i in range(lo, hi - 1):
                produce(topic, values[i], None, partition)
            produce(topic, values[hi - 1], None, partition, report)

    def batch() -> None:
        for partition, (lo, hi) in enumerate(runs):
            messages: list[dict[str, Any]] = [{"value": v} for v in values[lo : hi - 1]]
            messages.append({"value": values[hi - 1], "callback": report})
            producer.produce_batch(topic, messages, partition=partition)

    variants: list[tuple[str, Callable[[], None]]] = [("produce() loop", loop), ("produce_batch", batch)]
    for name, work in variants * 2:  # twice each, interleaved: the second round is warm
        producer.flush(60)
        thread0, process0 = time.thread_time(), time.process_time()
        for _ in range(rounds):
            work()
            producer.poll(0)
        thread1 = time.thread_time()
        producer.flush(60)
        process1 = time.process_time()
        records = rounds * BATCH
        print(
            f"produce  {name:15s} calling thread {1e6 * (thread1 - thread0) / records:5.2f} µs/record, "
            f"process incl. librdkafka {1e6 * (process1 - process0) / records:5.2f} µs/record"
        )


def bench_consume(bootstrap: str, records: int = 400_000) -> None:
    topic = new_topic(bootstrap, "consume")
    conf = {"bootstrap.servers": bootstrap, "linger.ms": 5, "queue.buffering.max.messages": 2_000_000}
    producer = Producer(conf)
    value = os.urandom(350)
    for i in range(records):
        while True:
            try:
                producer.produce(topic, value, None, i % PARTITIONS)
                break
            except BufferError:
                producer.poll(0.01)
    producer.flush(60)
    consumer_conf = KafkaSettings(bootstrap).consumer_config(f"consume-{os.getpid()}", "bench")
    consumer_conf.pop("debug", None)
    consumer = KafkaConsumer(consumer_conf, [topic])
    got, spent, started = 0, 0.0, False
    while got < records:
        t0 = time.thread_time()
        batches = consumer._consume(BATCH, 1.0)
        n = sum(len(b.offsets) for b in batches)
        if n and not started:  # the group join and first fetch are not the per-record cost
            started, n = True, 0
            continue
        spent += time.thread_time() - t0
        got += n
        if started and not n:
            break
    consumer._rd.close()
    per_record = 1e6 * spent / max(got, 1)
    print(f"consume  KafkaConsumer._consume  {per_record:5.2f} µs/record on the polling thread "
          f"({got:,} records)")


def bench_latency(bootstrap: str, extra: dict[str, str], count: int = 5000) -> None:
    topic = new_topic(bootstrap, "latency")
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1, "enable.idempotence": True, **extra})
    consumer_conf = {"bootstrap.servers": bootstrap, "group.id": topic, "auto.offset.reset": "earliest",
                     "fetch.wait.max.ms": 100, **extra}
    from confluent_kafka import Consumer

    consumer = Consumer(consumer_conf)
    assigned = threading.Event()
    consumer.subscribe([topic], on_assign=lambda _consumer, _partitions: assigned.set())
    latencies: list[float] = []
    stop = threading.Event()

    def consume() -> None:
        while not stop.is_set():
            for msg in consumer.consume(100, 0.05):
                if msg.error() is None:
                    latencies.append(time.time() - struct.unpack("<d", msg.value()[:8])[0])

    def serve_reports() -> None:
        while not stop.is_set():
            producer.poll(0.05)

    threads = [threading.Thread(target=consume), threading.Thread(target=serve_reports)]
    for thread in threads:
        thread.start()
    if not assigned.wait(30):  # records sent before the group join would wait for it
        raise RuntimeError("the latency consumer got no partitions within 30 s")
    time.sleep(1)
    start = time.perf_counter()
    for i in range(count):
        delay = start + i / 1000 - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        producer.produce(topic, struct.pack("<d", time.time()) + bytes(300), None, i % PARTITIONS)
    time.sleep(2)
    stop.set()
    for thread in threads:
        thread.join()
    consumer.close()
    ordered = sorted(latencies)
    q = lambda f: 1000 * ordered[int(f * (len(ordered) - 1))]  # noqa: E731
    name = ",".join(f"{k}={v}" for k, v in extra.items()) or "librdkafka defaults"
    print(f"latency  {name:30s} 1,000 records/s: p50 {q(0.5):6.2f}  p99 {q(0.99):6.2f}  max {q(1.0):6.2f} ms")


def fraud_results(count: int) -> list[bytes]:
    from inferstream.apps.fraud.data import load_transactions
    from inferstream.tensors.avro import ModelResultMetadata, StackedTensor, encode_serving_results

    features = load_transactions(SAMPLE).features.astype(np.float32)
    rng = random.Random(1)
    payloads: list[bytes] = []
    while len(payloads) < count:  # one model call per chunk, as model-serving writes them
        rows = features[rng.randrange(0, len(features) - 300) :][: rng.choice([8, 32, 64, 200])]
        meta = ModelResultMetadata(model_name="fraud", duration=rng.choice([3, 9, 40, 130, 300]))
        outputs = {
            "predictions": StackedTensor.uniform(rows * 0.9),
            "reconstruction_error": StackedTensor.uniform(np.ones((len(rows), 1), np.float32)),
        }
        inputs = {"transaction": StackedTensor.uniform(rows)}
        payloads.extend(encode_serving_results(inputs, outputs, meta, "fraud"))
    return payloads


def bench_decode(records: int = 20_000) -> None:
    from inferstream.serving.port_codecs import ServingResultsCodec

    payloads = fraud_results(records)
    codec = ServingResultsCodec()
    codec.decode(payloads[:500])  # learns the templates
    for size in (1, 6, 37, 68, 200, 1000):
        best = float("inf")
        for _ in range(3):
            start, at, done = time.thread_time(), 0, 0
            while done < records:
                chunk = payloads[at : at + size]
                at = (at + size) % (len(payloads) - size)
                codec.decode(chunk)
                done += len(chunk)
            best = min(best, (time.thread_time() - start) / done)
        per_record = 1e6 * best
        print(f"decode   ServingResults, batches of {size:5d}: {per_record:7.2f} µs/record, "
              f"{per_record * size:8.1f} µs/call")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", help="an already running broker (default: start one)")
    parts = ["produce", "consume", "latency", "decode"]
    parser.add_argument("--skip", action="append", default=[], choices=parts, help="leave a part out")
    args = parser.parse_args()
    print(describe_machine(), "| load", " ".join(f"{x:.1f}" for x in os.getloadavg()))
    if "decode" not in args.skip:
        bench_decode()
    kafka_parts = {"produce", "consume", "latency"} - set(args.skip)
    if not kafka_parts:
        return
    with ExitStack() as stack:
        bootstrap = args.bootstrap
        if bootstrap is None:
            broker = start_broker()
            stack.callback(broker.stop)
            bootstrap = broker.bootstrap_servers
        if "produce" in kafka_parts:
            bench_produce(bootstrap)
        if "consume" in kafka_parts:
            bench_consume(bootstrap)
        if "latency" in kafka_parts:
            bench_latency(bootstrap, {})
            bench_latency(bootstrap, {"socket.nagle.disable": "true"})


if __name__ == "__main__":
    main()
