"""A local single-node Apache Kafka broker (KRaft mode) for development, tests and benchmarks.

The broker's jars come from Maven Central (:mod:`inferstream.devtools.kafka_install`);
``start_broker`` formats a data directory, starts a combined broker+controller on 127.0.0.1 with
free ports, waits until it answers and hands back a ``KafkaBroker`` that stops it cleanly. Another
address (``host``) and a launch prefix (``command_prefix``, e.g. ``ip netns exec NS``) let a test
run it as one host of several (tests/deploy/test_multi_host.py).

A broker that outlives the process (``inferstream kafka start``, ``scripts/kafka/*.sh``) is
:mod:`inferstream.devtools.detached_broker`.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from confluent_kafka.admin import AdminClient

from inferstream.devtools.kafka_install import (
    KafkaBrokerError,
    install_kafka,
    is_installed,
    kafka_libs_dir,
)

_LOG = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
#: JVM settings of the local broker (after -Xmx); ``start_broker(jvm_options=...)`` replaces them.
#: The serial collector: no concurrent GC threads competing for the 2 cores of a dev machine.
DEFAULT_JVM_OPTIONS: tuple[str, ...] = ("-Xms256m", "-XX:+UseSerialGC")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise KafkaBrokerError("java is not on PATH: install Java 17+ (apt-get install openjdk-17-jre)")
    return java


def _server_properties(
    data_dir: Path, port: int, controller_port: int, extra: Mapping[str, str], host: str = "127.0.0.1"
) -> dict[str, str]:
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{host}:{controller_port}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(data_dir / "kraft"),
        # One node: internal topics cannot have more replicas than that.
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "8",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # Tests and local runs start consumers right away; the 3 s default only slows them down.
        "group.initial.rebalance.delay.ms": "0",
        # Topics are created explicitly with their partitions and retention; a typo must not create one.
        "auto.create.topics.enable": "false",
        "log.retention.hours": "24",
        # After a kill -9 the controller waits for the old registration to expire before the
        # restarted broker may join: 2 s here instead of 9 s.
        "broker.heartbeat.interval.ms": "500",
        "broker.session.timeout.ms": "2000",
        # Lets failure tests detect a killed consumer within seconds (clients default to 10 s here).
        "group.min.session.timeout.ms": "1000",
    }
    props.update(extra)
    return props


def _log4j_properties(log_file: Path) -> str:
    return "\n".join([
        "status = error",
        "appender.file.type = File",
        "appender.file.name = FILE",
        f"appender.file.fileName = {log_file}",
        "appender.file.layout.type = PatternLayout",
        "appender.file.layout.pattern = [%d] %p %m (%c)%n",
        "rootLogger.level = INFO",
        "rootLogger.appenderRef.file.ref = FILE",
        "",
    ])


@dataclass
class KafkaBroker:
    """A running local broker. ``stop()`` ends it (SIGTERM, then SIGKILL after a timeout)."""

    port: int
    controller_port: int
    data_dir: Path
    process: subprocess.Popen[bytes] | None
    heap: str = "512m"
    extra_config: dict[str, str] = field(default_factory=dict)
    jvm_options: tuple[str, ...] = DEFAULT_JVM_OPTIONS
    remove_data_on_stop: bool = False
    outlive_parent: bool = False  # False: the broker gets SIGTERM when the starting process dies
    pid: int = 0
    host: str = "127.0.0.1"  # the address it listens on and advertises
    command_prefix: tuple[str, ...] = ()  # runs the JVM under it, e.g. ("ip", "netns", "exec", "ns1")

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def is_running(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return pid_alive(self.pid)

    def _launch(self) -> None:
        props = _server_properties(
            self.data_dir, self.port, self.controller_port, self.extra_config, self.host
        )
        config = self.data_dir / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        log4j = self.data_dir / "log4j2.properties"
        log4j.write_text(_log4j_properties(self.log_file))
        classpath = str(kafka_libs_dir() / "*")
        if not (self.data_dir / "kraft" / "meta.properties").is_file():
            cluster_id = _new_cluster_id()
            fmt = subprocess.run(
                [_java(), "-Xmx256m", f"-Dlog4j2.configurationFile={log4j}", "-cp", classpath,
                 "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(config)],
                capture_output=True, text=True, check=False,
            )
            if fmt.returncode != 0:
                raise KafkaBrokerError(f"formatting {self.data_dir} failed:\n{fmt.stdout}{fmt.stderr}")
        out = (self.data_dir / "broker.out").open("ab")
        # A session of its own: Ctrl-C in a terminal reaches only us, and we stop the broker in order.
        self.process = subprocess.Popen(
            [*self.command_prefix, _java(), f"-Xmx{self.heap}", *self.jvm_options, "-Djava.awt.headless=true",
             f"-Dlog4j2.configurationFile={log4j}", "-cp", classpath, "kafka.Kafka", str(config)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=_terminate_with_parent if self._die_with_parent() else None,
        )
        out.close()
        self.pid = self.process.pid

    def _die_with_parent(self) -> bool:
        # The death signal follows the starting *thread*: only the main thread lives as long as the
        # process, so a broker started from another thread is not tied to it.
        return not self.outlive_parent and threading.current_thread() is threading.main_thread()

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Block until the broker answers a metadata request; raise with its log tail if it died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                raise KafkaBrokerError(f"the broker exited during startup; log tail:\n{self.log_tail()}")
            # Probe the port first: librdkafka would log every refused connection to stderr.
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.settimeout(0.5)
                if sock.connect_ex((self.host, self.port)) != 0:
                    time.sleep(0.2)
                    continue
            admin = AdminClient({"bootstrap.servers": self.bootstrap_servers, "logger": _quiet_logger()})  # type: ignore[dict-item]
            try:
                meta = admin.list_topics(timeout=max(0.5, min(5.0, deadline - time.monotonic())))
            except Exception:  # not answering yet (KafkaException); the loop is bounded by the deadline
                time.sleep(0.2)
                continue
            if meta.brokers:
                return
        raise KafkaBrokerError(
            f"the Kafka broker did not answer within {timeout:.0f} s; log tail:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        parts = []
        for path in (self.data_dir / "broker.out", self.log_file):
            if path.is_file():
                parts.append("\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(parts)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker (SIGTERM, SIGKILL after ``timeout``); remove its data if it was temporary."""
        self._signal_and_wait(signal.SIGTERM, timeout)
        if self.remove_data_on_stop:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL the broker, keeping its data (failure tests restart it with ``restart``)."""
        self._signal_and_wait(signal.SIGKILL, 10.0)

    def restart(self, timeout: float = 90.0) -> None:
        """Start the broker again on the same ports and data (after ``kill`` or a clean stop)."""
        if self.is_running():
            self._signal_and_wait(signal.SIGTERM, 30.0)
        self._launch()
        self.wait_ready(timeout)

    def _signal_and_wait(self, sig: signal.Signals, timeout: float) -> None:
        if not self.is_running():
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)
        if _wait_exit(self, timeout):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        _wait_exit(self, 10.0)

    def __enter__(self) -> KafkaBroker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _wait_exit(broker: KafkaBroker, timeout: float) -> bool:
    if broker.process is not None:
        try:
            broker.process.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(broker.pid):
            return True
        time.sleep(0.1)
    return False


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (an exited child of ours is reaped; a zombie does not run)."""
    if pid <= 0:
        return False
    with contextlib.suppress(ChildProcessError):  # our own child: reap it if it has exited
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not reaped by its parent yet) is not running
        zombie = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True
    if zombie:
        with contextlib.suppress(ChildProcessError):  # it exited since the waitpid above: reap it
            os.waitpid(pid, os.WNOHANG)
    return not zombie


