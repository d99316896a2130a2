"""A run of ``inferstream run ... --console 127.0.0.1:0`` as a child process, for the browser tests."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

CONSOLE_LINE = re.compile(r"console: (http://\S+)")


class RunWithConsole:
    """``inferstream run ... --console 127.0.0.1:0`` as a child process; ``url`` once the console listens."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        inferstream = shutil.which("inferstream", path=str(Path(sys.executable).parent)) or "inferstream"
        env = {**os.environ, "COLUMNS": "200"}
        self.process = subprocess.Popen(
            [inferstream, "run", *args, "--console", "127.0.0.1:0", "--no-progress"],
            stdout=self._out, stderr=subprocess.STDOUT, env=env,
        )
        self.url = self._wait_for_url(timeout=90)

    def _wait_for_url(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = CONSOLE_LINE.search(self.log.read_text(errors="replace"))
            if found:
                return found.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"no console address printed; the run said:\n{self.log.read_text()}")

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._out.close()
