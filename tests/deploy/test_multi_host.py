"""A multi-host run on one machine: every part of the fraud pipeline on a host of its own.

Hosts are Linux network namespaces on a bridge (``netns_hosts.py``; needs root, as CI runs):
the Kafka broker, two ``inferstream serve`` replicas, two model-serving instances (one consumer
group, balancing client-side over both replicas by their addresses) and the fraud decider —
each started as a Kubernetes Deployment would start it (``inferstream run --instance S:0
--no-drain``, bootstrap and HTTP address from the environment). The test process plays the
ingress and the checker through the bridge: tagged SourceRequests in (tests/faults/fault_rig.py),
tags counted on the decider's outlets.

Mid-run it cuts one model-server host off the network (its link down: packets vanish), checks in
each model-serving instance's ``/metrics`` that the balancer ejected it while records kept
flowing through the other, restores the link and checks the host is taken back (successful calls
to it again); then it SIGKILLs every process of one model-serving host and checks that the
survivor, alone in the group, owns every partition, and that no record was lost. Every process
and namespace is removed at the end, also on failure. Budget: ≤ 3 minutes on a quiet machine;
measured 50–81 s a run (model training included) on the shared 2-core machine at load 3–13.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import yaml
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from netns_hosts import Host, hosts
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))  # the fault suite's rig
from fault_rig import FAST_GROUP_CONF, FraudPipeline, ModelServerProcess, clean_env

from inferstream.apps.common.kafka_warmup import wait_for_group_coordinator
from inferstream.devtools.kafka_broker import KafkaBroker, start_broker
from inferstream.runtime.instance_process import READY_MARKER
from inferstream.transports.kafka import BOOTSTRAP_ENV

pytestmark = [pytest.mark.slow, pytest.mark.kafka]
RATE = 300.0  # records/s: modest, so a loaded machine keeps up
PARTITIONS = 4  # of the input topic: both model-serving instances get some, the survivor all
HTTP_PORT = 8080  # each model-serving instance's /state and /metrics, on its host's address
HOSTS = ["broker", "serve-a", "serve-b", "ms-a", "ms-b", "decider"]
EJECTIONS = "inferstream_serving_endpoint_ejections_total"
CALLS = "inferstream_serving_endpoint_calls_total"
UP = "inferstream_serving_endpoint_up"
RECORDS_IN = "inferstream_serving_records_in_total"


@pytest.fixture
def net() -> Iterator[dict[str, Host]]:
    if os.geteuid() != 0:
        pytest.fail("the multi-host test makes network namespaces: run it as root (CI does)")
    with hosts(HOSTS) as made:
        yield made


class InstanceProcess:
    """``inferstream run BLUEPRINT --transport kafka --instance S:0 --no-drain`` on one host."""

    def __init__(self, host: Host, line: FraudPipeline, instance: str, log: Path) -> None:
        self.host, self.log = host, log
        env = clean_env(**{BOOTSTRAP_ENV: line.bootstrap, "INFERSTREAM_HTTP_HOST": host.address})
        command = [*host.prefix(), sys.executable, "-m", "inferstream.cli.main", "run", str(line.blueprint),
                   "--transport", "kafka", "--instance", instance, "--scale", "model-serving=2",
                   "--no-drain", "--no-progress", *FAST_GROUP_CONF,
                   "--conf", f"model-serving.http-port={HTTP_PORT}"]  # fmt: skip
        with log.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                            start_new_session=True)  # fmt: skip

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.log.name} exited ({self.process.returncode}):\n{self.tail()}")
        return READY_MARKER in self.log.read_text(errors="replace")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def metrics(host: Host) -> dict[tuple[str, str], float]:
    """(sample name, endpoint label) → value, summed over other labels, from the instance's /metrics."""
    with urllib.request.urlopen(f"http://{host.address}:{HTTP_PORT}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    found: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == CALLS and sample.labels.get("outcome") != "ok":
                continue  # calls: the successful ones only
            key = (sample.name, sample.labels.get("endpoint", ""))
            found[key] = found.get(key, 0.0) + sample.value
    return found


def wait_until(condition: Callable[[], bool], timeout: float, what: str, line: FraudPipeline) -> float:
    """Poll ``condition`` (bounded); returns the seconds it took. Fails with what was awaited."""
    began = time.monotonic()
    while not condition():
        if line.failure is not None:
            raise AssertionError(f"the test's producer failed: {line.failure!r}") from line.failure
        if time.monotonic() - began > timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.25)
    return time.monotonic() - began


