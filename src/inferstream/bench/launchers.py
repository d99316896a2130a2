"""Starting what a mode runs: model-server replicas, the proxy, and the pipeline under test.

Each launcher says up front whether it can run here (``unavailable()`` → a reason or None), so the
harness reports a missing piece as "not available: <reason>" instead of inventing a number.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferstream.bench.blueprints import MODEL_SERVING, OUTLETS, app_name, fraud_blueprint, write_blueprint
from inferstream.bench.modes import Mode
from inferstream.bench.nginx import NginxMissing, NginxProxy, ProxyPlan, find_nginx
from inferstream.bench.procs import ManagedProcess
from inferstream.observability.stage_times import ENV_EVERY as STAGE_TIMES_EVERY
from inferstream.observability.stage_times import ENV_FOLDER as STAGE_TIMES_FOLDER

REPO = Path(__file__).resolve().parents[3]
QUIX_PYTHON = REPO / ".venv-quix" / "bin" / "python"
QUIX_PEER = REPO / "benchmarks" / "peers" / "quix_fraud.py"
HANDWRITTEN_PEER = QUIX_PEER.with_name("handwritten_fraud.py")  # runs in the peers' .venv-quix too
# Not "-m inferstream.cli.main": verbs register on the imported module, not on __main__.
INFERSTREAM = [sys.executable, "-c", "from inferstream.cli.main import main; main()"]


def _module_missing(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is None
    except ModuleNotFoundError:
        return True


@dataclass(frozen=True)
class Topology:
    """Topic names and consumer groups of one pipeline run (fresh per mode)."""

    input: str
    results: str
    outlets: dict[str, str]
    groups: dict[str, tuple[str, list[str]]]  # stage → (consumer group, topics it reads)

    @classmethod
    def for_mode(cls, mode: Mode, prefix: str) -> Topology:
        outlets = {o: f"{prefix}.{o}" for o in OUTLETS}
        source, results = f"{prefix}.card-records", f"{prefix}.ml-results"
        if mode.peer:
            serving, decider = f"{prefix}.model-serving", f"{prefix}.decider"
        else:  # the runtime names a group <app>.<streamlet>.<inlet>
            app = app_name(prefix)
            serving, decider = f"{app}.model-serving.in", f"{app}.fraud-decider.in"
        groups = {"model-serving": (serving, [source]), "decider": (decider, [results])}
        return cls(input=source, results=results, outlets=outlets, groups=groups)

    @property
    def derived(self) -> list[str]:
        return [self.results, *self.outlets.values()]

    @property
    def group_topics(self) -> dict[str, list[str]]:
        return dict(self.groups.values())


@dataclass(frozen=True)
class FraudModel:
    """The served fraud model: its folder (TF Serving layout) and the decision threshold beside it."""

    base: Path  # <models>/fraud, holding <version>/model.onnx
    name: str = "fraud"
    threshold: float = 4.0

    @classmethod
    def find(cls, models: Path) -> FraudModel | None:
        base = models / "fraud"
        versions = sorted((p for p in base.glob("*") if p.name.isdigit()), key=lambda p: int(p.name))
        if not versions:
            return None
        threshold = 4.0
        for candidate in (versions[-1] / "threshold.json", base / "threshold.json"):
            if candidate.is_file():
                threshold = float(json.loads(candidate.read_text()).get("threshold", threshold))
                break
        return cls(base, threshold=threshold)


@dataclass
class ServerFleet:
    """N replicas of the built-in model server (``inferstream serve``), each on its own free ports."""

    model: FraudModel
    replicas: int
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)  # e.g. OTEL_EXPORTER_OTLP_ENDPOINT when tracing
    processes: list[ManagedProcess] = field(default_factory=list)
    grpc_ports: list[int] = field(default_factory=list)
    rest_ports: list[int] = field(default_factory=list)

    @staticmethod
    def unavailable() -> str | None:
        if _module_missing("inferstream.cli.serve"):
            return "the built-in model server (inferstream serve) is not in this tree yet"
        return None

    def start(self, ready_timeout: float = 60.0) -> ServerFleet:
        ready_files = []
        for index in range(self.replicas):
            ready = self.workdir / f"server-{index}.ready.json"
            ready.unlink(missing_ok=True)
            argv = [
                *INFERSTREAM,
                "serve",
                "--model",
                f"{self.model.name}={self.model.base}",
                "--port",
                "0",
                "--grpc-port",
                "0",
                "--ready-file",
                str(ready),
            ]
            log = self.workdir / f"server-{index}.log"
            process = ManagedProcess(f"server-{index}", argv, log, env=self.env)
            self.processes.append(process.start())
            ready_files.append(ready)
        for process, ready in zip(self.processes, ready_files, strict=True):
            ports = _wait_ready_file(ready, process, ready_timeout)
            self.rest_ports.append(int(ports["rest_port"]))
            self.grpc_ports.append(int(ports["grpc_port"]))
        return self

    def stop(self) -> None:
        for process in self.processes:
            process.stop()


def _wait_ready_file(path: Path, process: ManagedProcess, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file():
            try:
                data = json.loads(path.read_text())
            except ValueError:
                data = None  # half-written; read again
            if isinstance(data, dict) and data.get("grpc_port"):
                return data
        if not process.alive():
            raise process.fail("exited before it was ready")
        time.sleep(0.1)
    process.stop()
    raise process.fail(f"not ready after {timeout:.0f} s")


@dataclass
class Endpoints:
    """Where a mode's model calls go, per protocol: one address, or a list for client-side balancing."""

    grpc: list[str]
    rest: list[str]


