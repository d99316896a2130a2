"""The fault suite's rig: the fraud pipeline over Kafka against ``inferstream serve``, with tagged records.

The test plays the ingress: it produces SourceRequests of real card transactions, each tagged
with a sequence number (``inferstream.bench.records``), onto the pipeline's input topic. The
pipeline (``inferstream run --transport kafka``: model-serving → fraud-decider → counters, one
supervised process per instance) scores them against model servers started here on fixed
loopback ports, so a killed server can come back on the same port. The test then reads the
decider's normal / fraud / error topics (read_committed) and counts tags: lost = produced tags
never seen, duplicates = tags seen more than once.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

from inferstream.bench.records import read_tag, source_request_prefix, tag
from inferstream.devtools.kafka_broker import free_port
from inferstream.transports.kafka import BOOTSTRAP_ENV

OUTLETS = ("normal", "fraud", "error")
# The counters only drain the decider's topics (the test reads those itself): one process for the three
# saves two process starts per case; model-serving and the decider, which the cases kill, keep their own.
COUNTERS_TOGETHER = ["--colocate", ",".join(f"{outlet}-counter" for outlet in OUTLETS)]
FAST_GROUP_CONF = [
    "--conf", "transports.kafka.consumer.session.timeout.ms=3000",
    "--conf", "transports.kafka.consumer.heartbeat.interval.ms=500",
]  # fmt: skip


def _inferstream() -> list[str]:
    return [sys.executable, "-m", "inferstream.cli.main"]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the OTEL_* and INFERSTREAM_* variables an earlier test may have
    left set (tracing to a gone collector, another broker), plus ``extra``: the suite's processes see
    only what it sets."""
    leaked = ("OTEL_", "INFERSTREAM_")
    return {**{k: v for k, v in os.environ.items() if not k.startswith(leaked)}, **extra}


class ModelServerProcess:
    """``inferstream serve`` on fixed ports of 127.0.0.1: kill -9 it, start it again on the same ports.

    ``host`` and ``prefix`` put it elsewhere: e.g. on a network namespace's address, launched under
    ``ip netns exec`` (tests/deploy/test_multi_host.py)."""

    def __init__(self, models: dict[str, Path], log: Path, host: str = "127.0.0.1",
                 prefix: Sequence[str] = ()) -> None:  # fmt: skip
        self.models = models
        self.log = log
        self.host = host
        self.prefix = list(prefix)
        self.rest_port, self.grpc_port = free_port(), free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.started_once = False  # its ports are fixed from the first start on (restarts keep them)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def target(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    def start(self, timeout: float = 120) -> None:
        ready = self.log.with_suffix(".ready.json")
        ready.unlink(missing_ok=True)
        ports = ["--host", self.host, "--port", str(self.rest_port), "--grpc-port", str(self.grpc_port)]
        command = [*self.prefix, *_inferstream(), "serve", *ports, "--ready-file", str(ready)]
        for name, path in self.models.items():
            command += ["--model", f"{name}={path}"]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=clean_env())
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if self.process.poll() is not None and not self.started_once and not self.prefix:
                # a port taken since free_port() chose it: once, on new ports (no target is fixed yet)
                self.started_once = True
                self.rest_port, self.grpc_port = free_port(), free_port()
                self.start(timeout)
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"inferstream serve did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        self.started_once = True
        took = time.monotonic() - deadline + timeout
        print(f"[faults] inferstream serve on {self.target} ready after {took:.1f} s")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Outputs:
    """What came out of the decider: tag → times seen, per outlet, and when records arrived."""

    seen: Counter[int] = field(default_factory=Counter)
    per_outlet: Counter[str] = field(default_factory=Counter)
    arrivals: list[float] = field(default_factory=list)  # monotonic time of each record
    error_values: list[bytes] = field(default_factory=list)

    def lost(self, produced: int) -> int:
        return sum(1 for seq in range(produced) if seq not in self.seen)

    @property
    def duplicates(self) -> int:
        return sum(self.seen.values()) - len(self.seen)

    def longest_gap(self, after: float) -> float:
        """The longest pause between output records after ``after``: the time to recover."""
        times = [after, *sorted(t for t in self.arrivals if t >= after)]
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


