"""At-least-once bookkeeping and output order: which consumed positions may be committed, and
when a batch may emit.

Batches are tracked in consumption order per partition and finish in any order (many calls in
flight); only the contiguous prefix of finished batches is committable, so a commit never skips
a record whose derived outputs are not acknowledged yet::

    tracker = OffsetTracker()
    a = tracker.track(tp, next_offset=100)
    b = tracker.track(tp, next_offset=200)
    tracker.done(b); tracker.committable()   # {} : batch a is still in flight
    tracker.done(a); tracker.committable()   # {tp: 200}

The same tickets keep outputs in consumption order per partition: a batch's ``turn()`` returns
once the batch consumed before it on its partition has finished emitting (``emitted()``), so a
batch that is ready early waits for its predecessor's emits only — not for its acknowledgement.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from inferstream.transports.base import TopicPartition


@dataclass(slots=True, eq=False)
class Ticket:
    """One tracked batch: committing ``next_offset`` is allowed once it and all earlier batches are done."""

    tp: TopicPartition
    next_offset: int
    done: bool = False
    previous: Ticket | None = None  # the batch consumed just before on this partition, until it emitted
    _emitted: asyncio.Future[None] | None = field(default=None, repr=False)

    async def turn(self) -> None:
        """Wait until every batch consumed before this one on its partition has emitted."""
        previous = self.previous
        if previous is not None and not previous.has_emitted:
            await asyncio.shield(previous._signal())
        self.previous = None  # no chain of finished tickets is kept alive

    def emitted(self) -> None:
        """This batch will emit nothing more; the next one of its partition may go as soon as every
        earlier one has emitted too (a batch that emitted nothing may end before its predecessors)."""
        previous, self.previous = self.previous, None
        if previous is not None and not previous.has_emitted:
            previous._signal().add_done_callback(lambda _: self._resolve())
        else:
            self._resolve()

    @property
    def has_emitted(self) -> bool:
        """This batch and every earlier one of its partition have emitted."""
        return self._emitted is not None and self._emitted.done()

    def _signal(self) -> asyncio.Future[None]:
        if self._emitted is None:
            self._emitted = asyncio.get_running_loop().create_future()
        return self._emitted

    def _resolve(self) -> None:
        signal = self._signal()
        if not signal.done():
            signal.set_result(None)


class OffsetTracker:
    def __init__(self) -> None:
        self._pending: dict[TopicPartition, deque[Ticket]] = {}
        self._ready: dict[TopicPartition, int] = {}

    def track(self, tp: TopicPartition, next_offset: int) -> Ticket:
        """Register a consumed batch; call in consumption order per partition."""
        queue = self._pending.setdefault(tp, deque())
        last = queue[-1] if queue else None
        ticket = Ticket(tp, next_offset, previous=last if last is not None and not last.has_emitted else None)
        queue.append(ticket)
        return ticket

    def done(self, ticket: Ticket) -> None:
        """Every record derived from the ticket's batch is acknowledged."""
        ticket.done = True
        queue = self._pending.get(ticket.tp)
        while queue and queue[0].done:
            self._ready[ticket.tp] = queue.popleft().next_offset

    def committable(self) -> dict[TopicPartition, int]:
        """Offsets that became committable since the last call (and forget them)."""
        ready, self._ready = self._ready, {}
        return ready

    def forget(self, tp: TopicPartition) -> None:
        """Drop a revoked partition: its in-flight batches will be re-read by the new owner."""
        self._pending.pop(tp, None)
        self._ready.pop(tp, None)

    @property
    def in_flight(self) -> int:
        return sum(len(queue) for queue in self._pending.values())
