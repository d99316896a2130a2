"""The model-serving streamlet driven directly: batching, errors as results, /state (output order is the
runtime's: tests/runtime/test_instance.py)."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import ClientSession, web
from executors.conftest import RunningServer

from inferstream.bench.ports import free_port
from inferstream.runtime import InBatch, Outlet, StreamletContext
from inferstream.runtime.config import resolve_parameters
from inferstream.runtime.offsets import OffsetTracker, Ticket
from inferstream.serving import ModelServing
from inferstream.tensors.avro import (
    ServingResult,
    StackedTensor,
    decode_serving_result,
    encode_source_requests,
)
from inferstream.transports.base import TopicPartition


async def process_in_order(streamlet: ModelServing, batches: list[InBatch[Any]], out: Collector) -> None:
    """process() the batches at once with the runtime's ordering: each emits after its predecessor."""
    tracker = OffsetTracker()
    tickets = [tracker.track(TopicPartition(b.topic, b.partition), b.offsets[-1] + 1) for b in batches]

    class InTurn:
        def __init__(self, ticket: Ticket) -> None:
            self.ticket = ticket

        async def emit(self, outlet: Outlet[Any], batch: Any) -> None:
            await self.ticket.turn()
            await out.emit(outlet, batch)

    async def one(batch: InBatch[Any], ticket: Ticket) -> None:
        try:
            await streamlet.process(batch, InTurn(ticket))
        finally:
            ticket.emitted()

    await asyncio.gather(*(one(b, t) for b, t in zip(batches, tickets, strict=True)))


class Collector:
    """An Output that keeps what was emitted, in order."""

    def __init__(self) -> None:
        self.batches: list[list[bytes]] = []

    async def emit(self, outlet: Outlet[Any], batch: Any) -> None:
        self.batches.append(outlet.codec.encode(batch))  # as the runtime does

    def results(self) -> list[ServingResult]:
        return [decode_serving_result(p) for batch in self.batches for p in batch]


def rows(start: int, count: int) -> np.ndarray:
    return (np.arange(start * 29, (start + count) * 29, dtype=np.float32) / 1000).reshape(count, 29)


def payloads(values: np.ndarray) -> list[bytes]:
    return encode_source_requests({"transaction": StackedTensor.uniform(values, 1)}, datatypes="fraud")


async def started(config: dict[str, Any]) -> ModelServing:
    streamlet = ModelServing()
    values, problems = resolve_parameters(ModelServing.declared_parameters(), config)
    assert not problems, problems
    await streamlet.on_start(StreamletContext("test", "model-serving", 0, 1, values))
    return streamlet


def in_batch(streamlet: ModelServing, data: list[bytes], first: int, partition: int = 0) -> InBatch[Any]:
    records, failures = streamlet.inlet.codec.decode(data)
    assert not failures
    return InBatch(streamlet.inlet, records, "requests", partition, range(first, first + len(data)))


def test_embedded_batches_across_records_and_keeps_order(doubler_model: Path) -> None:
    sizes = [1, 7, 50, 3, 100, 1, 38]

    async def body() -> tuple[list[ServingResult], ModelServing]:
        streamlet = await started({
            "protocol": "embedded", "model-path": str(doubler_model / "1"), "model": "doubler",
            "max-batch-size": 64, "max-batch-latency": "20 milliseconds", "parallelism": 2,
        })
        out = Collector()
        try:
            batches, offset = [], 0
            for size in sizes:  # concurrent process() calls on one partition, as the runtime makes them
                batches.append(in_batch(streamlet, payloads(rows(offset, size)), offset))
                offset += size
            await process_in_order(streamlet, batches, out)  # the runtime's tickets keep the order
        finally:
            await streamlet.on_stop()
        return out.results(), streamlet

    before = int(time.time() * 1000)
    results, streamlet = asyncio.run(body())
    total = sum(sizes)
    assert len(results) == total
    expected = rows(0, total)
    for i, result in enumerate(results):  # in consumption order, each with its own answer
        assert result.metadata.errors == ""
        np.testing.assert_array_equal(result.inputs["transaction"].data, expected[i : i + 1])
        np.testing.assert_allclose(result.outputs["predictions"].data, 2 * expected[i : i + 1], atol=1e-4)
        assert result.metadata.model_name == "doubler"
        assert result.metadata.source.startswith("embedded:")
        assert result.metadata.start_time >= before
        assert result.datatype == "fraud"
    state = streamlet.state()
    assert state["usage"] == total and state["name"] == "doubler"
    calls = streamlet.stats.calls
    assert calls < len(sizes) + 4  # records of separate batches shared calls (200 records, <= 64 per call)
    assert set(state) == {"name", "description", "since", "usage", "average", "min", "max"}
    assert state["min"] <= state["average"] <= state["max"]