def group_members(admin: AdminClient, group: str) -> dict[str, set[int]]:
    """Member host → its partitions of the group's topic, as the broker sees them."""
    try:
        description = admin.describe_consumer_groups([group])[group].result(10)
    except KafkaException:  # e.g. the coordinator busy rebalancing: ask again
        return {}
    members: dict[str, set[int]] = {}
    for member in description.members:
        parts = {tp.partition for tp in member.assignment.topic_partitions}
        members.setdefault(member.host.lstrip("/"), set()).update(parts)
    return members


def test_fraud_pipeline_across_hosts_survives_a_cut_link_and_a_dead_host(
    net: dict[str, Host], fraud_models: Path, card_rows: np.ndarray, tmp_path: Path
) -> None:
    began = time.monotonic()
    with contextlib.ExitStack() as stack:
        where = net["broker"]
        broker = start_broker(data_dir=tmp_path / "broker", host=where.address, command_prefix=where.prefix())
        stack.callback(broker.stop)
        servers = {name: ModelServerProcess({"fraud": fraud_models}, tmp_path / f"{name}.log",
                                            host=net[name].address, prefix=net[name].prefix())
                   for name in ("serve-a", "serve-b")}  # fmt: skip
        for server in servers.values():
            stack.callback(server.stop)
        with ThreadPoolExecutor(2) as pool:  # both servers start at once
            list(pool.map(lambda s: s.start(), servers.values()))
        wait_for_group_coordinator(broker.bootstrap_servers)
        line = _pipeline(tmp_path, broker, [s.target for s in servers.values()], fraud_models)
        instances = {
            "ms-a": InstanceProcess(net["ms-a"], line, "model-serving:0", tmp_path / "ms-a.log"),
            "ms-b": InstanceProcess(net["ms-b"], line, "model-serving:1", tmp_path / "ms-b.log"),
            "decider": InstanceProcess(net["decider"], line, "fraud-decider:0", tmp_path / "decider.log"),
        }
        for instance in instances.values():
            stack.callback(instance.stop)
        wait_until(lambda: all([i.ready() for i in instances.values()]), 150, "every instance ready", line)
        started = time.monotonic() - began

        line.start_reading()
        stack.callback(line.stop)
        stop_producing, produced = threading.Event(), [0]

        def produce() -> None:
            try:  # bounded: 60,000 records at most (200 s), stopped once the faults are over
                produced[0] = line.produce(card_rows, 60_000, RATE, until=stop_producing)
            except BaseException as exc:  # fail the test now, not after a wait for records never sent
                line.failure = exc

        def stop_producer() -> None:
            stop_producing.set()
            producer.join(150)

        producer = threading.Thread(target=produce)
        producer.start()
        stack.callback(stop_producer)
        try:
            figures = _faults(net, broker, servers, line)
            stop_producer()
            assert not producer.is_alive() and line.failure is None, line.failure
            count = produced[0]
            line.wait_for_all(count, 120)
        except AssertionError as exc:  # what each host said, for the one reading the failure
            raise AssertionError(f"{exc}\n{_log_tails(tmp_path)}") from exc
        outputs = line.outputs
        lost, errors = outputs.lost(count), outputs.per_outlet["error"]
        total = round(time.monotonic() - began, 1)
        print({"records": count, "lost": lost, "duplicates": outputs.duplicates, "errors": errors,
               "start_s": round(started, 1), **figures, "total_s": total})  # fmt: skip
        assert lost == 0 and errors == 0