def _new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64, never starting with '-'.

    The storage tool's argument parser would read a leading '-' as an option (Kafka's own
    Uuid.randomUuid() skips such ids for the same reason).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def _load_prctl() -> Any:
    # Resolved here, not in the forked child, where loading a library could deadlock.
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None


_PRCTL = _load_prctl()


def _terminate_with_parent() -> None:
    # Runs in the child before exec: Linux sends it SIGTERM when the thread that started it ends
    # (a crashed or killed test run must not leave brokers behind).
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _quiet_logger() -> logging.Logger:
    # librdkafka's connection chatter during startup goes to a logger nobody listens to.
    logger = logging.getLogger("inferstream.kafka_broker.librdkafka")
    logger.propagate = False
    logger.addHandler(logging.NullHandler())
    return logger


def _temp_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="inferstream-kafka-"))


def start_broker(
    *,
    data_dir: Path | None = None,
    port: int = 0,
    heap: str = "512m",
    timeout: float = 90.0,
    jvm_options: Sequence[str] = DEFAULT_JVM_OPTIONS,
    extra_config: Mapping[str, str] | None = None,
    install: bool = True,
    outlive_parent: bool = False,
    host: str = "127.0.0.1",
    command_prefix: Sequence[str] = (),
) -> KafkaBroker:
    """Start a single-node KRaft broker on 127.0.0.1 (or ``host``) and wait until it answers.

    ``port=0`` picks free ports (retrying if another process takes one first); without
    ``data_dir`` a temporary directory is used and removed on ``stop()``. ``command_prefix`` runs
    the JVM under another command that execs it (``ip netns exec NS``: the broker of one host in
    a network namespace, listening on that host's ``host`` address).
    """
    if install:
        install_kafka()
    elif not is_installed():
        raise KafkaBrokerError("Kafka is not installed: run scripts/kafka/install.sh (or `make kafka`)")
    temporary = data_dir is None
    attempts = 3 if port == 0 else 1
    last: KafkaBrokerError | None = None
    for _ in range(attempts):
        directory = Path(data_dir) if data_dir is not None else _temp_dir()
        directory.mkdir(parents=True, exist_ok=True)
        broker = KafkaBroker(
            port=port or free_port(), controller_port=free_port(), data_dir=directory, process=None,
            heap=heap, extra_config=dict(extra_config or {}), remove_data_on_stop=temporary,
            jvm_options=tuple(jvm_options), outlive_parent=outlive_parent, host=host,
            command_prefix=tuple(command_prefix),
        )
        try:
            broker._launch()
            broker.wait_ready(timeout)
            _LOG.info("Kafka broker ready on %s (data in %s)", broker.bootstrap_servers, directory)
            return broker
        except KafkaBrokerError as exc:
            last = exc
            broker.stop(timeout=10.0)
            if "Address already in use" not in str(exc):
                raise
    assert last is not None
    raise last
