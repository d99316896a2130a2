"""Micro-batching across records: stack records into one model call, split the answer per record.

Records from any number of concurrent ``score`` calls join one queue; a batch leaves when it
holds ``max_batch_size`` records or when its first record has waited ``max_batch_latency``.
Up to ``parallelism`` batches are in flight. Records whose inputs cannot be stacked together
(other names, dtypes or trailing shapes) wait in a batch of their own kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from inferstream.executors.base import Arrays, ModelExecutor, batch_size, check_outputs
from inferstream.executors.errors import ErrorKind, ExecutorError
from inferstream.executors.pool import BalancedExecutor

#: A record's stacking key: input name → (dtype, shape after the first dimension).
StackKey = tuple[tuple[str, str, tuple[int, ...]], ...]


@dataclass(frozen=True)
class RecordOutcome:
    """One record's result: ``outputs`` on success, else ``error`` says why (never both empty)."""

    outputs: Arrays | None
    error: str = ""
    error_kind: ErrorKind | None = None
    source: str = ""
    start_time_ms: int = 0  # epoch millis when the call carrying this record started
    duration_ms: int = 0
    batch_records: int = 0  # how many records shared the call

    @property
    def ok(self) -> bool:
        return self.outputs is not None


#: Called after every batch call: (records, seconds, outcome of the call: error or None).
BatchObserver = Callable[[int, float, ExecutorError | None], None]


@dataclass
class _Pending:
    inputs: dict[str, npt.NDArray[Any]]
    rows: int
    future: asyncio.Future[RecordOutcome]


@dataclass
class _Queue:
    records: list[_Pending] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class MicroBatcher:
    """Scores records through ``executor`` in stacked batches with bounded concurrency."""

    def __init__(
        self,
        executor: ModelExecutor,
        max_batch_size: int = 64,
        max_batch_latency: float = 0.005,
        parallelism: int = 4,
        observer: BatchObserver | None = None,
        isolate_rejected: bool = True,
    ) -> None:
        if max_batch_size < 1 or parallelism < 1:
            raise ValueError("max_batch_size and parallelism must be at least 1")
        self.executor = executor
        self.max_batch_size = max_batch_size
        self.max_batch_latency = max_batch_latency
        self.observer = observer
        # A rejected batch is retried one record per call, so one bad record cannot fail its neighbours.
        self.isolate_rejected = isolate_rejected
        self._slots = asyncio.Semaphore(parallelism)
        self._queues: dict[StackKey, _Queue] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.in_flight = 0

    async def score(self, records: Sequence[Mapping[str, npt.NDArray[Any]]]) -> list[RecordOutcome]:
        """Score every record; outcomes come back in the order of ``records``. Never raises for a record."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[RecordOutcome]] = []
        for record in records:
            future: asyncio.Future[RecordOutcome] = loop.create_future()
            futures.append(future)
            try:
                inputs = {name: np.asarray(value) for name, value in record.items()}
                rows = batch_size(inputs)
                key = _stack_key(inputs)
            except ExecutorError as exc:
                future.set_result(RecordOutcome(None, f"invalid record: {exc.args[0]}", exc.kind))
                continue
            self._enqueue(key, _Pending(inputs, rows, future))
        return list(await asyncio.gather(*futures))

    def _enqueue(self, key: StackKey, pending: _Pending) -> None:
        queue = self._queues.setdefault(key, _Queue())
        queue.records.append(pending)
        if len(queue.records) >= self.max_batch_size:
            self._flush(key)
        elif queue.timer is None:
            queue.timer = asyncio.get_running_loop().call_later(self.max_batch_latency, self._flush, key)

    def _flush(self, key: StackKey) -> None:
        queue = self._queues.get(key)
        if queue is None:
            return
        if queue.timer is not None:
            queue.timer.cancel()
            queue.timer = None
        while queue.records:
            batch, queue.records = queue.records[: self.max_batch_size], queue.records[self.max_batch_size :]
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        del self._queues[key]

    async def _run(self, batch: list[_Pending]) -> None:
        async with self._slots:
            self.in_flight += 1
            try:
                outcomes = await self._call(batch)
                if (
                    self.isolate_rejected
                    and len(batch) > 1
                    and outcomes[0].error_kind in (ErrorKind.REJECTED, ErrorKind.MALFORMED)
                ):
                    outcomes = [(await self._call([one]))[0] for one in batch]
            except BaseException as exc:  # cancelled while stopping: every waiter gets a reason
                for pending in batch:
                    if not pending.future.done():
                        reason = f"not scored: {exc!r}"
                        pending.future.set_result(RecordOutcome(None, reason, ErrorKind.SERVER))
                raise
            finally:
                self.in_flight -= 1
        for pending, outcome in zip(batch, outcomes, strict=True):
            if not pending.future.done():
                pending.future.set_result(outcome)

    async def _call(self, batch: list[_Pending]) -> list[RecordOutcome]:
        names = list(batch[0].inputs)
        stacked = (
            batch[0].inputs
            if len(batch) == 1
            else {name: np.concatenate([p.inputs[name] for p in batch]) for name in names}
        )
        start_ms = int(time.time() * 1000)
        started = time.perf_counter()
        error: ExecutorError | None = None
        source = self.executor.source
        outputs: Arrays = {}
        try:
            if isinstance(self.executor, BalancedExecutor):
                prediction = await self.executor.call(stacked)
                outputs, source = prediction.outputs, prediction.source
            else:
                outputs = await self.executor.predict(stacked)
            check_outputs(outputs, sum(p.rows for p in batch), (), source)
        except ExecutorError as exc:
            error = exc
        except Exception as exc:  # an executor bug must still end as error results, not a dead stage
            error = ExecutorError(ErrorKind.SERVER, f"{type(exc).__name__}: {exc}", source)
        seconds = time.perf_counter() - started
        if self.observer is not None:
            self.observer(len(batch), seconds, error)
        duration_ms = round(seconds * 1000)
        if error is not None:
            failed = RecordOutcome(
                None, str(error), error.kind, error.source or source, start_ms, duration_ms, len(batch)
            )
            return [failed] * len(batch)
        outcomes: list[RecordOutcome] = []
        row = 0
        for pending in batch:
            piece = {name: value[row : row + pending.rows] for name, value in outputs.items()}
            row += pending.rows
            outcomes.append(RecordOutcome(piece, "", None, source, start_ms, duration_ms, len(batch)))
        return outcomes

    async def close(self) -> None:
        """Send what is queued, then wait for every call in flight."""
        for key in list(self._queues):
            self._flush(key)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def abort(self) -> None:
        """Stop now: queued and in-flight records end as error outcomes."""
        for key, queue in list(self._queues.items()):
            if queue.timer is not None:
                queue.timer.cancel()
            for pending in queue.records:
                if not pending.future.done():
                    pending.future.set_result(RecordOutcome(None, "not scored: stopping", ErrorKind.SERVER))
            del self._queues[key]
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _stack_key(inputs: Mapping[str, npt.NDArray[Any]]) -> StackKey:
    return tuple(sorted((name, value.dtype.str, tuple(value.shape[1:])) for name, value in inputs.items()))
