"""Micro-batching across records: stack records into one model call, split the answer per record.

Callers hand over records already stacked (``score_stacked``: arrays whose first dimension holds
the rows of many records, with row splits) or one by one (``score``). Records of any number of
concurrent callers join one queue per input layout; a call leaves when it holds
``max_batch_size`` records, when its first record has waited ``max_batch_latency``, or at once
when fewer than ``parallelism`` calls are in flight (a free slot has nothing to wait for). Up to
``parallelism`` calls are in flight. Work per call is vectorised: slicing stacks, not looping
over records.
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
from inferstream.observability import tracing

#: A stack's layout: input name → (dtype, shape after the first dimension).
StackKey = tuple[tuple[str, str, tuple[int, ...]], ...]
#: Called after every model call: (records, seconds, outcome of the call: error or None).
BatchObserver = Callable[[int, float, ExecutorError | None], None]
ISOLATED_KINDS = (ErrorKind.REJECTED, ErrorKind.MALFORMED)


@dataclass(frozen=True)
class CallInfo:
    """How the call that carried some records went; shared by all of them."""

    error: str = ""
    error_kind: ErrorKind | None = None
    source: str = ""
    start_time_ms: int = 0  # epoch millis when the call started
    duration_ms: int = 0
    batch_records: int = 0  # how many records shared the call
    started_at: float = 0.0  # epoch seconds, full precision (stage timings)
    seconds: float = 0.0


@dataclass(frozen=True)
class Segment:
    """Records ``first``..``end`` (exclusive) of a stack, answered by one call.

    ``outputs`` holds their rows (``None`` when the call failed); their row splits are the
    input's, since a model answers row for row.
    """

    first: int
    end: int
    outputs: Arrays | None
    call: CallInfo


@dataclass(frozen=True)
class RecordOutcome:
    """One record's result: ``outputs`` on success, else ``error`` says why (never both empty)."""

    outputs: Arrays | None
    error: str = ""
    error_kind: ErrorKind | None = None
    source: str = ""
    start_time_ms: int = 0
    duration_ms: int = 0
    batch_records: int = 0

    @property
    def ok(self) -> bool:
        return self.outputs is not None


@dataclass
class _Stack:
    """One caller's stack; resolved once every part of it has been answered."""

    inputs: dict[str, npt.NDArray[Any]]
    splits: npt.NDArray[np.int64]  # row splits, len = records + 1, starting at 0
    future: asyncio.Future[list[Segment]]
    waiting: int = 0  # records not answered yet
    segments: list[Segment] = field(default_factory=list)
    traces: list[Any] | None = None  # per record: its trace context when sampled (tracing on)
    enqueued_ns: int = 0

    def answer(self, segment: Segment) -> None:
        self.segments.append(segment)
        self.waiting -= segment.end - segment.first
        if self.waiting <= 0 and not self.future.done():
            self.future.set_result(sorted(self.segments, key=lambda s: s.first))


@dataclass(frozen=True)
class _Part:
    """Records ``first``..``end`` of ``stack`` travelling in one call."""

    stack: _Stack
    first: int
    end: int

    @property
    def records(self) -> int:
        return self.end - self.first

    def rows(self, name: str) -> npt.NDArray[Any]:
        splits = self.stack.splits
        return self.stack.inputs[name][int(splits[self.first]) : int(splits[self.end])]