def _pipeline(folder: Path, broker: KafkaBroker, targets: list[str], models: Path) -> FraudPipeline:
    """The fault suite's fraud blueprint, its input topic with PARTITIONS partitions."""
    serving = {"timeout": "2 seconds", "eject-for": "2 seconds"}
    line = FraudPipeline(folder, broker.bootstrap_servers, targets, models, serving=serving)
    line.log = folder / "ms-b.log"  # its waits quote this log (the survivor's): no `run` parent here
    spec = yaml.safe_load(line.blueprint.read_text())
    spec["topics"][line.input]["partitions"] = PARTITIONS
    line.blueprint.write_text(yaml.safe_dump(spec, sort_keys=False))
    return line


def _log_tails(folder: Path) -> str:
    logs = sorted(folder.glob("*.log"))
    return "\n".join(f"--- {log.name}:\n{log.read_text(errors='replace')[-1500:]}" for log in logs)


def _faults(
    net: dict[str, Host], broker: KafkaBroker, servers: dict[str, ModelServerProcess], line: FraudPipeline
) -> dict[str, float]:
    """Cut serve-b's link and restore it, then kill ms-a's processes; assert what each must cause."""
    serving = {name: net[name] for name in ("ms-a", "ms-b")}
    cut, cut_target = net["serve-b"], servers["serve-b"].target
    group = f"{line.app}.model-serving.in"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})

    def calls_ok(host: Host, target: str) -> float:
        return metrics(host).get((CALLS, target), 0.0)

    def ejected(host: Host) -> bool:
        found = metrics(host)
        return found.get((EJECTIONS, cut_target), 0) >= 1 and found.get((UP, cut_target)) == 0

    # 1. Both instances consume from their own hosts, and call both replicas.
    wait_until(lambda: all(calls_ok(h, s.target) > 0 for h in serving.values() for s in servers.values()),
               60, "both model-serving instances calling both replicas", line)  # fmt: skip
    members = group_members(admin, group)
    assert set(members) == {net["ms-a"].address, net["ms-b"].address}, members
    assert set().union(*members.values()) == set(range(PARTITIONS)), members

    # 2. serve-b cut off the network: each balancer ejects it; records flow through serve-a meanwhile.
    out_at_cut = len(line.outputs.seen)
    cut.cut()
    ejected_in = wait_until(lambda: all(ejected(h) for h in serving.values()), 60,
                            "the cut replica ejected by both balancers", line)  # fmt: skip
    ok_at_ejection = {name: calls_ok(h, cut_target) for name, h in serving.items()}
    time.sleep(4.0)  # the link stays down a while longer: every call now goes to serve-a
    ok_during_cut = {name: calls_ok(h, cut_target) for name, h in serving.items()}
    assert ok_during_cut == ok_at_ejection, "calls to the cut-off replica succeeded"
    flowed = len(line.outputs.seen) - out_at_cut
    assert flowed >= 300, f"only {flowed} records came out while serve-b was cut off"

    # 3. The link returns: each balancer takes serve-b back (successful calls to it again).
    cut.restore()

    def taken_back(name: str) -> bool:
        host = serving[name]
        return calls_ok(host, cut_target) > ok_during_cut[name] and metrics(host).get((UP, cut_target)) == 1

    readmitted_in = wait_until(lambda: all(taken_back(n) for n in serving), 90,
                               "the restored replica taken back by both balancers", line)  # fmt: skip

    # 4. Every process of ms-a's host dies: the survivor on ms-b, alone in the group, owns every partition.
    survivor = net["ms-b"]
    survivor_in = metrics(survivor)[(RECORDS_IN, "")]
    assert net["ms-a"].kill_all(), "nothing ran on ms-a"
    alone = {survivor.address: set(range(PARTITIONS))}
    took_over_in = wait_until(lambda: group_members(admin, group) == alone, 60,
                              "the survivor alone in the group with every partition", line)  # fmt: skip
    wait_until(lambda: metrics(survivor)[(RECORDS_IN, "")] >= survivor_in + 1500, 60,
               "1,500 more records through the survivor", line)  # fmt: skip
    return {"ejected_in_s": round(ejected_in, 1), "readmitted_in_s": round(readmitted_in, 1),
            "took_over_in_s": round(took_over_in, 1), "records_during_cut": flowed}  # fmt: skip
