"""What the operations tests share: the CLI run as a user runs it, a project folder, a real server."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAUNCH = "from inferstream.cli.main import main; main()"


@dataclass
class Done:
    code: int
    out: str  # stdout and stderr together, as a terminal shows them
    seconds: float


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-c", LAUNCH, *args]


def inferstream(*args: str, cwd: Path, timeout: float = 240, env: dict[str, str] | None = None) -> Done:
    """Run ``inferstream ARGS`` to the end; its output as a wide terminal would show it."""
    started = time.monotonic()
    done = subprocess.run(
        cli_command(*args),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "250", **(env or {})},
    )
    return Done(done.returncode, done.stdout, time.monotonic() - started)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_project(folder: Path) -> Path:
    """A user's project folder: the sample data and a fraud model trained by ``inferstream train``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data").symlink_to(REPO / "data")
    done = inferstream("train", "fraud", "--epochs", "30", cwd=folder, timeout=300)
    assert done.code == 0, done.out[-3000:]
    return folder


@dataclass
class Served:
    rest: int
    grpc: int
    process: subprocess.Popen[bytes]

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc}"


@contextlib.contextmanager
def serving(
    project: Path, models: Sequence[str] = ("fraud=models/fraud",), grpc_port: int = 0
) -> Iterator[Served]:
    """``inferstream serve`` in the background until the block ends (SIGTERM, then SIGKILL)."""
    ready = project / f"serve-{time.monotonic_ns()}.json"
    args = [a for m in models for a in ("--model", m)]
    process = subprocess.Popen(
        cli_command("serve", *args, "--port", "0", "--grpc-port", str(grpc_port), "--ready-file", str(ready)),
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not ready.is_file():
            assert process.poll() is None, "inferstream serve ended before serving"
            assert time.monotonic() < deadline, "inferstream serve did not start within 120 s"
            time.sleep(0.1)
        ports = json.loads(ready.read_text())
        yield Served(int(ports["rest_port"]), int(ports["grpc_port"]), process)
    finally:
        stop(process)
        ready.unlink(missing_ok=True)


def stop(process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def summary(path: Path) -> dict:  # type: ignore[type-arg]
    return dict(json.loads(path.read_text()))
