"""Development tooling: a local single-node Kafka broker for tests, benchmarks, ``make demo`` and
``inferstream kafka``. Not part of the streaming path: no runtime module imports it."""

from inferstream.devtools.kafka_broker import KafkaBroker, start_broker
from inferstream.devtools.kafka_install import KafkaBrokerError, install_kafka

__all__ = ["KafkaBroker", "KafkaBrokerError", "install_kafka", "start_broker"]