async def _slow_when_negative_server() -> tuple[web.AppRunner, str, list[int]]:
    """A V2 server that answers slowly for requests holding a negative value (to overtake them)."""
    seen: list[int] = []

    async def infer(request: web.Request) -> web.Response:
        body = await request.json()
        tensor = body["inputs"][0]
        data = np.asarray(tensor["data"], dtype=np.float32)
        seen.append(int(tensor["shape"][0]))
        if np.isnan(data).any():
            return web.json_response({"error": "NaN is not a number I can score"}, status=400)
        if (data < 0).any():
            await asyncio.sleep(0.3)
        doubled = (data * 2).tolist()
        out = {"name": "predictions", "shape": tensor["shape"], "datatype": "FP32", "data": doubled}
        return web.json_response({"outputs": [out]})

    app = web.Application()
    app.router.add_post("/v2/models/{model}/infer", infer)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"127.0.0.1:{runner.addresses[0][1]}", seen


def test_a_slow_batch_is_not_overtaken_on_its_partition_and_bad_records_are_isolated() -> None:
    async def body() -> tuple[list[list[bytes]], list[ServingResult], list[int]]:
        runner, target, seen = await _slow_when_negative_server()
        streamlet = await started({
            "protocol": "v2", "transport": "rest", "target": target, "model": "m",
            "max-batch-size": 8, "max-batch-latency": "1 millisecond", "parallelism": 4,
        })
        out = Collector()
        try:
            slow = rows(0, 4)
            slow[0, 0] = -1.0
            bad = rows(4, 4)
            bad[2, 5] = np.nan
            first = in_batch(streamlet, payloads(slow), 0)
            second = in_batch(streamlet, payloads(rows(8, 4)), 4, partition=0)
            third = in_batch(streamlet, payloads(bad), 8, partition=0)
            await process_in_order(streamlet, [first, second, third], out)
        finally:
            await streamlet.on_stop()
            await runner.cleanup()
        return out.batches, out.results(), seen

    batches, results, seen = asyncio.run(body())
    assert [len(b) for b in batches] == [4, 4, 4]
    first_values = [r.inputs["transaction"].data[0, 0] for r in results]
    assert first_values[0] == -1.0  # the slow batch was emitted first, as consumed
    errors = [r.metadata.errors for r in results]
    assert [i for i, e in enumerate(errors) if e] == [10]  # only the NaN record failed
    assert "HTTP 400" in errors[10] and "NaN" in errors[10]
    assert results[10].outputs == {}
    assert 1 in seen  # the rejected batch was retried one record per call