@dataclass
class _Queue:
    parts: list[_Part] = field(default_factory=list)
    records: int = 0
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
        self.parallelism = parallelism
        self._slots = asyncio.Semaphore(parallelism)
        self._queues: dict[StackKey, _Queue] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.in_flight = 0

    # -- entry points ---------------------------------------------------------------------------
    async def score_stacked(
        self, inputs: Mapping[str, npt.NDArray[Any]], row_splits: Sequence[int] | npt.NDArray[Any]
    ) -> list[Segment]:
        """Score the records of a stack (record ``i`` is rows ``row_splits[i]:row_splits[i+1]`` of every
        input); segments cover every record once, in order. Never raises for a record."""
        splits = np.asarray(row_splits, dtype=np.int64)
        records = len(splits) - 1
        future: asyncio.Future[list[Segment]] = asyncio.get_running_loop().create_future()
        if records <= 0:
            return []
        arrays = {name: np.asarray(value) for name, value in inputs.items()}
        try:
            rows = batch_size(arrays)
            if splits[0] != 0 or splits[-1] != rows or np.any(np.diff(splits) < 0):
                raise ExecutorError(ErrorKind.REJECTED, f"row splits do not cover the {rows} rows")
            key = _stack_key(arrays)
        except ExecutorError as exc:
            return [Segment(0, records, None, CallInfo(f"invalid records: {exc.args[0]}", exc.kind))]
        stack = _Stack(arrays, splits, future, waiting=records)
        traced = tracing.current_batch()
        if traced is not None and traced.size == records:  # the stack is the batch being processed
            stack.traces, stack.enqueued_ns = tracing.batch_contexts(range(records)), time.time_ns()
        self._enqueue(key, _Part(stack, 0, records))
        return await future

    async def score(self, records: Sequence[Mapping[str, npt.NDArray[Any]]]) -> list[RecordOutcome]:
        """Score records given one by one; outcomes come back in order. Never raises for a record."""
        outcomes: list[RecordOutcome | None] = [None] * len(records)
        groups: dict[StackKey, list[int]] = {}
        prepared: list[dict[str, npt.NDArray[Any]]] = []
        for index, record in enumerate(records):
            inputs = {name: np.asarray(value) for name, value in record.items()}
            prepared.append(inputs)
            try:
                batch_size(inputs)
                groups.setdefault(_stack_key(inputs), []).append(index)
            except ExecutorError as exc:
                outcomes[index] = RecordOutcome(None, f"invalid record: {exc.args[0]}", exc.kind)

        async def one_group(indices: list[int]) -> None:
            names = list(prepared[indices[0]])
            stacked = {n: np.concatenate([prepared[i][n] for i in indices]) for n in names}
            splits = np.zeros(len(indices) + 1, dtype=np.int64)
            np.cumsum([len(prepared[i][names[0]]) for i in indices], out=splits[1:])
            for segment in await self.score_stacked(stacked, splits):
                for k in range(segment.first, segment.end):
                    piece = None
                    if segment.outputs is not None:
                        lo, hi = splits[k] - splits[segment.first], splits[k + 1] - splits[segment.first]
                        piece = {n: v[lo:hi] for n, v in segment.outputs.items()}
                    outcomes[indices[k]] = RecordOutcome(piece, *_call_fields(segment.call))

        await asyncio.gather(*(one_group(indices) for indices in groups.values()))
        return [o for o in outcomes if o is not None]

    # -- queueing -------------------------------------------------------------------------------
    def _enqueue(self, key: StackKey, part: _Part) -> None:
        queue = self._queues.setdefault(key, _Queue())
        queue.parts.append(part)
        queue.records += part.records
        while queue.records >= self.max_batch_size:
            self._launch(self._take(queue, self.max_batch_size))
        if queue.records and len(self._tasks) < self.parallelism:
            # A call slot is free: waiting for the batch to fill would only add latency (adaptive
            # batching: under load the slots are busy and batches fill while records queue).
            self._launch(self._take(queue, queue.records))
        if queue.records == 0:
            if queue.timer is not None:
                queue.timer.cancel()
            del self._queues[key]
        elif queue.timer is None:
            queue.timer = asyncio.get_running_loop().call_later(self.max_batch_latency, self._flush, key)

    def _take(self, queue: _Queue, count: int) -> list[_Part]:
        """The first ``count`` records of the queue, splitting a part if it straddles the cut."""
        taken: list[_Part] = []
        while count > 0 and queue.parts:
            part = queue.parts[0]
            if part.records <= count:
                taken.append(queue.parts.pop(0))
                count -= part.records
                queue.records -= part.records
            else:
                taken.append(_Part(part.stack, part.first, part.first + count))
                queue.parts[0] = _Part(part.stack, part.first + count, part.end)
                queue.records -= count
                count = 0
        return taken

    def _flush(self, key: StackKey) -> None:
        queue = self._queues.pop(key, None)
        if queue is None:
            return
        if queue.timer is not None:
            queue.timer.cancel()
        while queue.records:
            self._launch(self._take(queue, self.max_batch_size))

    def _launch(self, parts: list[_Part]) -> None:
        task = asyncio.get_running_loop().create_task(self._run(parts))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- calling --------------------------------------------------------------------------------
    async def _run(self, parts: list[_Part]) -> None:
        async with self._slots:
            self.in_flight += 1
            try:
                segments = await self._call(parts)
                records = sum(p.records for p in parts)
                if self.isolate_rejected and records > 1 and segments[0][0].call.error_kind in ISOLATED_KINDS:
                    singles = [_Part(p.stack, k, k + 1) for p in parts for k in range(p.first, p.end)]
                    segments = [(await self._call([one]))[0] for one in singles]
            except BaseException as exc:  # cancelled while stopping: every waiter gets a reason
                reason = CallInfo(f"not scored: {exc!r}", ErrorKind.SERVER)
                for part in parts:
                    part.stack.answer(Segment(part.first, part.end, None, reason))
                raise
            finally:
                self.in_flight -= 1
        stacks = {id(p.stack): p.stack for p in parts}
        for segment, stack_id in segments:
            stacks[stack_id].answer(segment)

    async def _call(self, parts: list[_Part]) -> list[tuple[Segment, int]]:
        """One model call for ``parts``; a segment per part (tagged with its stack's id)."""
        names = list(parts[0].stack.inputs)
        pieces = {name: [p.rows(name) for p in parts] for name in names}
        stacked = {n: v[0] if len(v) == 1 else np.concatenate(v) for n, v in pieces.items()}
        rows = len(stacked[names[0]]) if names else 0
        records = sum(p.records for p in parts)
        started_at = time.time()
        start_ms = int(started_at * 1000)
        started = time.perf_counter()
        error: ExecutorError | None = None
        source = self.executor.source
        outputs: Arrays = {}
        contexts = _sampled(parts)
        try:
            with tracing.call_span(contexts, records, source):  # nothing unless a record is sampled
                if isinstance(self.executor, BalancedExecutor):
                    prediction = await self.executor.call(stacked)
                    outputs, source = prediction.outputs, prediction.source
                else:
                    outputs = await self.executor.predict(stacked)
            check_outputs(outputs, rows, (), source)
        except ExecutorError as exc:
            error = exc
        except Exception as exc:  # an executor bug must still end as error results, not a dead stage
            error = ExecutorError(ErrorKind.SERVER, f"{type(exc).__name__}: {exc}", source)
        seconds = time.perf_counter() - started
        if self.observer is not None:
            self.observer(records, seconds, error)
        duration_ms = round(seconds * 1000)
        if error is not None:
            info = CallInfo(str(error), error.kind, error.source or source, start_ms, duration_ms, records,
                            started_at, seconds)
            return [(Segment(p.first, p.end, None, info), id(p.stack)) for p in parts]
        info = CallInfo("", None, source, start_ms, duration_ms, records, started_at, seconds)
        segments: list[tuple[Segment, int]] = []
        row = 0
        for part in parts:
            size = len(part.rows(names[0])) if names else 0
            piece = {name: value[row : row + size] for name, value in outputs.items()}
            row += size
            segments.append((Segment(part.first, part.end, piece, info), id(part.stack)))
        return segments

    async def close(self) -> None:
        """Send what is queued, then wait for every call in flight."""
        for key in list(self._queues):
            self._flush(key)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def abort(self) -> None:
        """Stop now: queued and in-flight records end as error results."""
        stopping = CallInfo("not scored: stopping", ErrorKind.SERVER)
        for key, queue in list(self._queues.items()):
            if queue.timer is not None:
                queue.timer.cancel()
            for part in queue.parts:
                part.stack.answer(Segment(part.first, part.end, None, stopping))
            del self._queues[key]
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _sampled(parts: list[_Part]) -> list[Any] | None:
    """Trace contexts of the sampled records in a call; each gets a span for its wait in the queue."""
    if all(p.stack.traces is None for p in parts):
        return None
    found: list[Any] = []
    for part in parts:
        traces = part.stack.traces
        if traces is not None:
            mine = [c for c in traces[part.first : part.end] if c is not None]
            tracing.end_waits(mine, part.stack.enqueued_ns)
            found += mine
    return found or None


def _call_fields(c: CallInfo) -> tuple[str, ErrorKind | None, str, int, int, int]:
    return c.error, c.error_kind, c.source, c.start_time_ms, c.duration_ms, c.batch_records


def _stack_key(inputs: Mapping[str, npt.NDArray[Any]]) -> StackKey:
    return tuple(sorted((name, value.dtype.str, tuple(value.shape[1:])) for name, value in inputs.items()))
