"""Adaptive batching: merge concurrent requests to one model into one inference call.

Requests wait in a queue; a free worker takes every compatible queued request at once (up to
``max_batch_size`` rows), stacks their inputs along the first axis, runs the model on a thread,
and hands each request back its own slice of the outputs. Under light load a batch is a single
request (no added latency); under heavy load batches grow by themselves.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inferstream.models import Arrays
from inferstream.observability import tracing


def _shape_key(inputs: Arrays) -> tuple[Any, ...]:
    # Requests can share a batch when every input agrees on dtype and on all but the first dimension.
    return tuple((name, value.dtype.str, value.shape[1:]) for name, value in sorted(inputs.items()))


def rows_of(inputs: Arrays) -> int:
    """Rows of a request: the first dimension of its inputs (1 for scalars, 0 for no inputs)."""
    first = next(iter(inputs.values()), None)
    if first is None:
        return 0
    return int(first.shape[0]) if first.ndim else 1


class QueueFull(Exception):
    """More rows wait than the batcher may hold: the server is overloaded, the caller should back off."""


@dataclass
class _Pending:
    inputs: Arrays
    rows: int
    key: tuple[Any, ...]
    future: asyncio.Future[Arrays] = field(repr=False)
    trace: Any = None  # the request's trace context when the caller is traced
    queued_ns: int = 0


class AdaptiveBatcher:
    """Runs ``run`` on stacked inputs; ``submit`` returns the caller's own rows of the outputs."""

    def __init__(
        self,
        run: Callable[[Arrays], Arrays],
        executor: Executor,
        max_batch_size: int = 256,
        max_wait_s: float = 0.0,
        workers: int = 1,
        on_batch: Callable[[int, int], None] | None = None,
        max_queued_rows: int = 65_536,
    ) -> None:
        self._run = run
        self._executor = executor
        self._max_rows = max_batch_size
        self._max_wait = max_wait_s
        self._max_queued = max_queued_rows  # bounds memory under overload
        self._queued_rows = 0
        self._on_batch = on_batch  # (requests, rows) per inference call, for metrics
        self._queue: collections.deque[_Pending] = collections.deque()
        self._wakeup = asyncio.Event()
        self._workers = [asyncio.create_task(self._work()) for _ in range(workers)]

    async def submit(self, inputs: Arrays) -> Arrays:
        rows = rows_of(inputs)
        if self._queued_rows and self._queued_rows + rows > self._max_queued:
            raise QueueFull(f"{self._queued_rows} rows are waiting already (limit {self._max_queued})")
        future: asyncio.Future[Arrays] = asyncio.get_running_loop().create_future()
        trace = tracing.traced_context()
        queued = time.time_ns() if trace is not None else 0
        self._queue.append(_Pending(inputs, rows, _shape_key(inputs), future, trace, queued))
        self._queued_rows += rows
        self._wakeup.set()
        return await future

    async def close(self) -> None:
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        while self._queue:
            pending = self._queue.popleft()
            if not pending.future.done():
                pending.future.set_exception(RuntimeError("the server is shutting down"))

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            if self._max_wait > 0 and self._queued_rows < self._max_rows:
                await asyncio.sleep(self._max_wait)
            batch = self._take()
            if not batch:
                continue
            started = time.time_ns()
            try:
                results = await loop.run_in_executor(self._executor, self._run_batch, batch)
                _trace(batch, started)
            except Exception as exc:  # the model failed: every request of the batch gets the reason
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                continue
            for pending, result in zip(batch, results, strict=True):
                if not pending.future.done():  # the caller may have gone away (cancelled)
                    pending.future.set_result(result)

    def _take(self) -> list[_Pending]:
        """The oldest request plus every queued request that fits with it, in arrival order."""
        first = self._queue.popleft()
        batch, rows, skipped = [first], first.rows, []
        while self._queue and rows < self._max_rows:
            pending = self._queue.popleft()
            if pending.key == first.key and rows + pending.rows <= self._max_rows:
                batch.append(pending)
                rows += pending.rows
            else:
                skipped.append(pending)
        self._queue.extendleft(reversed(skipped))
        self._queued_rows -= rows
        return [p for p in batch if not p.future.cancelled()]

    def _run_batch(self, batch: list[_Pending]) -> list[Arrays]:
        if self._on_batch is not None:
            self._on_batch(len(batch), sum(p.rows for p in batch))
        if len(batch) == 1:
            return [self._run(batch[0].inputs)]
        stacked = {name: np.concatenate([p.inputs[name] for p in batch]) for name in batch[0].inputs}
        outputs = self._run(stacked)
        total = sum(p.rows for p in batch)
        if any(value.ndim == 0 or value.shape[0] != total for value in outputs.values()):
            # The model does not answer row for row, so its outputs cannot be split: run one by one.
            return [self._run(p.inputs) for p in batch]
        bounds = np.cumsum([p.rows for p in batch])[:-1]
        parts = {name: np.split(value, bounds) for name, value in outputs.items()}
        return [{name: parts[name][i] for name in outputs} for i in range(len(batch))]


def _trace(batch: list[_Pending], started_ns: int) -> None:
    """For traced requests: the time each waited in the queue and the model run its batch took."""
    ended = time.time_ns()
    rows = sum(p.rows for p in batch)
    for pending in batch:
        if pending.trace is not None:
            tracing.span_between("queue wait", pending.trace, pending.queued_ns, started_ns)
            tracing.span_between("model run", pending.trace, started_ns, ended, rows=rows,
                                 requests=len(batch))
