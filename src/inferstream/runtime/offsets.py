"""At-least-once bookkeeping: which consumed positions may be committed.

Batches are tracked in consumption order per partition and finish in any order (many calls in
flight); only the contiguous prefix of finished batches is committable, so a commit never skips
a record whose derived outputs are not acknowledged yet::

    tracker = OffsetTracker()
    a = tracker.track(tp, next_offset=100)
    b = tracker.track(tp, next_offset=200)
    tracker.done(b); tracker.committable()   # {} : batch a is still in flight
    tracker.done(a); tracker.committable()   # {tp: 200}
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from inferstream.transports.base import TopicPartition


@dataclass(slots=True)
class Ticket:
    """One tracked batch: committing ``next_offset`` is allowed once it and all earlier batches are done."""

    tp: TopicPartition
    next_offset: int
    done: bool = False


class OffsetTracker:
    def __init__(self) -> None:
        self._pending: dict[TopicPartition, deque[Ticket]] = {}
        self._ready: dict[TopicPartition, int] = {}

    def track(self, tp: TopicPartition, next_offset: int) -> Ticket:
        """Register a consumed batch; call in consumption order per partition."""
        ticket = Ticket(tp, next_offset)
        self._pending.setdefault(tp, deque()).append(ticket)
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
