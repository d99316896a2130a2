"""A real single-node Kafka broker (KRaft) for the whole test session, on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from inferstream.transports.kafka_broker import KafkaBroker, start_broker


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.kafka)


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    # Installs the jars from Maven Central on first use (idempotent), so no test skips without Kafka.
    broker = start_broker(data_dir=tmp_path_factory.mktemp("kafka-broker"), heap="512m")
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def bootstrap(kafka_broker: KafkaBroker) -> str:
    return kafka_broker.bootstrap_servers
