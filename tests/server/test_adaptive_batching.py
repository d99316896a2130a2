"""Adaptive batching: concurrent requests merge into one call, and each caller gets its own rows back."""

from __future__ import annotations

import asyncio
import re
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression

from inferstream.models import Arrays
from inferstream.server.adaptive_batching import AdaptiveBatcher, QueueFull

from .conftest import HttpCall, ServerThread


def _run_batcher(run, requests: list[Arrays], **kwargs: float) -> tuple[list[Arrays], list[int]]:
    calls: list[int] = []

    async def main() -> list[Arrays]:
        with ThreadPoolExecutor(2) as pool:
            batcher = AdaptiveBatcher(run, pool, on_batch=lambda n, rows: calls.append(n), **kwargs)
            try:
                return await asyncio.gather(*(batcher.submit(r) for r in requests))
            finally:
                await batcher.close()

    return asyncio.run(main()), calls


def test_concurrent_requests_share_calls_and_get_their_own_rows() -> None:
    requests = [{"x": np.full((i % 3 + 1, 2), i, dtype=np.float32)} for i in range(40)]
    results, calls = _run_batcher(lambda a: {"y": a["x"] * 10}, requests, max_batch_size=16, max_wait_s=0.01)
    for request, result in zip(requests, results, strict=True):
        np.testing.assert_array_equal(result["y"], request["x"] * 10)
    assert len(calls) < len(requests)  # merged
    assert sum(calls) == len(requests)


def test_incompatible_shapes_are_not_mixed_and_non_row_outputs_fall_back() -> None:
    requests = [{"x": np.ones((1, 2 + i % 2))} for i in range(10)]
    results, _ = _run_batcher(lambda a: {"s": a["x"].sum(axis=1)}, requests, max_wait_s=0.01)
    assert [r["s"].tolist() for r in results] == [[2.0 + i % 2] for i in range(10)]
    # a model answering one value per call cannot be split by rows: each request is run alone
    results, _ = _run_batcher(lambda a: {"total": np.asarray(a["x"].sum())}, requests[:4], max_wait_s=0.01)
    assert [float(r["total"]) for r in results] == [2.0, 3.0, 2.0, 3.0]


def test_model_failure_reaches_every_caller_of_the_batch() -> None:
    def fail(_: Arrays) -> Arrays:
        raise RuntimeError("boom")

    async def main() -> list[object]:
        with ThreadPoolExecutor(1) as pool:
            batcher = AdaptiveBatcher(fail, pool, max_wait_s=0.01)
            try:
                reqs = [batcher.submit({"x": np.ones((1, 1))}) for _ in range(3)]
                return await asyncio.gather(*reqs, return_exceptions=True)
            finally:
                await batcher.close()

    assert [str(r) for r in asyncio.run(main())] == ["boom"] * 3


def test_concurrent_http_clients_get_their_own_answers(
    model_repo: Path, http: HttpCall, linear_reference: LinearRegression
) -> None:
    with ServerThread(
        {"linear": model_repo / "linear" / "1"}, grpc_port=None, batching={"max_wait_ms": 20}
    ) as srv:
        rows = [[float(i), float(-i), 0.5 * i, 1.0] for i in range(48)]

        def call(row: list[float]) -> float:
            status, body = http("POST", f"{srv.rest}/v1/models/linear:predict", {"instances": [row]})
            assert status == 200, body
            return float(body["predictions"][0][0])

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(call, rows))
        np.testing.assert_allclose(answers, linear_reference.predict(np.asarray(rows)), rtol=1e-4, atol=1e-4)
        with urllib.request.urlopen(f"{srv.rest}/metrics", timeout=30) as response:
            text = response.read().decode()
        calls = re.search(r'inferstream_server_batch_requests_count\{model="linear"\} (\S+)', text)
        assert calls is not None and float(calls.group(1)) < len(rows)  # some requests shared a call


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.tuples(st.integers(1, 5), st.sampled_from([2, 3])), min_size=1, max_size=30),
    max_batch=st.integers(1, 12),
    workers=st.integers(1, 3),
)
def test_any_mix_of_requests_gets_its_own_rows_back(
    sizes: list[tuple[int, int]], max_batch: int, workers: int
) -> None:
    rng = np.random.default_rng(len(sizes))
    requests = [{"x": rng.normal(size=(rows, width))} for rows, width in sizes]
    results, calls = _run_batcher(
        lambda a: {"y": a["x"] * 3, "s": a["x"].sum(axis=1)},
        requests,
        max_batch_size=max_batch,
        max_wait_s=0.001,
        workers=workers,
    )
    for request, result in zip(requests, results, strict=True):
        np.testing.assert_allclose(result["y"], request["x"] * 3)
        np.testing.assert_allclose(result["s"], request["x"].sum(axis=1))
    assert sum(calls) == len(requests)


def test_full_queue_refuses_new_requests_until_it_drains() -> None:
    release = threading.Event()

    def slow(a: Arrays) -> Arrays:
        release.wait(timeout=30)
        return {"y": a["x"] + 1}

    async def main() -> tuple[str, int]:
        with ThreadPoolExecutor(1) as pool:
            batcher = AdaptiveBatcher(slow, pool, max_batch_size=2, max_queued_rows=4)
            try:
                first = asyncio.ensure_future(batcher.submit({"x": np.zeros((2, 1))}))
                await asyncio.sleep(0.05)  # the worker has taken it and is blocked in the model
                queued = [asyncio.ensure_future(batcher.submit({"x": np.zeros((2, 1))})) for _ in range(2)]
                await asyncio.sleep(0.05)
                with pytest.raises(QueueFull) as refused:
                    await batcher.submit({"x": np.zeros((1, 1))})
                release.set()
                done = await asyncio.gather(first, *queued)
                again = await batcher.submit({"x": np.zeros((1, 1))})  # drained: accepted again
                return str(refused.value), len(done) + len(again["y"])
            finally:
                release.set()
                await batcher.close()

    reason, answered = asyncio.run(main())
    assert "4 rows are waiting" in reason and answered == 4
