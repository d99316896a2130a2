"""Fixtures of the fault suite: a fraud model trained here, card transactions, the suite's own broker,
one model server shared by the cases, a results table.

Setup is made so that one slow or broken moment cannot error every case: a failure in a session
fixture is cached by pytest and raised again for every test that uses it (in a CI-ordered full run all
seven cases once errored in setup). So the broker is started with a generous bound and is checked,
restarted if dead and warmed up *per case* (cheap when it is fine); the model server is shared but
started again for a case that finds it dead; the processes a case starts get an environment without
the OTEL_* / INFERSTREAM_* variables an earlier suite may have leaked (:func:`fault_rig.clean_env`).
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parent))  # fault_rig, beside this file

from fault_rig import ModelServerProcess

from inferstream.devtools.kafka_broker import KafkaBroker, start_broker

RESULTS = Path(__file__).resolve().parents[2] / ".cache" / "faults" / "results.jsonl"
WARM_UP_TOPIC = "faults-warm-up"


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """The fault suite's own broker (overrides the shared one here): it kills and restarts it, and what
    earlier suites left on the shared broker must not decide this suite's setup. The start is bounded
    generously: after long suites the machine can be loaded enough for a JVM to take minutes."""
    broker = start_broker(data_dir=tmp_path_factory.mktemp("fault-broker"), heap="512m", timeout=240)
    try:
        yield broker
    finally:
        broker.stop()


def _wait_for_groups(broker: KafkaBroker, timeout: float) -> None:
    """Return once a new consumer group on ``broker`` gets a partition: the group coordinator is loaded.
    A fresh group each time, so no member left over from an earlier call can hold the rebalance up."""
    bootstrap = broker.bootstrap_servers
    deadline = time.monotonic() + timeout
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(WARM_UP_TOPIC, 1, 1)]).values():
        try:
            future.result(timeout)
        except Exception as exc:  # it exists already (an earlier case made it): fine
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"faults-warm-up-{uuid.uuid4().hex[:8]}",
                         "session.timeout.ms": 6000})  # fmt: skip
    try:
        consumer.subscribe([WARM_UP_TOPIC])
        while not consumer.assignment():
            if time.monotonic() > deadline:
                state = f"running: {broker.is_running()}; log tail:\n{broker.log_tail()}"
                raise TimeoutError(f"{bootstrap} served no consumer group within {timeout:.0f} s ({state})")
            consumer.poll(0.2)
    finally:
        consumer.close()


_WARM: set[int] = set()  # broker pids whose group coordinator served a group already


@pytest.fixture
def fault_bootstrap(kafka_broker: KafkaBroker) -> str:
    """The suite's broker, up and serving consumer groups, checked before each case: a case that left it
    dead (the broker case, failing) must not fail the cases after it, and a slow coordinator is waited
    out per case instead of being cached as one setup error for all. A broker process already warmed
    up costs nothing more; a restarted one (new pid) is warmed up again."""
    if not kafka_broker.is_running():
        kafka_broker.restart(timeout=240)
    if kafka_broker.pid not in _WARM:
        _wait_for_groups(kafka_broker, timeout=180)
        _WARM.add(kafka_broker.pid)
    return kafka_broker.bootstrap_servers


@pytest.fixture(scope="session")
def shared_server(
    fraud_models: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModelServerProcess]:
    """One ``inferstream serve`` on fixed loopback ports for the whole suite (a start costs seconds)."""
    served = ModelServerProcess({"fraud": fraud_models}, tmp_path_factory.mktemp("fault-serve") / "serve.log")
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture
def server(shared_server: ModelServerProcess) -> ModelServerProcess:
    """The shared model server, (re)started when it does not run (first use, or a case killed it)."""
    if not shared_server.running():
        shared_server.start()
    return shared_server


@pytest.fixture(scope="session")
def results_table() -> Iterator[list[dict[str, Any]]]:
    """Rows of docs/reliability.md's table, written to .cache/faults/results.jsonl at the end."""
    rows: list[dict[str, Any]] = []
    yield rows
    if rows:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as out:
            for row in rows:
                out.write(json.dumps(row) + "\n")
