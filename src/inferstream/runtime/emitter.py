"""The :class:`~inferstream.runtime.streamlet.Output` an instance gives to ``run`` and ``process``.

For a consumed batch (its offset-tracker ``ticket``), the first emit waits for the batch's turn:
outputs leave in consumption order per partition however many batches are in flight, and a batch
that is ready early waits only for its predecessor's emits, never for their acknowledgements.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from inferstream.observability import stage_times
from inferstream.runtime.offsets import Ticket
from inferstream.runtime.streamlet import Outlet

if TYPE_CHECKING:
    from inferstream.runtime.instance import StreamletInstance


class Emitter:
    def __init__(
        self, instance: StreamletInstance, acks: list[Awaitable[None]], ticket: Ticket | None = None
    ) -> None:
        self._instance = instance
        self._acks = acks
        self._ticket = ticket

    async def emit(self, outlet: Outlet, batch: Any) -> None:
        if self._ticket is not None:
            stage_times.mark("emit")
            await self._ticket.turn()
            stage_times.mark("turn")
            self._ticket = None  # the turn lasts until the batch's process() returns
        await self._instance.emit(outlet, batch, self._acks)
