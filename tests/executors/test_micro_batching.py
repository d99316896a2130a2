"""Micro-batching: stacks from several callers share calls, are cut at max_batch_size, and every
record gets exactly its own rows back, whatever its row count."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import numpy as np

from inferstream.executors.embedded import EmbeddedExecutor
from inferstream.executors.micro_batching import MicroBatcher, Segment


def _stack(records: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rows = np.random.default_rng(seed).integers(1, 4, size=records)  # 1..3 rows per record
    splits = np.zeros(records + 1, dtype=np.int64)
    np.cumsum(rows, out=splits[1:])
    values = np.random.default_rng(seed + 1).normal(size=(int(splits[-1]), 29)).astype(np.float32)
    return values, splits


def test_stacks_are_split_and_merged_into_calls_and_answered_row_for_row(doubler_model: Path) -> None:
    calls: list[int] = []
    stacks = [_stack(n, seed) for seed, n in enumerate([5, 70, 1, 33, 12])]

    async def body() -> list[list[Segment]]:
        executor = EmbeddedExecutor.load(doubler_model / "1")
        batcher = MicroBatcher(executor, max_batch_size=16, max_batch_latency=0.01, parallelism=2,
                               observer=lambda records, seconds, error: calls.append(records))
        try:
            return list(await asyncio.gather(
                *(batcher.score_stacked({"transaction": values}, splits) for values, splits in stacks)
            ))
        finally:
            await batcher.close()
            await executor.close()

    answers = asyncio.run(body())
    assert sum(calls) == sum(len(splits) - 1 for _, splits in stacks)
    assert max(calls) <= 16 and len(calls) <= 9  # 121 records: 8 full calls and one partial
    for (values, splits), segments in zip(stacks, answers, strict=True):
        assert segments[0].first == 0 and segments[-1].end == len(splits) - 1
        assert all(a.end == b.first for a, b in itertools.pairwise(segments))
        for segment in segments:
            assert segment.outputs is not None and segment.call.error == ""
            rows = values[splits[segment.first] : splits[segment.end]]
            np.testing.assert_allclose(segment.outputs["predictions"], 2 * rows, atol=1e-4)


def test_invalid_stacks_and_records_are_answered_not_raised(doubler_model: Path) -> None:
    async def body() -> tuple[list[Segment], list[str]]:
        executor = EmbeddedExecutor.load(doubler_model / "1")
        batcher = MicroBatcher(executor, max_batch_size=8)
        try:
            three = {"transaction": np.zeros((3, 29), np.float32)}
            bad_splits = await batcher.score_stacked(three, [0, 1, 5])
            outcomes = await batcher.score([
                {"transaction": np.zeros((1, 29), np.float32)},
                {"transaction": np.zeros((1, 28), np.float32)},  # wrong width: the model rejects it
                {"transaction": np.zeros((1, 29), np.float32), "other": np.zeros((2, 1))},  # rows disagree
            ])
            return bad_splits, [o.error for o in outcomes]
        finally:
            await batcher.close()
            await executor.close()

    bad_splits, errors = asyncio.run(body())
    assert len(bad_splits) == 1 and "row splits" in bad_splits[0].call.error
    assert errors[0] == ""
    assert errors[1].startswith("rejected") and "29" in errors[1]
    assert "disagree on the batch dimension" in errors[2]
