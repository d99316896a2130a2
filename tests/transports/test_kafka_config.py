"""The consumer defaults of the Kafka transport against the real broker: a bounded prefetch queue."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from confluent_kafka import Consumer as RdConsumer
from confluent_kafka import Producer as RdProducer
from confluent_kafka.admin import AdminClient, NewTopic

from inferstream.transports.kafka_config import CONSUMER_DEFAULTS, KafkaSettings

pytestmark = pytest.mark.kafka  # needs the session's Kafka broker (tests/conftest.py)

MIB = 1 << 20
BACKLOG_MIB = 24  # three times the default bound, well under librdkafka's own 64 MiB


def _fill(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result(30)
    producer = RdProducer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    value = bytes(1000)
    for _ in range(BACKLOG_MIB * MIB // len(value)):
        while True:
            try:
                producer.produce(topic, value)
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(60) == 0


def _largest_prefetch(bootstrap: str, topic: str, overrides: dict[str, Any]) -> int:
    """Bytes librdkafka held fetched ahead for the partition (the most its statistics showed) while
    the application took a record now and then, as a stage that falls behind does."""
    seen: list[int] = []

    def stats(text: str) -> None:
        for partitions in (t["partitions"] for t in json.loads(text)["topics"].values()):
            seen.extend(int(p["fetchq_size"]) for key, p in partitions.items() if key != "-1")

    settings = KafkaSettings.from_mapping({"bootstrap.servers": bootstrap, **overrides})
    conf = settings.consumer_config(f"prefetch-{uuid.uuid4().hex[:8]}", "c")
    consumer = RdConsumer({**conf, "statistics.interval.ms": 200, "stats_cb": stats})
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            consumer.consume(1, 0.2)  # serves the statistics callback; takes one record at most
            time.sleep(0.05)  # a slow stage: ~20 records/s against a 24,000-record backlog
    finally:
        consumer.close()
    assert seen, "librdkafka reported no statistics"
    return max(seen)


@pytest.mark.slow  # ~20 s: a 24 MiB backlog, two consumers watched for 8 s each
def test_the_prefetch_queue_is_bounded_by_default_and_the_bound_is_a_setting(bootstrap: str) -> None:
    topic = f"prefetch-{uuid.uuid4().hex[:8]}"
    _fill(bootstrap, topic)
    bound = int(CONSUMER_DEFAULTS["queued.max.messages.kbytes"]) * 1024
    bounded = _largest_prefetch(bootstrap, topic, {})
    # one fetch response (max.partition.fetch.bytes, 1 MiB) may land on top of the bound
    assert 0 < bounded <= bound + 2 * MIB
    wide = _largest_prefetch(bootstrap, topic, {"consumer.queued.max.messages.kbytes": 65536})
    assert wide > bound + 4 * MIB  # librdkafka's own default would hold most of the backlog
