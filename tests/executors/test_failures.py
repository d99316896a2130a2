"""Failure cases become typed errors with a clear message: down, 4xx/5xx, bad JSON, wrong shape, slow.

The misbehaving server is a real HTTP server on loopback whose answers are wrong on purpose.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import pytest
from aiohttp import web

from inferstream.bench.ports import free_port
from inferstream.executors.config import ExecutorConfig, TlsConfig
from inferstream.executors.errors import ErrorKind, ExecutorError
from inferstream.executors.factory import open_executor
from inferstream.executors.pool import BalancedExecutor

from .conftest import TLS_CERT, TLS_KEY

ROWS = np.ones((3, 29), dtype=np.float32)


def _v2_output(rows: int) -> dict[str, Any]:
    return {"outputs": [{"name": "y", "shape": [rows, 29], "datatype": "FP32", "data": [0.5] * (rows * 29)}]}


@asynccontextmanager
async def misbehaving_server() -> AsyncIterator[tuple[str, dict[str, int]]]:
    calls: dict[str, int] = {}

    async def infer(request: web.Request) -> web.StreamResponse:
        model = request.match_info["model"]
        calls[model] = calls.get(model, 0) + 1
        body = await request.json()
        rows = body["inputs"][0]["shape"][0]
        if model == "badjson":
            return web.Response(text='{"outputs": [', content_type="application/json")
        if model == "badshape":
            return web.json_response(_v2_output(rows - 1))
        if model == "nooutputs":
            return web.json_response({"model_name": model})
        if model == "slow":
            await asyncio.sleep(2)
        if model == "flaky" and calls[model] <= 2:
            return web.json_response({"error": "warming up"}, status=503)
        if model == "broken":
            return web.json_response({"error": "division by zero in layer 3"}, status=500)
        if model == "badrequest":
            return web.json_response({"error": "input 'x' has the wrong shape"}, status=400)
        return web.json_response(_v2_output(rows))

    app = web.Application()
    app.router.add_post("/v2/models/{model}/infer", infer)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"127.0.0.1:{runner.addresses[0][1]}", calls
    finally:
        await runner.cleanup()


async def _predict(target: str, model: str, **overrides: Any) -> dict[str, np.ndarray]:
    settings: dict[str, Any] = {"retries": 2, "backoff_initial": 0.01, "timeout": 1.0, **overrides}
    config = ExecutorConfig(protocol="v2", transport="rest", target=target, model=model, **settings)
    executor = await open_executor(config)
    try:
        return await executor.predict({"x": ROWS})
    finally:
        await executor.close()


@pytest.mark.parametrize(
    ("model", "kind", "words"),
    [
        ("badjson", ErrorKind.MALFORMED, "invalid JSON"),
        ("badshape", ErrorKind.MALFORMED, "expected the batch size 3"),
        ("nooutputs", ErrorKind.MALFORMED, "lacks 'outputs'"),
        ("broken", ErrorKind.SERVER, "HTTP 500"),
        ("badrequest", ErrorKind.REJECTED, "wrong shape"),
    ],
)
def test_bad_answers_are_typed_and_not_retried(model: str, kind: ErrorKind, words: str) -> None:
    async def body() -> tuple[ExecutorError, dict[str, int]]:
        async with misbehaving_server() as (target, calls):
            with pytest.raises(ExecutorError) as info:
                await _predict(target, model)
            return info.value, calls

    error, calls = asyncio.run(body())
    assert error.kind is kind
    assert words in str(error)
    assert calls[model] == 1  # permanent: one attempt only


def test_503_is_retried_until_it_answers() -> None:
    async def body() -> tuple[dict[str, np.ndarray], dict[str, int]]:
        async with misbehaving_server() as (target, calls):
            return await _predict(target, "flaky", retries=3), calls

    outputs, calls = asyncio.run(body())
    assert outputs["y"].shape == (3, 29)
    assert calls["flaky"] == 3


def test_timeout_is_retried_then_reported() -> None:
    async def body() -> tuple[ExecutorError, dict[str, int], float]:
        async with misbehaving_server() as (target, calls):
            started = time.monotonic()
            with pytest.raises(ExecutorError) as info:
                await _predict(target, "slow", timeout=0.2, retries=1)
            return info.value, calls, time.monotonic() - started

    error, calls, seconds = asyncio.run(body())
    assert error.kind is ErrorKind.TIMEOUT
    assert "after 2 attempts" in str(error)
    assert calls["slow"] == 2
    assert seconds < 1.5


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_server_down_at_start_is_unavailable(transport: str) -> None:
    port = free_port()  # nothing listens here
    config = ExecutorConfig(
        protocol="v2", transport=transport, target=f"127.0.0.1:{port}", model="m",  # type: ignore[arg-type]
        retries=2, backoff_initial=0.01,
    )

    async def body() -> tuple[ExecutorError, BalancedExecutor]:
        executor = await open_executor(config)
        assert isinstance(executor, BalancedExecutor)
        try:
            with pytest.raises(ExecutorError) as info:
                await executor.predict({"x": ROWS})
            return info.value, executor
        finally:
            await executor.close()

    error, executor = asyncio.run(body())
    assert error.kind is ErrorKind.UNAVAILABLE
    assert str(port) in str(error) and "after 3 attempts" in str(error)
    state = executor.balancer.state(f"127.0.0.1:{port}")
    assert state is not None and state.failures == 3


def test_tls_and_custom_headers() -> None:
    cert, key = TLS_CERT, TLS_KEY
    seen: list[str] = []

    async def body() -> tuple[dict[str, np.ndarray], ExecutorError]:
        async def infer(request: web.Request) -> web.Response:
            seen.append(request.headers.get("Authorization", ""))
            payload = await request.json()
            return web.json_response(_v2_output(payload["inputs"][0]["shape"][0]))

        app = web.Application()
        app.router.add_post("/v2/models/{model}/infer", infer)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        target = f"127.0.0.1:{runner.addresses[0][1]}"
        try:
            trusted = TlsConfig(enabled=True, ca_file=cert)
            outputs = await _predict(target, "m", tls=trusted, headers={"Authorization": "Bearer t0k3n"})
            with pytest.raises(ExecutorError) as untrusted:  # the system store does not know our CA
                await _predict(target, "m", tls=TlsConfig(enabled=True))
            return outputs, untrusted.value
        finally:
            await runner.cleanup()

    outputs, untrusted = asyncio.run(body())
    assert outputs["y"].shape == (3, 29)
    assert seen == ["Bearer t0k3n"]
    assert untrusted.kind is ErrorKind.CONFIG and "certificate" in str(untrusted).lower()