def proxy_unavailable() -> str | None:
    try:
        find_nginx()
    except NginxMissing as exc:
        return str(exc)
    return None


def start_proxy(fleet: ServerFleet, workdir: Path) -> NginxProxy:
    plan = ProxyPlan(grpc_backends=fleet.grpc_ports, http_backends=fleet.rest_ports)
    return NginxProxy(plan, workdir).start()


def endpoints_for(mode: Mode, fleet: ServerFleet, proxy: NginxProxy | None) -> Endpoints:
    if mode.access == "proxy":
        if proxy is None:
            raise ValueError("proxy mode without a running proxy")
        return Endpoints([f"127.0.0.1:{proxy.grpc_port}"], [f"http://127.0.0.1:{proxy.http_port}"])
    count = mode.replicas if mode.access == "client-lb" else 1
    return Endpoints(
        [f"127.0.0.1:{p}" for p in fleet.grpc_ports[:count]],
        [f"http://127.0.0.1:{p}" for p in fleet.rest_ports[:count]],
    )


@dataclass
class RunContext:
    bootstrap: str
    model: FraudModel
    workdir: Path
    kafka_conf: list[str] = field(default_factory=list)  # KEY=VALUE, e.g. producer.linger.ms=0
    otlp_endpoint: str | None = None  # traced modes: the collector's OTLP/gRPC host:port


def pipeline_unavailable(mode: Mode) -> str | None:
    """Why ``mode``'s pipeline cannot run in this tree, or None."""
    if mode.peer:
        if mode.access == "client-lb":
            return "the peers call one address; client-side balancing is inferstream's"
        if mode.engine == "handwritten" and mode.protocol != "grpc":
            return "the hand-written peer calls TF Serving over gRPC only"
        if not QUIX_PYTHON.exists():
            return "the Quix Streams virtualenv is missing: run benchmarks/peers/install.sh"
        return None
    if _module_missing("inferstream.cli.run"):
        return "the pipeline runner (inferstream run) is not in this tree yet"
    if _module_missing(MODEL_SERVING.split(":")[0]):
        return f"the model-serving streamlet ({MODEL_SERVING}) is not in this tree yet"
    return None


