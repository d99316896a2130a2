"""Stage timings of sampled batches: where a record's end-to-end latency goes inside one stage.

Off (and free) unless the environment's ``INFERSTREAM_STAGE_TIMES`` names a folder. Then every
``INFERSTREAM_STAGE_TIMES_EVERY``-th consumed batch (default 4) of each instance is traced: the
runtime marks when the poll returned it, when processing started, when the first emit asked for
its turn, got it, and handed the records to the producer, and when the producer acknowledged them;
a streamlet may add its own marks (model-serving: the model call). One JSON line per traced batch
goes to ``<folder>/<streamlet>.<instance>.<pid>.jsonl``::

    {"stage": "model-serving", "topic": "...", "partition": 0, "first": 100, "last": 163,
     "marks": {"polled": 1733.1, "started": 1733.2, "call-start": ..., "sent": ..., "acked": ...}}

Marks are epoch seconds (``time.time()``), so the benchmark harness can line them up with the
broker's timestamps and its own produce times.
"""

from __future__ import annotations

import json
import os
import time
from contextvars import ContextVar
from pathlib import Path
from typing import IO

ENV_FOLDER = "INFERSTREAM_STAGE_TIMES"
ENV_EVERY = "INFERSTREAM_STAGE_TIMES_EVERY"


class BatchTrace:
    """The marks of one traced batch."""

    __slots__ = ("first", "last", "marks", "partition", "topic")

    def __init__(self, topic: str, partition: int, first: int, last: int, polled: float) -> None:
        self.topic = topic
        self.partition = partition
        self.first = first
        self.last = last
        self.marks: dict[str, float] = {"polled": polled}

    def mark(self, name: str, at: float | None = None) -> None:
        """Note the first time ``name`` happened to this batch (later calls keep the first)."""
        self.marks.setdefault(name, time.time() if at is None else at)


_current: ContextVar[BatchTrace | None] = ContextVar("inferstream_batch_trace", default=None)


def mark(name: str, at: float | None = None) -> None:
    """Mark a moment of the batch being processed in this task; nothing when it is not traced."""
    trace = _current.get()
    if trace is not None:
        trace.mark(name, at)


def current() -> BatchTrace | None:
    return _current.get()


def activate(trace: BatchTrace | None) -> None:
    """Make ``trace`` the batch of the running task (each batch is handled in its own task)."""
    _current.set(trace)


class StageTimes:
    """Samples batches of one streamlet instance and writes their marks (see the module doc)."""

    def __init__(self, stage: str, instance: int) -> None:
        self.stage = stage
        folder = os.environ.get(ENV_FOLDER, "")
        self._file: IO[str] | None = None
        self._every = max(1, int(os.environ.get(ENV_EVERY, "4") or 4))
        self._count = 0
        if folder:
            path = Path(folder) / f"{stage}.{instance}.{os.getpid()}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", buffering=1 << 16)

    @property
    def enabled(self) -> bool:
        return self._file is not None

    def sample(self, topic: str, partition: int, first: int, last: int, polled: float) -> BatchTrace | None:
        """A trace for this batch if it is one of the sampled ones, else None."""
        if self._file is None:
            return None
        self._count += 1
        if self._count % self._every:
            return None
        return BatchTrace(topic, partition, first, last, polled)

    def write(self, trace: BatchTrace) -> None:
        if self._file is None:
            return
        line = {
            "stage": self.stage,
            "topic": trace.topic,
            "partition": trace.partition,
            "first": trace.first,
            "last": trace.last,
            "marks": trace.marks,
        }
        self._file.write(json.dumps(line) + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
