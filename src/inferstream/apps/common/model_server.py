"""Start the built-in model server (``inferstream serve``) as a child process and stop it again.

Used by ``inferstream demo`` and the end-to-end tests: free ports by default (or given ones, to
bring a stopped server back where clients expect it), readiness from the server's ready file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

# ``python -m inferstream.cli.main`` would register the verbs on a second copy of the app.
_LAUNCH = "from inferstream.cli.main import main; main()"


class ModelServerError(RuntimeError):
    """The server did not come up; the message carries the end of its log."""


class ModelServerProcess:
    """``with ModelServerProcess({"fraud": Path("models/fraud")}) as server: server.grpc_target``."""

    def __init__(
        self,
        models: dict[str, Path],
        rest_port: int = 0,
        grpc_port: int = 0,
        ready_timeout: float = 90.0,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.models = models
        self.rest_port = rest_port
        self.grpc_port = grpc_port
        self.ready_timeout = ready_timeout
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None
        self._workdir = Path(tempfile.mkdtemp(prefix="inferstream-serve-"))
        self.log_path = self._workdir / "server.log"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def rest_target(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    def start(self) -> ModelServerProcess:
        ready = self._workdir / "ready.json"
        ready.unlink(missing_ok=True)
        args = [sys.executable, "-c", _LAUNCH, "serve", "--host", "127.0.0.1"]
        args += [
            "--port",
            str(self.rest_port),
            "--grpc-port",
            str(self.grpc_port),
            "--ready-file",
            str(ready),
        ]
        for name, path in self.models.items():
            args += ["--model", f"{name}={path}"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*args, *self.extra_args], stdout=log, stderr=subprocess.STDOUT, env=_quiet_env()
            )
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if ready.is_file() and ready.stat().st_size:
                try:
                    info = json.loads(ready.read_text())
                except ValueError:
                    info = None  # written as we read it: try again
                if info:
                    self.rest_port, self.grpc_port = int(info["rest_port"]), int(info["grpc_port"])
                    return self
            if self.process.poll() is not None:
                raise ModelServerError(
                    f"the model server exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            time.sleep(0.1)
        self.stop()
        raise ModelServerError(
            f"the model server was not ready after {self.ready_timeout:.0f} s:\n{self.log_tail()}"
        )

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; safe to call twice."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(grace)

    def kill(self) -> None:
        """Stop abruptly, as a crash would (SIGKILL)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> ModelServerProcess:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _quiet_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["COLUMNS"] = "120"
    return env