class FraudPipeline:
    """Topics, blueprint and the ``inferstream run`` process of one fault case."""

    def __init__(
        self, folder: Path, bootstrap: str, targets: list[str], model_dir: Path,
        extra_args: list[str] | None = None, serving: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        self.folder = folder
        self.bootstrap = bootstrap
        self.app = f"faults-{uuid.uuid4().hex[:8]}"
        self.input = f"{self.app}.input"
        self.topics = {o: f"{self.app}.{o}" for o in OUTLETS}
        self.dead_letters = f"{self.app}.dead-letters"
        self.blueprint = folder / f"{self.app}.yaml"
        config = {"protocol": "tfserving", "transport": "grpc", "target": ",".join(targets), "model": "fraud",
                  "timeout": "2 seconds", **(serving or {})}  # fmt: skip
        streamlets: dict[str, Any] = {
            "model-serving": {"class": "inferstream.serving:ModelServing", "config": config},
            "fraud-decider": {"class": "inferstream.apps.fraud.decider:FraudDecider",
                              "config": {"threshold-from": str(model_dir)}},
        }  # fmt: skip
        topics: dict[str, Any] = {
            self.input: {"consumers": ["model-serving.in"]},
            f"{self.app}.results": {"producers": ["model-serving.out"], "consumers": ["fraud-decider.in"]},
        }
        for outlet in OUTLETS:
            streamlets[f"{outlet}-counter"] = {"class": "inferstream.apps.common.egress:CountingEgress"}
            topics[self.topics[outlet]] = {"producers": [f"fraud-decider.{outlet}"],
                                           "consumers": [f"{outlet}-counter.in"]}  # fmt: skip
        self.blueprint.write_text(yaml.safe_dump(
            {"name": self.app, "streamlets": streamlets, "topics": topics, "dead-letters": self.dead_letters},
            sort_keys=False))  # fmt: skip
        self.extra_args = extra_args or []
        self.log = folder / f"{self.app}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.outputs = Outputs()
        self._reader: threading.Thread | None = None
        self._stop_reading = threading.Event()
        self.failure: BaseException | None = None  # raised in a background thread of the test

    # -- the pipeline process ---------------------------------------------------------------------
    def start(self) -> None:
        env = clean_env(**{BOOTSTRAP_ENV: self.bootstrap})
        command = [*_inferstream(), "run", str(self.blueprint), "--transport", "kafka",
                   "--summary-json", str(self.folder / f"{self.app}.summary.json"),
                   "--no-progress", *FAST_GROUP_CONF, *COUNTERS_TOGETHER, *self.extra_args]  # fmt: skip
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                            start_new_session=True)  # fmt: skip
        self.wait_for(lambda: self.log.read_text().count(": assigned") >= 5, 180, "every consumer assigned")
        self.start_reading()

    def start_reading(self) -> None:
        """Count the decider's outputs in a thread of this process (until ``stop``)."""
        self._reader = threading.Thread(target=self._read_outputs, daemon=True)
        self._reader.start()

    def instance_pid(self, instance: str) -> int:
        """The pid of a child process, e.g. ``model-serving:0`` (from /proc: its argv and parent)."""
        assert self.process is not None
        wanted = f"--instance\0{instance}\0".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                mine = _parent_of(int(entry.name)) == self.process.pid
                if mine and wanted in (entry / "cmdline").read_bytes():
                    return int(entry.name)
        raise AssertionError(f"no running instance {instance}")

    def stop(self) -> int:
        if self.process is None:  # the instances ran elsewhere (started by the test): stop reading
            self._stop_reading.set()
            if self._reader is not None:
                self._reader.join(30)
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._stop_reading.set()
        if self._reader is not None:
            self._reader.join(30)
        return self.process.returncode

    # -- records in and out -----------------------------------------------------------------------
    def produce(self, rows: np.ndarray, count: int, rate: float, start: int = 0,
                during: Callable[[int], None] | None = None,
                until: threading.Event | None = None) -> int:  # fmt: skip
        """``count`` tagged records at ``rate`` per second, fewer if ``until`` is set first (checked after
        each 100, when ``during(n)`` is called too); returns how many were produced (and delivered)."""
        producer = Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True,
                             "message.timeout.ms": 0, "linger.ms": 5})  # fmt: skip
        prefixes = [source_request_prefix(row) for row in rows]
        began, produced = time.monotonic(), 0
        for n in range(count):
            seq = start + n
            while True:
                try:
                    producer.produce(self.input, prefixes[seq % len(prefixes)] + tag(seq))
                    break
                except BufferError:
                    producer.poll(0.05)
            produced = n + 1
            if n % 100 == 99:
                producer.poll(0)
                if during is not None:
                    during(n + 1)
                ahead = began + (n + 1) / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
                if until is not None and until.is_set():
                    break
        assert producer.flush(120) == 0, "the test's own producer could not deliver"
        return produced

    def produce_raw(self, values: list[bytes]) -> None:
        producer = Producer({"bootstrap.servers": self.bootstrap})
        for value in values:
            producer.produce(self.input, value)
        assert producer.flush(60) == 0

    def _read_outputs(self) -> None:
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"{self.app}.checker",
                             "auto.offset.reset": "earliest", "isolation.level": "read_committed",
                             "enable.auto.commit": False})  # fmt: skip
        by_topic = {topic: outlet for outlet, topic in self.topics.items()}
        try:
            self._assign_from_the_start(consumer)
            while not self._stop_reading.is_set():
                for message in consumer.consume(500, 0.2):
                    if message.error() is not None:
                        continue
                    value = message.value() or b""
                    outlet = by_topic[message.topic() or ""]
                    self.outputs.per_outlet[outlet] += 1
                    self.outputs.arrivals.append(time.monotonic())
                    if outlet == "error":
                        self.outputs.error_values.append(value)
                    seq = read_tag(value)
                    if seq is not None:
                        self.outputs.seen[seq] += 1
        finally:
            consumer.close()

    def _assign_from_the_start(self, consumer: Consumer) -> None:
        """Every partition of the decider's topics from offset 0, *assigned*, not subscribed: the checker
        is in no consumer group, so a broker restart costs it no rebalance. Subscribed, it stalled for its
        45 s session after the broker case's restart and then, committing nothing, read every topic again
        from the start, counting its own re-reads as the pipeline's duplicates."""
        wanted = list(self.topics.values())
        while not self._stop_reading.is_set():
            try:
                found = consumer.list_topics(timeout=10).topics
            except KafkaException:  # the broker is away: ask again
                found = {}
            known = {t: found[t].partitions for t in wanted if t in found and found[t].error is None}
            if len(known) == len(wanted) and all(known.values()):
                consumer.assign(
                    [TopicPartition(t, p, OFFSET_BEGINNING) for t, ps in known.items() for p in ps]
                )
                return
            time.sleep(0.5)

    def read_dead_letters(self, expected: int, timeout: float = 60) -> list[dict[str, Any]]:
        from inferstream.runtime.deadletters import DEAD_LETTER_CODEC

        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"{self.app}.dl-checker",
                             "auto.offset.reset": "earliest"})  # fmt: skip
        consumer.subscribe([self.dead_letters])
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        try:
            while len(found) < expected and time.monotonic() < deadline:
                messages = [m for m in consumer.consume(100, 0.5) if m.error() is None]
                if messages:
                    letters, _ = DEAD_LETTER_CODEC.decode([m.value() or b"" for m in messages])
                    found.extend(letters)
        finally:
            consumer.close()
        return found

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process is not None and self.process.poll() is not None:
                code, tail = self.process.returncode, self.log.read_text()[-4000:]
                raise AssertionError(f"the pipeline exited ({code}) waiting for {what}:\n{tail}")
            if self.failure is not None:
                raise AssertionError(f"the test's own thread failed: {self.failure!r}") from self.failure
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout:.0f} s\n{self.log.read_text()[-4000:]}")
            time.sleep(0.25)

    def wait_for_all(self, produced: int, timeout: float) -> None:
        self.wait_for(lambda: self.outputs.lost(produced) == 0, timeout, f"all {produced} records out")
        time.sleep(1.0)  # late duplicates, if any, get counted too

    def summary(self) -> dict[str, Any]:
        path = self.folder / f"{self.app}.summary.json"
        return json.loads(path.read_text()) if path.exists() else {}


def _parent_of(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return -1


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextlib.contextmanager
def pipeline(*args: Any, **kwargs: Any) -> Iterator[FraudPipeline]:
    running = FraudPipeline(*args, **kwargs)
    began = time.monotonic()
    try:
        running.start()
        print(f"[faults] pipeline {running.app} consuming after {time.monotonic() - began:.1f} s")
        began = time.monotonic()
        yield running
    finally:
        ran, began = time.monotonic() - began, time.monotonic()
        running.stop()
        print(f"[faults] {running.app}: ran {ran:.1f} s, stopped in {time.monotonic() - began:.1f} s")
