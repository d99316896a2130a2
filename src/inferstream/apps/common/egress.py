"""Egresses for ServingResult topics: a rate-limited console, a JSON Lines file, and counters.

All three take their records from :class:`ServingResultsCodec` (stacked groups + payloads), so they
work on any model's results: the fraud outlets and the recommender alike.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

from inferstream.runtime import (
    BoolParameter,
    Egress,
    FloatParameter,
    InBatch,
    Inlet,
    IntParameter,
    StreamletContext,
    StringParameter,
)
from inferstream.schemas import SERVING_RESULT
from inferstream.serving.port_codecs import ServingResultBatch, ServingResultsCodec
from inferstream.tensors.avro import ServingResult
from inferstream.tensors.tensor import Tensor

LINES_PER_SECOND = FloatParameter(
    "lines-per-second", 5.0, "most lines printed per second (0: all)", minimum=0
)
VALUES_SHOWN = IntParameter("values-shown", 4, "values printed per tensor", minimum=0)
PATH = StringParameter("path", None, "JSON Lines file to append to; '{instance}' becomes the instance number")
KEY_INPUT = StringParameter(
    "key-input", "", "count records per distinct value of this input (e.g. transaction)"
)
LATENCY_WINDOW = IntParameter("latency-window", 10_000, "recent model-call durations kept", minimum=1)
NAME = StringParameter("name", "", "name the counts are published under (default: <app>.<streamlet>)")
FLUSH = BoolParameter("flush", True, "flush the file after every batch")


def _results(batch: ServingResultBatch, first: int | None = None) -> list[ServingResult]:
    """The batch's records in payload order (only the ``first`` ones when given: decoding a record
    into tensors is the costly part, so an egress that shows few records builds only those)."""
    places = sorted(
        ((int(index), group, k) for group in batch.decoded.groups for k, index in enumerate(group.indices)),
        key=lambda place: place[0],
    )
    return [group.result(k) for _, group, k in places[:first]]


def _short(tensor: Tensor, shown: int) -> str:
    flat = tensor.data.reshape(-1)
    values = ", ".join(f"{v:.4g}" if isinstance(v, float | np.floating) else str(v) for v in flat[:shown])
    more = f", … {flat.size - shown} more" if flat.size > shown else ""
    return f"{list(tensor.shape)}[{values}{more}]"


def describe(result: ServingResult, shown: int = 4) -> str:
    """One console line: inputs, results, metadata (as the original's console egress printed)."""
    meta = result.metadata
    inputs = " ".join(f"{n}={_short(t, shown)}" for n, t in sorted(result.inputs.items()))
    outputs = " ".join(f"{n}={_short(t, shown)}" for n, t in sorted(result.outputs.items()))
    status = f"ERROR {meta.errors}" if meta.errors else outputs
    return f"{inputs} -> {status} | model={meta.model_name} source={meta.source} {meta.duration} ms"


class ConsoleEgress(Egress):
    """Prints a line per record, at most ``lines-per-second`` on average (fractions allowed);
    a printed line says how many records were not shown since the previous one."""

    inlet = Inlet[ServingResultBatch]("in", SERVING_RESULT, ServingResultsCodec())
    parameters = (LINES_PER_SECOND, VALUES_SHOWN)
    stream: TextIO | None = None  # None: sys.stdout at the time of writing

    async def on_start(self, ctx: StreamletContext) -> None:
        self.label = ctx.streamlet
        self.limit = ctx.config[LINES_PER_SECOND]
        self.shown = ctx.config[VALUES_SHOWN]
        self.tokens = 1.0  # token bucket: the first record is always shown
        self.refilled = time.monotonic()
        self.skipped = 0

    async def process(self, batch: InBatch[ServingResultBatch]) -> None:
        out = self.stream or sys.stdout
        now = time.monotonic()
        if self.limit:
            self.tokens = min(max(1.0, self.limit), self.tokens + (now - self.refilled) * self.limit)
        self.refilled = now
        total = len(batch.records)
        room = total if not self.limit else min(total, int(self.tokens))
        for result in _results(batch.records, room):
            more = f" (+{self.skipped} not shown)" if self.skipped else ""
            print(f"[{self.label}] {describe(result, self.shown)}{more}", file=out)
            self.skipped = 0
        if self.limit:
            self.tokens -= room
        self.skipped += total - room
        out.flush()


def to_json(result: ServingResult) -> dict[str, Any]:
    def tensors(named: dict[str, Tensor]) -> dict[str, Any]:
        return {n: {"shape": list(t.shape), "values": t.data.reshape(-1).tolist()} for n, t in named.items()}

    m = result.metadata
    return {
        "datatype": result.datatype,
        "inputs": tensors(result.inputs),
        "outputs": tensors(result.outputs),
        "metadata": {
            "errors": m.errors,
            "modelName": m.model_name,
            "source": m.source,
            "startTime": m.start_time,
            "duration": m.duration,
        },
    }


class JsonLinesEgress(Egress):
    """Appends one JSON object per record (inputs, outputs, metadata) to a file."""

    inlet = Inlet[ServingResultBatch]("in", SERVING_RESULT, ServingResultsCodec())
    parameters = (PATH, FLUSH)

    async def on_start(self, ctx: StreamletContext) -> None:
        path = Path(ctx.config[PATH].replace("{instance}", str(ctx.instance)))
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = path.open("a", encoding="utf-8")
        self.flush = ctx.config[FLUSH]

    async def process(self, batch: InBatch[ServingResultBatch]) -> None:
        self.file.writelines(json.dumps(to_json(r)) + "\n" for r in _results(batch.records))
        if self.flush:
            self.file.flush()

    async def on_stop(self) -> None:
        if hasattr(self, "file"):
            self.file.close()


@dataclass
class Counts:
    """What a counting egress saw; read it with :func:`counts` (thread-safe snapshot methods)."""

    records: int = 0
    errors: int = 0
    durations_ms: deque[int] = field(default_factory=lambda: deque(maxlen=10_000))
    keys: Counter[bytes] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def durations(self) -> npt.NDArray[np.float64]:
        """A snapshot of the recent model-call durations, in milliseconds."""
        with self.lock:
            return np.fromiter(self.durations_ms, dtype=np.float64, count=len(self.durations_ms))


_COUNTS: dict[str, Counts] = {}
_COUNTS_LOCK = threading.Lock()


def counts(name: str) -> Counts:
    """The counts published under ``name`` (created empty if no egress has published yet)."""
    with _COUNTS_LOCK:
        return _COUNTS.setdefault(name, Counts())


def reset_counts(*names: str) -> None:
    with _COUNTS_LOCK:
        for name in names:
            _COUNTS[name] = Counts()


class CountingEgress(Egress):
    """Counts records, executor errors and their reasons, keeps recent model-call durations and,
    optionally, how often each distinct ``key-input`` value arrived (to prove nothing was lost)."""

    inlet = Inlet[ServingResultBatch]("in", SERVING_RESULT, ServingResultsCodec())
    parameters = (NAME, KEY_INPUT, LATENCY_WINDOW)

    async def on_start(self, ctx: StreamletContext) -> None:
        self.counts = counts(ctx.config[NAME] or f"{ctx.app}.{ctx.streamlet}")
        with self.counts.lock:
            self.counts.durations_ms = deque(self.counts.durations_ms, maxlen=ctx.config[LATENCY_WINDOW])
        self.key_input = ctx.config[KEY_INPUT]

    async def process(self, batch: InBatch[ServingResultBatch]) -> None:
        c = self.counts
        with c.lock:
            c.records += len(batch.records)
            for group in batch.records.decoded.groups:
                for meta in group.metadata:
                    c.durations_ms.append(meta.duration)
                    if meta.errors:
                        c.errors += 1
                        c.reasons[meta.errors[:200]] += 1
                stacked = group.inputs.get(self.key_input) if self.key_input else None
                if stacked is not None:
                    for k in range(len(stacked)):
                        c.keys[stacked.record(k).data.tobytes()] += 1
