"""Pacing for ingresses: how many records are due now at a target rate, emitted in batches."""

from __future__ import annotations

import time
from datetime import timedelta

from inferstream.runtime import StreamletContext


def rate_from(frequency: timedelta, rate: float) -> float:
    """Records per second from an explicit ``rate`` (wins when > 0) or a record ``frequency``;
    0 means as fast as the pipeline takes them."""
    if rate > 0:
        return rate
    seconds = frequency.total_seconds()
    return 1.0 / seconds if seconds > 0 else 0.0


class Pacer:
    """Hands out batch sizes so that ``sent / elapsed`` stays at ``rate`` (0: unthrottled)."""

    def __init__(self, rate: float, max_batch: int) -> None:
        self.rate = rate
        self.max_batch = max_batch
        self.sent = 0
        self._start = time.monotonic()

    async def next_batch(self, ctx: StreamletContext) -> int:
        """Records to emit now (≥ 1), after sleeping until at least one is due; 0 once stopping."""
        if self.rate <= 0:
            return self.max_batch if ctx.running else 0
        while ctx.running:
            due = int((time.monotonic() - self._start) * self.rate) + 1 - self.sent
            if due >= 1:
                return min(due, self.max_batch)
            if not await ctx.sleep((1 - due) / self.rate):
                break
        return 0