def test_server_down_with_on_unavailable_error_gives_every_record_an_error_result() -> None:
    async def body() -> tuple[list[ServingResult], bytes]:
        streamlet = await started({
            "protocol": "tfserving", "transport": "grpc", "target": f"127.0.0.1:{free_port()}",
            "model": "fraud", "retries": 2, "backoff": "5 milliseconds", "timeout": "1 second",
            "on-unavailable": "error",  # the original's behaviour; the default waits (next test)
        })
        out = Collector()
        try:
            await streamlet.process(in_batch(streamlet, payloads(rows(0, 5)), 0), out)
            metrics = streamlet.metrics.exposition()
        finally:
            await streamlet.on_stop()
        return out.results(), metrics

    results, metrics = asyncio.run(body())
    assert len(results) == 5
    for result in results:
        assert result.outputs == {}
        assert result.metadata.errors.startswith("unavailable")
        assert "after 3 attempts" in result.metadata.errors
        assert result.metadata.model_name == "fraud"
    errors = re.search(rb'inferstream_serving_errors_total\{kind="unavailable"\} ([0-9.]+)', metrics)
    assert errors and float(errors[1]) >= 3  # the call's 3 attempts (+ the model lookup at start, if any)
    assert b'inferstream_serving_records_failed_total{kind="unavailable"} 5.0' in metrics


def test_server_down_records_wait_and_state_and_metrics_say_so() -> None:
    async def body() -> tuple[dict[str, Any], bytes, int]:
        streamlet = await started({
            "protocol": "tfserving", "transport": "grpc", "target": f"127.0.0.1:{free_port()}",
            "model": "fraud", "retries": 1, "backoff": "5 milliseconds", "timeout": "1 second",
        })
        out = Collector()
        task = asyncio.create_task(streamlet.process(in_batch(streamlet, payloads(rows(0, 5)), 0), out))
        try:
            for _ in range(200):
                await asyncio.sleep(0.05)
                if streamlet.state().get("status") == "waiting for model server":
                    break
            state, metrics = streamlet.state(), streamlet.metrics.exposition()
            assert not task.done(), "process() returned while the server was down"
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await streamlet.on_stop()
        return state, metrics, len(out.results())

    state, metrics, emitted = asyncio.run(body())
    assert state["status"] == "waiting for model server" and state["waiting_records"] == 5
    assert b"inferstream_serving_waiting_for_server 1.0" in metrics
    assert b"inferstream_serving_waiting_records 5.0" in metrics
    assert emitted == 0  # no error records: they wait


def test_state_and_metrics_over_http(builtin_server: RunningServer) -> None:
    async def body() -> tuple[dict[str, Any], str, list[ServingResult]]:
        streamlet = await started({
            "protocol": "tfserving", "transport": "rest", "target": builtin_server.rest, "model": "fraud",
        })
        out = Collector()
        app = web.Application()
        app.add_routes(streamlet.http_routes())
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            await streamlet.process(in_batch(streamlet, payloads(rows(0, 10)), 0), out)
            async with ClientSession() as session:
                async with session.get(url + "/state") as resp:
                    state = await resp.json()
                async with session.get(url + "/metrics") as resp:
                    metrics = await resp.text()
        finally:
            await streamlet.on_stop()
            await runner.cleanup()
        return state, metrics, out.results()

    state, metrics, results = asyncio.run(body())
    assert state["name"] == "fraud" and state["usage"] == 10
    assert "tfserving over rest" in state["description"]
    assert state["max"] > 0
    assert "inferstream_serving_records_in_total 10.0" in metrics
    assert "inferstream_serving_records_out_total 10.0" in metrics
    assert "inferstream_serving_batch_size_bucket" in metrics
    assert "inferstream_serving_call_seconds_bucket" in metrics
    assert all(r.metadata.source == builtin_server.rest for r in results)
    np.testing.assert_allclose(results[3].outputs["predictions"].data, 2 * rows(3, 1), atol=1e-4)


def test_invalid_configuration_is_reported_clearly() -> None:
    with pytest.raises(Exception, match="needs a target"):
        asyncio.run(started({"protocol": "v2", "transport": "rest", "model": "m"}))
    with pytest.raises(Exception, match="model_path"):
        asyncio.run(started({"protocol": "embedded"}))


def test_undecodable_payloads_are_reported_by_the_codec() -> None:
    good = payloads(rows(0, 2))
    records, failures = ModelServing.inlet.codec.decode([good[0], b"\x01\x02garbage", good[1]])
    assert [f.index for f in failures] == [1]
    assert "not a SourceRequest" in failures[0].reason
    assert records.decoded.records() == 2
