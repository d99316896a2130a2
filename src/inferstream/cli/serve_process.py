"""Run ``inferstream serve`` as a child process and learn its ports: for tests, the demo, benchmarks.

    with serve_in_subprocess({"fraud": Path("tests/assets/models/seed-fraud")}) as served:
        url = f"http://{served.host}:{served.rest_port}/v1/models/fraud:predict"
        target = f"{served.host}:{served.grpc_port}"
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


class ServerStartError(RuntimeError):
    """The server process exited or did not become ready in time; the message holds its output."""


@dataclass(frozen=True)
class ServedProcess:
    process: subprocess.Popen[bytes]
    host: str
    rest_port: int
    grpc_port: int | None
    log: Path

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.rest_port}"

    @property
    def grpc_target(self) -> str:
        return f"{self.host}:{self.grpc_port}"


def _command() -> list[str]:
    script = Path(sys.executable).parent / "inferstream"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from inferstream.cli.main import main; main()"]


@contextmanager
def serve_in_subprocess(
    models: Mapping[str, Path | str],
    extra_args: Sequence[str] = (),
    timeout: float = 120.0,
    workdir: Path | None = None,
) -> Iterator[ServedProcess]:
    """Start ``inferstream serve`` on free ports, wait until it serves, stop it (SIGINT) on exit.

    ``extra_args`` go to the command line as they are, e.g. ``["--no-batching"]`` or ``["--no-grpc"]``.
    """
    with tempfile.TemporaryDirectory(prefix="inferstream-serve-", dir=workdir) as tmp:
        ready, log = Path(tmp) / "ready.json", Path(tmp) / "serve.log"
        command = [*_command(), "serve", "--port", "0", "--grpc-port", "0", "--ready-file", str(ready)]
        for name, path in models.items():
            command += ["--model", f"{name}={path}"]
        command += list(extra_args)
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while not ready.exists():
                if process.poll() is not None:
                    why = f"exited with code {process.returncode}"
                    raise ServerStartError(f"inferstream serve {why}:\n{log.read_text()}")
                if time.monotonic() > deadline:
                    why = f"not ready after {timeout} s"
                    raise ServerStartError(f"inferstream serve {why}:\n{log.read_text()}")
                time.sleep(0.1)
            ports = json.loads(ready.read_text())
            yield ServedProcess(process, ports["host"], ports["rest_port"], ports["grpc_port"], log)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
