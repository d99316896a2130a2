"""The harness's own view of the broker: it creates the topics, feeds the input, watches every topic's
end offsets and every group's lag while a mode runs, and reads the outputs back afterwards.

It talks to Kafka directly (confluent-kafka), not through inferstream's transport, so the thing
measured does not measure itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from inferstream.bench.records import read_tag
from inferstream.observability.tracing import ingress_headers


class BrokerProbeError(RuntimeError):
    """Creating topics, producing or reading back failed; the message names the topic."""


def create_topics(
    bootstrap: str, input_topics: Sequence[str], derived_topics: Sequence[str], partitions: int
) -> None:
    """Create the topics of a run before the pipeline does (it leaves existing ones alone).

    Derived topics stamp records with the broker's append time: a record's timestamp is then when
    it became readable downstream, whatever timestamp the producing stage chose to copy.
    """
    admin = AdminClient({"bootstrap.servers": bootstrap})
    specs = [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in input_topics]
    specs += [
        NewTopic(
            t,
            num_partitions=partitions,
            replication_factor=1,
            config={"message.timestamp.type": "LogAppendTime"},
        )
        for t in derived_topics
    ]
    for topic, future in admin.create_topics(specs, operation_timeout=30).items():
        try:
            future.result(timeout=60)
        except KafkaException as exc:
            raise BrokerProbeError(f"could not create topic {topic}: {exc}") from exc


class Feeder:
    """The harness's ingress: one producer writing tagged records to the input topic.

    When tracing is on in this process (a traced mode) it samples records as an ingress does: a
    sampled record gets a ``bench-ingress produce`` span and its ``traceparent`` header.
    """

    def __init__(self, bootstrap: str, topic: str, make_value: Callable[[int], bytes]) -> None:
        self.topic = topic
        self.make_value = make_value
        self.failures: list[str] = []
        self.sampled = 0  # records sent with trace context
        self.producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "linger.ms": 2,
                "batch.num.messages": 10000,
                "queue.buffering.max.messages": 1_000_000,
                "queue.buffering.max.kbytes": 1_048_576,
            }
        )

    def _on_delivery(self, err: object, _msg: object) -> None:
        if err is not None:
            self.failures.append(str(err))

    def send(self, first_seq: int, count: int, rate: float | None = None) -> npt.NDArray[np.float64]:
        """Produce ``count`` records, at full speed or at ``rate`` records/s; returns their times (s)."""
        times = np.empty(count, dtype=np.float64)
        started = time.time()
        chunk = 500 if rate is None else max(1, int(rate / 200))  # paced in 5 ms steps
        for base in range(0, count, chunk):
            if rate is not None:
                delay = started + base / rate - time.time()
                if delay > 0:
                    time.sleep(delay)
            end = min(base + chunk, count)
            traced = ingress_headers("bench-ingress", self.topic, end - base)  # None: tracing off / none
            for i in range(base, end):
                value = self.make_value(first_seq + i)
                record_headers = None if traced is None else traced[i - base]
                headers: list[tuple[str, str | bytes | None]] | None = (
                    None if record_headers is None else list(record_headers)
                )
                self.sampled += headers is not None
                times[i] = time.time()
                while True:
                    try:
                        self.producer.produce(
                            self.topic, value, headers=headers, on_delivery=self._on_delivery
                        )
                        break
                    except BufferError:
                        self.producer.poll(0.01)
            self.producer.poll(0)
        return times

    def flush(self, timeout: float = 60.0) -> None:
        remaining = self.producer.flush(timeout)
        if remaining or self.failures:
            raise BrokerProbeError(
                f"{self.topic}: {remaining} records unsent, {len(self.failures)} failed: {self.failures[:3]}"
            )


def produce(
    bootstrap: str,
    topic: str,
    make_value: Callable[[int], bytes],
    first_seq: int,
    count: int,
    rate: float | None = None,
) -> npt.NDArray[np.float64]:
    """Produce ``count`` records and wait for their acks; returns produce times (s)."""
    feeder = Feeder(bootstrap, topic, make_value)
    times = feeder.send(first_seq, count, rate)
    feeder.flush()
    return times


@dataclass
class Sample:
    """One look at the broker: seconds since the run started, end offsets per topic, lag per group."""

    t: float
    ends: dict[str, int]
    lag: dict[str, int]


@dataclass
class OffsetWatcher:
    """Samples end offsets and group lag in a background thread every ``interval`` seconds."""

    bootstrap: str
    topics: Sequence[str]
    groups: Mapping[str, Sequence[str]]  # group → the topics it reads
    interval: float = 0.5
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _started: float = 0.0

    def start(self) -> OffsetWatcher:
        self._consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": "inferstream-bench-watcher",
                "enable.auto.commit": False,
            }
        )
        self._lag_consumers = {
            g: Consumer({"bootstrap.servers": self.bootstrap, "group.id": g, "enable.auto.commit": False})
            for g in self.groups
        }
        self._partitions = {t: self._partition_ids(t) for t in self.topics}
        self._started = time.time()
        self._thread = threading.Thread(target=self._loop, name="offset-watcher", daemon=True)
        self._thread.start()
        return self

    def _partition_ids(self, topic: str) -> list[int]:
        meta = self._consumer.list_topics(topic, timeout=10)
        return sorted(meta.topics[topic].partitions) if topic in meta.topics else []

    def ends(self) -> dict[str, int]:
        """The number of records on each topic now (sum of its partitions' end offsets)."""
        result = {}
        for topic, parts in self._partitions.items():
            total = 0
            for p in parts:
                _low, high = self._consumer.get_watermark_offsets(
                    TopicPartition(topic, p), timeout=5, cached=False
                )
                total += high
            result[topic] = total
        return result

    def lag(self, ends: Mapping[str, int]) -> dict[str, int]:
        result = {}
        for group, topics in self.groups.items():
            tps = [TopicPartition(t, p) for t in topics for p in self._partitions.get(t, [])]
            try:
                committed = self._lag_consumers[group].committed(tps, timeout=5)
            except KafkaException:
                continue
            done = sum(max(tp.offset, 0) for tp in committed)
            result[group] = sum(ends.get(t, 0) for t in topics) - done
        return result

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                ends = self.ends()
                self.samples.append(Sample(time.time() - self._started, ends, self.lag(ends)))
            except KafkaException:
                pass  # one missed sample; the next one counts
            self._stop.wait(self.interval)

    def latest(self) -> Sample | None:
        return self.samples[-1] if self.samples else None

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for consumer in (self._consumer, *self._lag_consumers.values()):
            consumer.close()


@dataclass
class TopicRead:
    """Tags, broker timestamps (s) and positions of the records on one topic."""

    seqs: npt.NDArray[np.int64]
    times: npt.NDArray[np.float64]
    untagged: int
    values_sample: list[bytes]
    partitions: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    offsets: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))


