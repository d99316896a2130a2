"""OutageWaiter: records that meet an unreachable server wait and are scored later; record errors don't."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from inferstream.executors.errors import ErrorKind
from inferstream.executors.micro_batching import CallInfo, Segment
from inferstream.executors.retry import Backoff
from inferstream.serving.outage import WAITING_STATUS, OutageWaiter

FAST = Backoff(0.001, 0.01)


class FlakyServer:
    """Answers x*2 per row, after ``down_calls`` calls that fail with ``kind`` (per record when ``bad``)."""

    def __init__(self, down_calls: int, kind: ErrorKind = ErrorKind.UNAVAILABLE) -> None:
        self.down_calls = down_calls
        self.kind = kind
        self.calls: list[int] = []

    async def __call__(
        self, inputs: Mapping[str, npt.NDArray[Any]], splits: npt.NDArray[np.int64]
    ) -> list[Segment]:
        records = len(splits) - 1
        self.calls.append(records)
        await asyncio.sleep(0)
        if len(self.calls) <= self.down_calls:
            return [Segment(0, records, None, CallInfo("refused", self.kind, "127.0.0.1:1"))]
        # the first half of the records succeeds as one call, the rest as another
        half = max(1, records // 2)
        x = inputs["x"]
        cut = int(splits[half])
        ok = CallInfo("", None, "127.0.0.1:1")
        segments = [Segment(0, half, {"y": x[:cut] * 2}, ok)]
        if half < records:
            segments.append(Segment(half, records, {"y": x[cut:] * 2}, ok))
        return segments


def _stack(records: int) -> tuple[dict[str, npt.NDArray[Any]], npt.NDArray[np.int64]]:
    return {"x": np.arange(records, dtype=np.float32)[:, None]}, np.arange(records + 1, dtype=np.int64)


def test_records_wait_out_an_outage_and_are_scored(caplog: pytest.LogCaptureFixture) -> None:
    server = FlakyServer(down_calls=5)
    waiter = OutageWaiter(server, backoff=FAST, target="127.0.0.1:1")
    seen: list[str] = []

    async def main() -> list[Segment]:
        task = asyncio.create_task(waiter.score_stacked(*_stack(6)))
        while not task.done():
            seen.append(waiter.status())
            await asyncio.sleep(0.001)
        return await task

    with caplog.at_level(logging.INFO, logger="inferstream.serving"):
        segments = asyncio.run(main())
    assert all(s.outputs is not None for s in segments)
    assert sorted((s.first, s.end) for s in segments) == [(0, 3), (3, 6)]
    ordered = sorted(segments, key=lambda s: s.first)
    assert np.concatenate([s.outputs["y"] for s in ordered]).ravel().tolist() == [0, 2, 4, 6, 8, 10]
    assert WAITING_STATUS in seen and waiter.status() == "running" and waiter.waiting_records == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    infos = [r for r in caplog.records if r.levelno == logging.INFO and "answers again" in r.getMessage()]
    assert len(warnings) == 1 and "6 records wait" in warnings[0].getMessage()
    assert len(infos) == 1 and waiter.outages == 1


def test_concurrent_callers_share_one_outage_report(caplog: pytest.LogCaptureFixture) -> None:
    server = FlakyServer(down_calls=12)
    waiter = OutageWaiter(server, backoff=FAST)

    async def main() -> list[list[Segment]]:
        return await asyncio.gather(*(waiter.score_stacked(*_stack(n)) for n in (1, 2, 3, 4)))

    with caplog.at_level(logging.INFO, logger="inferstream.serving"):
        results = asyncio.run(main())
    assert all(s.outputs is not None for segments in results for s in segments)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    assert len([r for r in caplog.records if "answers again" in r.getMessage()]) == 1


def test_per_record_errors_do_not_wait() -> None:
    server = FlakyServer(down_calls=1, kind=ErrorKind.REJECTED)
    waiter = OutageWaiter(server, backoff=FAST)
    (segment,) = asyncio.run(waiter.score_stacked(*_stack(3)))
    assert (
        segment.outputs is None and segment.call.error_kind is ErrorKind.REJECTED and len(server.calls) == 1
    )


def test_on_unavailable_error_keeps_the_original_behaviour() -> None:
    server = FlakyServer(down_calls=1)
    (segment,) = asyncio.run(OutageWaiter(server, wait=False).score_stacked(*_stack(2)))
    assert segment.call.error_kind is ErrorKind.UNAVAILABLE and len(server.calls) == 1


def test_max_wait_turns_waiting_records_into_errors() -> None:
    server = FlakyServer(down_calls=10**6)
    waiter = OutageWaiter(server, backoff=FAST, max_wait=0.05)
    (segment,) = asyncio.run(waiter.score_stacked(*_stack(2)))
    assert segment.outputs is None and segment.call.error_kind is ErrorKind.UNAVAILABLE
    assert len(server.calls) > 2 and not waiter.waiting and waiter.waiting_records == 0
