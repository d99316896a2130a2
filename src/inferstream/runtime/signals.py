"""SIGINT/SIGTERM ask a running pipeline (in-process or a process tree) for a clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable


def install_stop_handlers(stop: Callable[[], None]) -> None:
    """Call ``stop`` on SIGINT and SIGTERM in the running event loop (a no-op where unsupported)."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop)