def read_topic(bootstrap: str, topic: str, sample_values: int = 0, timeout: float = 120.0) -> TopicRead:
    """Every record on ``topic`` (up to its current end), keeping tags, timestamps and a few raw values."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"inferstream-bench-reader-{time.time_ns()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=10)
        if topic not in meta.topics:
            raise BrokerProbeError(f"topic {topic} does not exist")
        parts = [TopicPartition(topic, p, 0) for p in meta.topics[topic].partitions]
        ends = {p.partition: consumer.get_watermark_offsets(p, timeout=10)[1] for p in parts}
        total = sum(ends.values())
        consumer.assign([p for p in parts if ends[p.partition] > 0])
        seqs: list[int] = []
        times: list[float] = []
        positions: list[tuple[int, int]] = []
        untagged = 0
        sample: list[bytes] = []
        every = max(1, total // sample_values) if sample_values else 0
        seen = 0
        # A long saturated run leaves millions of records: allow at least 20,000 read per second.
        timeout = max(timeout, total / 20_000)
        deadline = time.monotonic() + timeout
        assigned = [p for p in parts if ends[p.partition] > 0]
        reached = not assigned
        # Done when every partition's position passed its end: transaction markers (exactly-once
        # pipelines) take offsets too, so counting records would never reach the end offsets.
        while not reached and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=10000, timeout=1.0):
                if msg.error() is not None:
                    continue
                offset, partition = msg.offset(), msg.partition()
                if offset is None or partition is None or offset >= ends[partition]:
                    continue
                seen += 1
                value = msg.value() or b""
                seq = read_tag(value)
                if seq is None:
                    untagged += 1
                    continue
                seqs.append(seq)
                times.append(msg.timestamp()[1] / 1000.0)
                positions.append((partition, offset))
                if every and seen % every == 0:
                    sample.append(value)
            reached = all(q.offset >= ends[q.partition] for q in consumer.position(assigned))
        if not reached:
            raise BrokerProbeError(f"{topic}: read {seen} of {total} records within {timeout:.0f} s")
        where = np.asarray(positions, dtype=np.int64).reshape(-1, 2)
        return TopicRead(
            np.asarray(seqs, dtype=np.int64), np.asarray(times, dtype=np.float64), untagged, sample,
            where[:, 0].astype(np.int32), where[:, 1],
        )
    finally:
        consumer.close()
