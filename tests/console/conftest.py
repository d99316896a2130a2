"""Fixtures of the console tests: a trained fraud model, the built-in server, a real headless Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
# Root needs --no-sandbox; the rest keep a test browser from calling out or doing background work.
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


# Module scope, not session: while sync_playwright is open, its event loop runs in the main thread and
# every later test that calls asyncio.run() (in-process CLI tests) would fail.
@pytest.fixture(scope="module")
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
