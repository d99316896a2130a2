"""Fixtures of the console tests: a trained fraud model, the built-in server, a real headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inferstream.apps.fraud.data import load_transactions
from inferstream.apps.fraud.training import train_fraud

CHROMIUM = "/usr/bin/chromium"
# Root needs --no-sandbox; the rest keep a test browser from calling out or doing background work.
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
CONSOLE_LINE = re.compile(r"console: (http://\S+)")


@pytest.fixture(scope="session")
def fraud_models(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    """A model base folder holding ``fraud/1`` as ``inferstream train fraud`` makes it."""
    root = tmp_path_factory.mktemp("console-models")
    train_fraud(load_transactions(repo_root / "data/creditcard-sample.csv"), root)
    return root


@pytest.fixture(scope="session")
def browser(repo_root: Path) -> Iterator[Any]:
    """Debian's Chromium driven by playwright (scripts/browser/install.sh installs both when missing)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None or not Path(CHROMIUM).exists():
        env = {**os.environ, "VENV_PYTHON": sys.executable}
        subprocess.run(["bash", str(repo_root / "scripts/browser/install.sh")], check=True, env=env)
        from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


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
