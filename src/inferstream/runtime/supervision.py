"""When a process of a multi-process run dies, start it again: capped exponential backoff, a budget.

An instance process that exits on its own with a failure (killed with ``kill -9``, out of memory,
a crash) while the run goes on is restarted after 1 s, 2 s, 4 s ... up to ``max_delay``; it
rejoins its consumer group and resumes from the committed positions (at-least-once: its
unfinished batches are read again; exactly-once: its open transaction is fenced and aborted). A
process that keeps dying — more than ``max_restarts`` times within ``window`` seconds — is given
up on, and the run stops as before. Every decision is logged, so the run says what happened.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from inferstream.runtime.outcome import describe_exit

log = logging.getLogger("inferstream.runtime")

Key = tuple[str, int]


@dataclass
class RestartPolicy:
    """Backoff and budget of restarts, per instance."""

    initial_delay: float = 1.0
    max_delay: float = 30.0
    max_restarts: int = 5
    window: float = 300.0
    clock: Callable[[], float] = time.monotonic
    _history: dict[Key, list[float]] = field(default_factory=dict)
    _due: dict[Key, float] = field(default_factory=dict)

    def failed(self, key: Key, code: int) -> bool:
        """Note an unexpected exit; False when the instance has used up its restarts (give up)."""
        now = self.clock()
        recent = [t for t in self._history.get(key, []) if now - t < self.window]
        name = f"{key[0]}.{key[1]}"
        if self.max_restarts == 0:
            log.error("%s %s; restarts are off (--no-restart): the run stops", name, describe_exit(code))
            return False
        if len(recent) >= self.max_restarts:
            log.error("%s %s; it was restarted %d times in %.0f s, giving up (the run stops)",
                      name, describe_exit(code), len(recent), self.window)  # fmt: skip
            return False
        delay = min(self.max_delay, self.initial_delay * 2 ** len(recent))
        delay *= random.uniform(0.8, 1.2)  # restarts of several instances spread out
        recent.append(now)
        self._history[key] = recent
        self._due[key] = now + delay
        log.warning("%s %s; restarting it in %.1f s (restart %d of at most %d per %.0f s)", name,
                    describe_exit(code), delay, len(recent), self.max_restarts, self.window)  # fmt: skip
        return True

    def due(self) -> list[Key]:
        """Instances whose restart delay has passed (each returned once)."""
        now = self.clock()
        ready = [key for key, at in self._due.items() if at <= now]
        for key in ready:
            del self._due[key]
        return ready

    def pending(self, key: Key) -> bool:
        return key in self._due

    def restarts(self, key: Key) -> int:
        return len(self._history.get(key, []))
