"""Wait until a new Kafka broker's group coordinator is loaded, before a pipeline uses groups.

A fresh broker answers group requests with COORDINATOR_LOAD_IN_PROGRESS for a while, and
librdkafka's admin consumer-group-offsets request (the Kafka transport's ``lag()``) crashed the
process on that answer here (confluent-kafka 2.16.1). A consumer joining a group first waits the
load out safely. Belongs with the broker helper once it waits for this itself.
"""

from __future__ import annotations

import time

from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

WARM_UP = "inferstream-warm-up"


def wait_for_group_coordinator(bootstrap: str, timeout: float = 60.0) -> None:
    """Return once a consumer group on ``bootstrap`` gets partitions; TimeoutError otherwise."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(WARM_UP, 1, 1)]).values():
        future.result(timeout)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": WARM_UP})
    try:
        consumer.subscribe([WARM_UP])
        deadline = time.monotonic() + timeout
        while not consumer.assignment():
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the Kafka group coordinator of {bootstrap} did not come up in {timeout:.0f} s"
                )
            consumer.poll(0.2)
    finally:
        consumer.close()