def start_peer(mode: Mode, topology: Topology, endpoints: Endpoints, ctx: RunContext) -> list[ManagedProcess]:
    """A peer (Quix or hand-written): ``mode.instances`` model-serving processes in one group, one decider."""
    server = endpoints.grpc[0] if mode.protocol == "grpc" else endpoints.rest[0]
    script = QUIX_PEER if mode.engine == "quix" else HANDWRITTEN_PEER
    protocol = ["--protocol", mode.protocol] if mode.engine == "quix" else []
    serving_group, decider_group = (topology.groups[s][0] for s in ("model-serving", "decider"))
    processes = []
    for index in range(mode.instances):
        argv = [
            str(QUIX_PYTHON),
            str(script),
            "model-serving",
            "--broker",
            ctx.bootstrap,
            "--group",
            serving_group,
            "--input",
            topology.input,
            "--output",
            topology.results,
            *protocol,
            "--server",
            server,
            "--model",
            ctx.model.name,
        ]
        processes.append(ManagedProcess(
            f"{mode.engine}-model-serving-{index}", argv, ctx.workdir / f"{mode.engine}-ms-{index}.log"
        ))
    decider = [
        str(QUIX_PYTHON),
        str(script),
        "decider",
        "--broker",
        ctx.bootstrap,
        "--group",
        decider_group,
        "--input",
        topology.results,
        "--normal",
        topology.outlets["normal"],
        "--fraud",
        topology.outlets["fraud"],
        "--error",
        topology.outlets["error"],
        "--threshold",
        str(ctx.model.threshold),
    ]
    log = ctx.workdir / f"{mode.engine}-decider.log"
    processes.append(ManagedProcess(f"{mode.engine}-decider", decider, log))
    return [p.start() for p in processes]


def start_inferstream(
    mode: Mode, topology: Topology, endpoints: Endpoints, ctx: RunContext
) -> list[ManagedProcess]:
    """inferstream's own pipeline: ``inferstream run`` on the Kafka transport (a process per instance)."""
    topics = {"input": topology.input, "results": topology.results, **topology.outlets}
    targets = endpoints.grpc if mode.protocol == "grpc" else endpoints.rest
    prefix = topology.input.removesuffix(".card-records")
    blueprint = fraud_blueprint(mode, prefix, topics, targets, ctx.model.name, ctx.model.base)
    path = write_blueprint(ctx.workdir / "blueprint.yaml", blueprint)
    argv = [
        *INFERSTREAM,
        "run",
        str(path),
        "--transport",
        "kafka",
        "--no-progress",
        # No ingress in this blueprint: the run lasts until the harness stops it.
        "--for",
        "3600s",
        "--drain-timeout",
        "15s",
        "--summary-json",
        str(ctx.workdir / "summary.json"),
        "--guarantee",
        mode.guarantee,
    ]
    if mode.colocated:  # the small stages in one process; model-serving keeps its own
        argv += ["--colocate", ",".join(name for name in blueprint["streamlets"] if name != "model-serving")]
    argv += [a for setting in ctx.kafka_conf for a in ("--conf", f"transports.kafka.{setting}")]
    if mode.traced and ctx.otlp_endpoint:  # the run's instances trace (the harness's feeder samples)
        argv += ["--trace-ratio", str(mode.trace_ratio), "--otlp-endpoint", ctx.otlp_endpoint]
    env = {
        "INFERSTREAM_KAFKA_BOOTSTRAP_SERVERS": ctx.bootstrap,
        # Every other consumed batch of each instance is traced (the per-stage breakdown).
        STAGE_TIMES_FOLDER: str(ctx.workdir / "stage-times"),
        STAGE_TIMES_EVERY: "2",
    }
    process = ManagedProcess("inferstream-run", argv, ctx.workdir / "run.log", env=env, cwd=REPO)
    return [process.start()]


def start_pipeline(
    mode: Mode, topology: Topology, endpoints: Endpoints, ctx: RunContext
) -> list[ManagedProcess]:
    if mode.peer:
        return start_peer(mode, topology, endpoints, ctx)
    return start_inferstream(mode, topology, endpoints, ctx)
