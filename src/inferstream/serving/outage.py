"""Waiting out a model server outage instead of turning every record into an error record.

When a call fails because the server (or every endpoint of a balanced set) is unreachable —
refused, UNAVAILABLE, 502/503/504, timed out, after the executor's own retries — the records
are not answered with errors: :class:`OutageWaiter` keeps them and scores them again after a
capped, jittered backoff, for as long as ``max-wait`` allows (0: for ever). Meanwhile the batch's
``process`` call does not return, so the instance's in-flight slots fill up, nothing more is
consumed and nothing past those records is committed: backpressure. Errors that belong to a
record (the server rejected that input, a malformed answer) still become error records at once.

The outage is reported once: a WARNING when it starts (with how many records wait), an INFO
when the server answers again (with how long it was away); ``waiting`` says so meanwhile, for
``/state``, the metrics and the run's display. ``on-unavailable: error`` keeps the original's
behaviour: an unreachable server gives error records after the executor's retries.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from inferstream.executors.errors import TRANSIENT_KINDS
from inferstream.executors.micro_batching import Segment
from inferstream.executors.retry import Backoff

log = logging.getLogger("inferstream.serving")

#: Scores a stack: (inputs, row splits) → segments covering every record once (MicroBatcher.score_stacked).
ScoreStacked = Callable[[Mapping[str, npt.NDArray[Any]], npt.NDArray[np.int64]], Awaitable[list[Segment]]]
WAITING_STATUS = "waiting for model server"


class OutageWaiter:
    """Re-scores records whose call failed for want of a server, until they are answered."""

    def __init__(
        self,
        score: ScoreStacked,
        *,
        wait: bool = True,
        max_wait: float = 0.0,
        backoff: Backoff | None = None,
        target: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``wait=False``: on-unavailable=error. ``max_wait``: seconds a record may wait (0: no limit)."""
        self.score = score
        self.wait = wait
        self.max_wait = max_wait
        self.backoff = backoff or Backoff(0.1, 5.0)
        self.target = target
        self._clock = clock
        self.since: float | None = None  # when the current outage started (None: the server answers)
        self.waiting_records = 0  # records kept back right now
        self.outages = 0  # outages seen since the start
        self.waited_seconds = 0.0  # total time spent in finished outages

    @property
    def waiting(self) -> bool:
        return self.since is not None

    def status(self) -> str:
        """``waiting for model server`` during an outage, else ``running``."""
        return WAITING_STATUS if self.waiting else "running"

    def outage_seconds(self) -> float:
        return 0.0 if self.since is None else self._clock() - self.since

    async def score_stacked(
        self, inputs: Mapping[str, npt.NDArray[Any]], splits: npt.NDArray[np.int64]
    ) -> list[Segment]:
        """Like the batcher's ``score_stacked``, but records that met an outage are scored again."""
        segments = await self.score(inputs, splits)
        if not self.wait or not _unavailable(segments):
            return segments
        started = self._clock()
        attempt = 0
        held = sum(s.end - s.first for s in segments if _is_unavailable(s))
        self.waiting_records += held
        self._unavailable(segments)
        try:
            while failed := [s for s in segments if _is_unavailable(s)]:
                if self.max_wait and self._clock() - started >= self.max_wait:
                    log.error("%d records waited %.0f s (max-wait) for the model server at %s; they "
                              "become error records", sum(s.end - s.first for s in failed),
                              self._clock() - started, self.target)  # fmt: skip
                    return segments
                await asyncio.sleep(self.backoff.delay(attempt))
                attempt += 1
                segments = await self._rescore(inputs, splits, segments)
                if _unavailable(segments):
                    self._unavailable(segments)  # down again after it had come back
                else:
                    self._answered()
            return segments
        finally:
            self.waiting_records -= held
            if not self.waiting_records:  # nobody waits any more (answered, gave up or cancelled)
                self.since = None

    async def _rescore(
        self, inputs: Mapping[str, npt.NDArray[Any]], splits: npt.NDArray[np.int64], segments: list[Segment]
    ) -> list[Segment]:
        """Segments again, the unavailable ones replaced by a new attempt at their records."""
        out: list[Segment] = []
        for segment in segments:
            if not _is_unavailable(segment):
                out.append(segment)
                continue
            lo, hi = int(splits[segment.first]), int(splits[segment.end])
            part = {name: value[lo:hi] for name, value in inputs.items()}
            part_splits = splits[segment.first : segment.end + 1] - lo
            for again in await self.score(part, part_splits):
                first, end = again.first + segment.first, again.end + segment.first
                out.append(Segment(first, end, again.outputs, again.call))
        return out

    def _unavailable(self, segments: list[Segment]) -> None:
        if self.since is None:
            self.since = self._clock()
            self.outages += 1
            reason = next((s.call.error for s in segments if _is_unavailable(s)), "")
            log.warning(
                "model server %s is unavailable (%s); %d records wait and nothing more is consumed "
                "until it answers (on-unavailable: wait)", self.target, reason, self.waiting_records,
            )  # fmt: skip

    def _answered(self) -> None:
        if self.since is None:  # another caller saw the server back first
            return
        away = self._clock() - self.since
        self.waited_seconds += away
        self.since = None
        log.info(
            "model server %s answers again after %.1f s; the waiting records are scored", self.target, away
        )


def _is_unavailable(segment: Segment) -> bool:
    return segment.outputs is None and segment.call.error_kind in TRANSIENT_KINDS


def _unavailable(segments: list[Segment]) -> bool:
    return any(_is_unavailable(s) for s in segments)
