"""Settings of the Kafka transport: connection settings shared by every client, plus per-role overrides.

Any librdkafka setting passes through unchanged (SASL, SSL, timeouts...). A flat mapping, as it
comes from a conf file or ``--conf``, is split by prefix::

    KafkaSettings.from_mapping({
        "bootstrap.servers": "broker:9093",
        "security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN",          # every client
        "sasl.username": "svc", "sasl.password": "...",
        "producer.linger.ms": "10", "producer.compression.type": "lz4",      # the producers only
        "consumer.session.timeout.ms": "6000",                              # the consumers only
    })
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from inferstream.transports.kafka_log import DEBUG_CONTEXTS
from inferstream.transports.kafka_log import install as install_broker_state_filter

ConfigValue = str | int | float | bool

#: Producer defaults: batching for throughput, idempotence so retries keep per-partition order.
PRODUCER_DEFAULTS: dict[str, ConfigValue] = {
    "enable.idempotence": True,  # implies acks=all and ordered, de-duplicated retries
    # A failure that could leave a gap in a partition is fatal instead of silently skipped: the
    # producer then needs only one delivery report per partition run (see kafka_producer).
    "enable.gapless.guarantee": True,
    # Never give up on a record (the gapless guarantee does not cover timeouts): while the broker is
    # away, records wait in the queue, a full queue makes send() wait, and nothing is committed.
    "message.timeout.ms": 0,
    # The runtime hands over whole batches, so waiting for more fills little and costs every hop its
    # wait (5 ms was ~5 ms of each stage's p50 in the bench's breakdown); 1 ms still groups what one
    # emit produces. Throughput-minded deployments may raise it (transports.kafka.producer.linger.ms).
    "linger.ms": 1,
    "batch.num.messages": 10000,
    "batch.size": 1_000_000,
    "queue.buffering.max.messages": 200_000,
    "compression.type": "none",
    # Keyed records land where Java clients (Kafka Streams, Cloudflow) would put them.
    "partitioner": "murmur2_random",
}

#: Consumer defaults: the runtime commits explicit, acknowledged positions; nothing automatic.
CONSUMER_DEFAULTS: dict[str, ConfigValue] = {
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    "auto.offset.reset": "earliest",
    "enable.partition.eof": False,
    # Cooperative rebalancing moves only the partitions that change owner when instances come and go.
    "partition.assignment.strategy": "cooperative-sticky",
    # A killed instance's partitions move on after 10 s instead of librdkafka's 45 s.
    "session.timeout.ms": 10_000,
    "heartbeat.interval.ms": 2_000,
    "fetch.wait.max.ms": 100,
    # librdkafka prefetches up to 64 MiB per consumer by default: a stage that falls behind its
    # input grew by that much (RSS +36-53 % over a 10-minute saturated bench). 8 MiB is still ~20,000
    # fraud-sized records, about a second of a stage's work. Raise per role
    # (transports.kafka.consumer.queued.max.messages.kbytes) for far-away brokers.
    "queued.max.messages.kbytes": 8192,
    # While the queue is over that bound, librdkafka postpones the partition's next fetch by this
    # (1 s by default: a lower bound could then drain the queue and idle the stage).
    "fetch.queue.backoff.ms": 20,
}

_ROLES = ("producer", "consumer", "admin")


class _DropKnownNoise(logging.Filter):
    # librdkafka warns at every start that the gapless guarantee is "experimental"; we chose it.
    def filter(self, record: logging.LogRecord) -> bool:
        return "enable.gapless.guarantee is experimental" not in record.getMessage()


#: librdkafka's own log lines go through Python logging (timestamps, per-instance prefixes).
LIBRDKAFKA_LOG = logging.getLogger("inferstream.kafka.librdkafka")
LIBRDKAFKA_LOG.addFilter(_DropKnownNoise())
install_broker_state_filter(LIBRDKAFKA_LOG)  # a broker down or back: one line each, not one per retry


@dataclass(frozen=True)
class KafkaSettings:
    """Where the brokers are and how each kind of client is configured."""

    bootstrap_servers: str = "127.0.0.1:9092"
    client: Mapping[str, ConfigValue] = field(default_factory=dict)  # every client (SASL, SSL...)
    producer: Mapping[str, ConfigValue] = field(default_factory=dict)
    consumer: Mapping[str, ConfigValue] = field(default_factory=dict)
    admin: Mapping[str, ConfigValue] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, conf: Mapping[str, Any]) -> KafkaSettings:
        """Split a flat ``{librdkafka key: value}`` mapping; ``producer.``/``consumer.``/``admin.`` prefixes
        target one kind of client, everything else goes to all of them."""
        per_role: dict[str, dict[str, ConfigValue]] = {role: {} for role in _ROLES}
        client: dict[str, ConfigValue] = {}
        bootstrap = "127.0.0.1:9092"
        for key, value in conf.items():
            role, _, rest = key.partition(".")
            if role in per_role and rest:
                per_role[role][rest] = _scalar(key, value)
            elif key == "bootstrap.servers":
                bootstrap = str(value)
            else:
                client[key] = _scalar(key, value)
        return cls(bootstrap, client, per_role["producer"], per_role["consumer"], per_role["admin"])

    def _common(self) -> dict[str, Any]:
        # debug=broker: the broker-state filter learns from those lines when a broker is back
        common = {"bootstrap.servers": self.bootstrap_servers, "logger": LIBRDKAFKA_LOG}
        return {**common, "debug": DEBUG_CONTEXTS, **self.client}

    def producer_config(self, client_id: str) -> dict[str, Any]:
        return {**PRODUCER_DEFAULTS, **self._common(), "client.id": client_id, **self.producer}

    def consumer_config(self, group: str, client_id: str) -> dict[str, Any]:
        identity = {"group.id": group, "client.id": client_id}
        return {**CONSUMER_DEFAULTS, **self._common(), **identity, **self.consumer}

    def admin_config(self) -> dict[str, Any]:
        return {**self._common(), **self.admin}


def _scalar(key: str, value: Any) -> ConfigValue:
    if isinstance(value, str | int | float | bool):
        return value
    raise ValueError(f"Kafka setting {key}: expected a string, number or boolean, got {type(value).__name__}")
