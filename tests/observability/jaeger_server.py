"""A real Jaeger v2 (built by scripts/jaeger/install.sh) on free 127.0.0.1 ports, for the tracing tests.

Every endpoint is given explicitly (OTLP gRPC + HTTP in, query HTTP + gRPC out, health), storage
in memory, the collector's own metrics off: the default config would open a dozen fixed ports.
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
      level: none
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
          max_traces: 100000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{otlp_grpc}
      http:
        endpoint: 127.0.0.1:{otlp_http}
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def jaeger_binary(repo_root: Path) -> Path:
    """The built binary; runs the (idempotent) installer first when it is missing (≈ 4 min cold)."""
    binary = repo_root / ".cache/jaeger/jaeger"
    if not binary.exists():
        subprocess.run(["bash", str(repo_root / "scripts/jaeger/install.sh")], check=True)
    return binary


@dataclass
class Jaeger:
    process: subprocess.Popen[bytes]
    otlp_grpc: str  # host:port for OTLP/gRPC exporters
    query_url: str  # http://host:port of the query API

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.query_url + path, timeout=5) as response:
            return json.loads(response.read())

    def traces(self, service: str, limit: int = 200) -> list[dict[str, Any]]:
        """Traces holding spans of ``service`` (the v1 query API's JSON: traceID, spans, processes)."""
        data = self.get(f"/api/traces?service={service}&limit={limit}&lookback=1h")
        return list(data.get("data") or [])

    def services(self) -> list[str]:
        return list(self.get("/api/services").get("data") or [])


def start_jaeger(binary: Path, workdir: Path) -> Jaeger:
    ports = {k: free_port() for k in ("health", "query_http", "query_grpc", "otlp_grpc", "otlp_http")}
    config = workdir / "jaeger.yaml"
    config.write_text(CONFIG.format(**ports))
    log = (workdir / "jaeger.log").open("wb")
    process = subprocess.Popen([str(binary), "--config", str(config)], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            output = (workdir / "jaeger.log").read_text()
            raise RuntimeError(f"jaeger exited ({process.returncode}):\n{output}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ports['health']}/status", timeout=1) as r:
                if r.status == 200:
                    break
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"jaeger not healthy in 60 s:\n{(workdir / 'jaeger.log').read_text()}")
        time.sleep(0.1)
    return Jaeger(process, f"127.0.0.1:{ports['otlp_grpc']}", f"http://127.0.0.1:{ports['query_http']}")


def stop_jaeger(jaeger: Jaeger) -> None:
    if jaeger.process.poll() is None:
        jaeger.process.terminate()
        try:
            jaeger.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            jaeger.process.kill()
            jaeger.process.wait(timeout=5)
