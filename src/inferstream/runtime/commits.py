"""Committing acknowledged positions: at most one commit request per interval, not one per batch.

A commit per finished batch costs the broker a request and the instance's loop a call each, on
the records' path (hundreds per second at full rate). :class:`Committer` gathers what became
committable (:class:`~inferstream.runtime.offsets.OffsetTracker`) and commits it
``interval`` seconds after the first batch finished; ``now()`` commits at once (stopping).
"""

from __future__ import annotations

import asyncio
import logging

from inferstream.runtime.offsets import OffsetTracker
from inferstream.transports.base import Consumer

log = logging.getLogger("inferstream.runtime")


class Committer:
    def __init__(
        self, consumer: Consumer, tracker: OffsetTracker, interval: float, stopping: asyncio.Event
    ) -> None:
        self.consumer = consumer
        self.tracker = tracker
        self.interval = interval
        self._stopping = stopping
        self._scheduled = False

    async def now(self) -> None:
        offsets = self.tracker.committable()
        if offsets:
            await self.consumer.commit(offsets)

    def soon(self) -> None:
        """Commit within ``interval`` whatever is committable by then."""
        if self._scheduled:
            return
        self._scheduled = True
        asyncio.get_running_loop().call_later(self.interval, self._due)

    def _due(self) -> None:
        self._scheduled = False
        if self._stopping.is_set():
            return  # the consume loop commits once more when it ends
        asyncio.ensure_future(self.now()).add_done_callback(_log_failure)


def _log_failure(task: asyncio.Future[None]) -> None:
    # Not fatal for at-least-once: the next commit covers these positions.
    if not task.cancelled() and task.exception() is not None:
        log.warning("commit failed (the next one covers it): %s", task.exception())
