"""Failed records in the log, rate-limited: a reason a person can read, never a line per record.

Each instance logs its dead letters and error results through one :class:`FailureLog`: the
first failure of a kind is logged at once with its reason; later ones within ``interval``
seconds are counted and reported with the next line (``... and 311 more since``), so an outage
that fails 100,000 records writes a line every few seconds, not 100,000.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Kind:
    last: float = float("-inf")
    hidden: int = 0


class FailureLog:
    """Rate-limited WARNING lines about failed records of one instance."""

    def __init__(self, log: logging.Logger, name: str, interval: float = 5.0) -> None:
        self.log = log
        self.name = name
        self.interval = interval
        self._kinds: dict[str, _Kind] = {}

    def failed(self, kind: str, count: int, where: str, reason: str | Callable[[], str]) -> None:
        """``count`` records became ``kind`` (e.g. "dead letters") at ``where``, the first for ``reason``
        (a callable is asked only when a line is written)."""
        if count <= 0:
            return
        state = self._kinds.setdefault(kind, _Kind())
        now = time.monotonic()
        if now - state.last < self.interval:
            state.hidden += count
            return
        more = f" (and {state.hidden:,} more since the last line)" if state.hidden else ""
        if callable(reason):
            try:
                reason = reason()
            except Exception as exc:  # a log line must never fail the batch
                reason = f"(reason unreadable: {type(exc).__name__}: {exc})"
        self.log.warning("%s: %d %s on %s: %s%s", self.name, count, kind, where, _short(reason), more)
        state.last, state.hidden = now, 0

    def close(self) -> None:
        """Say how many were not shown since the last line."""
        for kind, state in self._kinds.items():
            if state.hidden:
                self.log.warning(
                    "%s: %d more %s not shown since the last line", self.name, state.hidden, kind
                )
                state.hidden = 0


def _short(reason: str, limit: int = 300) -> str:
    return reason if len(reason) <= limit else reason[: limit - 1] + "…"
