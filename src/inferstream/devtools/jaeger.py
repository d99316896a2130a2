"""A real Jaeger v2 (built by ``scripts/jaeger/install.sh``) on free 127.0.0.1 ports: tests and the bench.

Every endpoint is given explicitly (OTLP gRPC + HTTP in, query HTTP + gRPC out, health, the
collector's own Prometheus metrics), storage in memory: the default config would open a dozen fixed
ports. :meth:`Jaeger.accepted_spans` reads the collector's count of spans received over OTLP, which
is how the bench tells how many spans a mode exported without paging through every trace.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
INSTALL_HINT = "bash scripts/jaeger/install.sh (builds Jaeger v1.75.0 with Go, ≈ 4 min)"

CONFIG = """\
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: basic
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: {metrics}
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:{health}
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:{query_http}
    grpc:
      endpoint: 127.0.0.1:{query_grpc}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: {max_traces}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{otlp_grpc}
        max_recv_msg_size_mib: 64
      http:
        endpoint: 127.0.0.1:{otlp_http}
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
"""


class JaegerError(RuntimeError):
    """Jaeger is not installed, or did not start; the message says what to do."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def installed_binary(repo_root: Path = REPO) -> Path | None:
    """The built binary, or None when ``scripts/jaeger/install.sh`` has not run."""
    binary = repo_root / ".cache" / "jaeger" / "jaeger"
    return binary if binary.exists() else None


def jaeger_binary(repo_root: Path = REPO) -> Path:
    """The built binary; runs the (idempotent) installer first when it is missing (≈ 4 min cold)."""
    binary = installed_binary(repo_root)
    if binary is None:
        subprocess.run(["bash", str(repo_root / "scripts" / "jaeger" / "install.sh")], check=True)
        binary = installed_binary(repo_root)
        if binary is None:
            raise JaegerError(f"scripts/jaeger/install.sh ran but built no binary under {repo_root}/.cache")
    return binary


@dataclass
class Jaeger:
    process: subprocess.Popen[bytes]
    otlp_grpc: str  # host:port for OTLP/gRPC exporters
    query_url: str  # http://host:port of the query API
    metrics_url: str = ""  # http://host:port/metrics of the collector's own counters
    log: Path | None = None

    def get(self, path: str, timeout: float = 5.0) -> Any:
        with urllib.request.urlopen(self.query_url + path, timeout=timeout) as response:
            return json.loads(response.read())

    def traces(self, service: str, limit: int = 200, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Traces holding spans of ``service`` (the v1 query API's JSON: traceID, spans, processes)."""
        data = self.get(f"/api/traces?service={service}&limit={limit}&lookback=1h", timeout)
        return list(data.get("data") or [])

    def services(self) -> list[str]:
        return list(self.get("/api/services").get("data") or [])

    def accepted_spans(self) -> int | None:
        """Spans the OTLP receiver accepted since start (None: the metrics are not readable)."""
        if not self.metrics_url:
            return None
        try:
            with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
                text = response.read().decode()
        except (urllib.error.URLError, OSError):
            return None
        # The counter appears with the first spans received; until then none were.
        lines = (line for line in text.splitlines() if line.startswith("otelcol_receiver_accepted_spans"))
        return int(sum(float(line.rsplit(" ", 1)[1]) for line in lines))

    def stop(self) -> None:
        stop_jaeger(self)


def start_jaeger(binary: Path, workdir: Path, max_traces: int = 100_000, timeout: float = 60.0) -> Jaeger:
    """Start Jaeger with memory storage on free loopback ports; wait until it is healthy."""
    names = ("health", "query_http", "query_grpc", "otlp_grpc", "otlp_http", "metrics")
    ports = {k: free_port() for k in names}
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "jaeger.yaml"
    config.write_text(CONFIG.format(max_traces=max_traces, **ports))
    log_path = workdir / "jaeger.log"
    log = log_path.open("wb")
    process = subprocess.Popen([str(binary), "--config", str(config)], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise JaegerError(f"jaeger exited ({process.returncode}):\n{log_path.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ports['health']}/status", timeout=1) as r:
                if r.status == 200:
                    break
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            process.kill()
            process.wait(timeout=5)
            raise JaegerError(f"jaeger not healthy in {timeout:.0f} s:\n{log_path.read_text()[-4000:]}")
        time.sleep(0.1)
    return Jaeger(
        process,
        f"127.0.0.1:{ports['otlp_grpc']}",
        f"http://127.0.0.1:{ports['query_http']}",
        f"http://127.0.0.1:{ports['metrics']}/metrics",
        log_path,
    )


def stop_jaeger(jaeger: Jaeger) -> None:
    if jaeger.process.poll() is None:
        jaeger.process.terminate()
        try:
            jaeger.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            jaeger.process.kill()
            jaeger.process.wait(timeout=5)
