"""Real model servers for the executor tests, each from its own virtualenv, on free loopback ports.

One server per kind for the whole session: MLServer, KServe and seldon-core take seconds to start.
``make model-servers`` (a prerequisite of ``make test``) creates the virtualenvs.
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from inferstream.bench.ports import free_port
from inferstream.bench.procs import ManagedProcess

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts" / "model_servers"
START_TIMEOUT = 90.0
# A committed self-signed certificate for localhost/127.0.0.1 (tests only; see assets/README.md).
TLS_CERT = Path(__file__).resolve().parent / "assets" / "loopback-cert.pem"
TLS_KEY = Path(__file__).resolve().parent / "assets" / "loopback-key.pem"


@dataclass
class RunningServer:
    """A started server: its REST and gRPC ports, and the process (stop/start it to test failures)."""

    kind: str
    http_port: int
    grpc_port: int
    process: ManagedProcess

    @property
    def rest(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"


def venv_bin(kind: str, tool: str) -> Path:
    path = REPO / f".venv-{kind}" / "bin" / tool
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run `make model-servers` (scripts/model_servers/install.sh)")
    return path


def wait_http(process: ManagedProcess, url: str, timeout: float = START_TIMEOUT) -> None:
    """Poll ``url`` until it answers 200; fail with the server's log if it dies or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise process.fail("exited before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    process.stop()
    raise process.fail(f"not ready at {url} within {timeout:.0f}s")


def start_builtin(tmp: Path, model_base: Path, name: str = "fraud", grpc: bool = False,
                  http_port: int = 0, grpc_port: int = 0, wait: bool = True) -> RunningServer:
    """The built-in TF-Serving-compatible server (``inferstream serve``) serving ``model_base``."""
    http_port = http_port or free_port()
    grpc_port = grpc_port or (free_port() if grpc else 0)
    argv = [sys.executable, "-m", "inferstream.cli.main", "serve", "--model", f"{name}={model_base}",
            "--port", str(http_port)]
    argv += ["--grpc-port", str(grpc_port)] if grpc else ["--no-grpc"]
    process = ManagedProcess(f"inferstream-serve-{http_port}", argv, tmp / f"serve-{http_port}.log").start()
    server = RunningServer("builtin", http_port, grpc_port, process)
    if wait:
        wait_builtin(server, name)
    return server


def wait_builtin(server: RunningServer, name: str = "fraud") -> None:
    wait_http(server.process, f"{server.rest}/v1/models/{name}")


@pytest.fixture(scope="session")
def doubler_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model base folder (``<base>/1/model.onnx``): input ``transaction`` [?, 29] → ``predictions`` = 2x."""
    import numpy as np
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LinearRegression

    x = np.random.default_rng(0).normal(size=(100, 29)).astype(np.float32)
    model = LinearRegression().fit(x, 2 * x)
    onnx_model = to_onnx(
        model,
        initial_types=[("transaction", FloatTensorType([None, 29]))],
        final_types=[("predictions", FloatTensorType([None, 29]))],
        target_opset=17,
    )
    base = tmp_path_factory.mktemp("doubler")
    (base / "1").mkdir()
    (base / "1" / "model.onnx").write_bytes(onnx_model.SerializeToString())
    return base


@pytest.fixture(scope="session")
def builtin_server(tmp_path_factory: pytest.TempPathFactory, doubler_model: Path) -> Iterator[RunningServer]:
    server = start_builtin(tmp_path_factory.mktemp("builtin"), doubler_model, grpc=True)
    try:
        yield server
    finally:
        server.process.stop()


@pytest.fixture(scope="session")
def mlserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("mlserver")
    http, grpc = free_port(), free_port()
    python = venv_bin("mlserver", "python")
    setup = ManagedProcess(
        "mlserver-model",
        [str(python), str(SCRIPTS / "mlserver_model.py"), str(folder),
         "--http-port", str(http), "--grpc-port", str(grpc)],
        folder / "setup.log",
    ).start()
    if setup.wait(120) != 0:
        raise setup.fail("could not write the MLServer model folder")
    process = ManagedProcess(
        "mlserver", [str(venv_bin("mlserver", "mlserver")), "start", "."], folder / "mlserver.log", cwd=folder
    ).start()
    try:
        wait_http(process, f"http://127.0.0.1:{http}/v2/models/fraud/ready")
        yield RunningServer("mlserver", http, grpc, process)
    finally:
        process.stop(grace=3)


@pytest.fixture(scope="session")
def kserve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("kserve")
    http, grpc = free_port(), free_port()
    argv = [str(venv_bin("kserve", "python")), str(SCRIPTS / "kserve_server.py"),
            "--model_name", "fraud", "--http_port", str(http), "--grpc_port", str(grpc)]
    process = ManagedProcess("kserve", argv, folder / "kserve.log").start()
    try:
        wait_http(process, f"http://127.0.0.1:{http}/v2/models/fraud/ready")
        yield RunningServer("kserve", http, grpc, process)
    finally:
        process.stop(grace=3)


@pytest.fixture(scope="session")
def seldon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    folder = tmp_path_factory.mktemp("seldon")
    http, grpc, metrics = free_port(), free_port(), free_port()
    argv = [str(venv_bin("seldon", "seldon-core-microservice")), "seldon_model.DoublingModel",
            "--service-type", "MODEL", "--http-port", str(http), "--grpc-port", str(grpc),
            "--metrics-port", str(metrics), "--workers", "1", "--log-level", "WARNING"]
    process = ManagedProcess("seldon", argv, folder / "seldon.log", cwd=SCRIPTS).start()
    try:
        wait_http(process, f"http://127.0.0.1:{http}/health/ping")
        yield RunningServer("seldon", http, grpc, process)
    finally:
        process.stop(grace=3)
