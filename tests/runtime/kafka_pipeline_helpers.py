"""Helpers of the Kafka pipeline tests: blueprints, ``inferstream run`` processes, reading topics back."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from inferstream.transports.kafka import BOOTSTRAP_ENV, KafkaTransport


def write_blueprint(
    folder: Path, *, count: int, rate: float, doublers: int, output: Path
) -> tuple[str, Path]:
    """numbered source -> doubler xN -> collecting sink; a unique app name so topics never collide."""
    app = f"numbers-{uuid.uuid4().hex[:8]}"
    path = folder / f"{app}.yaml"
    path.write_text(
        f"""name: {app}
streamlets:
  source:
    class: inferstream.apps.examples:NumberedIngress
    config: {{count: {count}, batch-size: 50, rate: {rate}}}
  double:
    class: inferstream.apps.examples:Doubler
    instances: {doublers}
  sink:
    class: inferstream.apps.examples:CollectingEgress
    config: {{output-file: "{output}"}}
connections:
  source.out: [double.in]
  double.out: [sink.in]
"""
    )
    return app, path


# Kill-test friendly group timeouts (the local broker allows sessions down to 1 s).
FAST_GROUP_CONF = [
    "--conf", "transports.kafka.consumer.session.timeout.ms=3000",
    "--conf", "transports.kafka.consumer.heartbeat.interval.ms=500",
]


def inferstream_run(
    args: list[str], bootstrap: str, log: Path, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``inferstream run ARGS`` as a child process (its own process group), output to ``log``."""
    env = {**os.environ, BOOTSTRAP_ENV: bootstrap, **(extra_env or {})}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "inferstream.cli.main", "run", *args, "--no-progress"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes], timeout: float = 40) -> int:
    """SIGTERM (clean drain) and wait; SIGKILL the process group if it hangs. Returns the exit code."""
    return stop_all([process], timeout)[0]


def stop_all(processes: list[subprocess.Popen[bytes]], timeout: float = 40) -> list[int]:
    """SIGTERM every running process at once (one signal each: a second one aborts the drain), then
    wait; a process group still there after ``timeout`` is SIGKILLed."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    return [process.returncode for process in processes]


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def read_numbers(path: Path) -> list[int]:
    if not path.is_file():
        return []
    numbers = []
    for line in path.read_text().splitlines():
        if line.strip():
            numbers.append(int(json.loads(line)["n"]))
    return numbers


def group_assignment(bootstrap: str, group: str) -> dict[str, set[int]]:
    """Member client id -> partitions it owns now, from the broker's view of the consumer group."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    description = admin.describe_consumer_groups([group])[group].result(timeout=20)
    members: dict[str, set[int]] = {}
    for member in description.members:
        owned = member.assignment.topic_partitions if member.assignment else []
        members[member.member_id] = {tp.partition for tp in owned}
    return members


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 30) -> list[bytes]:
    """Every record of ``topic`` (a fresh consumer group from the beginning), at least ``expected``."""

    async def scenario() -> list[bytes]:
        transport = KafkaTransport(bootstrap)
        consumer = transport.consumer(f"reader-{uuid.uuid4().hex[:8]}", [topic], "reader")
        values: list[bytes] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(values) < expected and loop.time() < deadline:
            for batch in await consumer.poll(500, 0.2):
                values.extend(batch.values)
        await consumer.close()
        return values

    return asyncio.run(scenario())


def summary(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data
