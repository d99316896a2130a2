"""What the REST executors put on the wire and read back, against a real loopback HTTP server that
echoes the request's tensors: several inputs in TF Serving's row format, strings, V2 types a
Tensor does not hold."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np
from aiohttp import web

from inferstream.executors.config import ExecutorConfig
from inferstream.executors.factory import open_executor


async def _echo(
    route: str, answer: Callable[[Any], Any], config: dict[str, Any], inputs: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], list[Any]]:
    bodies: list[Any] = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.json()
        bodies.append(body)
        return web.json_response(answer(body))

    app = web.Application()
    app.router.add_post(route, handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        settings = {
            "transport": "rest",
            "target": f"127.0.0.1:{runner.addresses[0][1]}",
            "model": "m",
            **config,
        }
        executor = await open_executor(ExecutorConfig(**settings))
        try:
            return await executor.predict(inputs), bodies
        finally:
            await executor.close()
    finally:
        await runner.cleanup()


def test_tfserving_row_format_sends_one_object_per_row_for_several_inputs() -> None:
    a = np.array([[0.1, 2.0], [3.5, -4.0], [5.0, 6.25]], dtype=np.float32)
    b = np.array([7, 8, 9], dtype=np.int64)
    words = np.array([b"x", b"\xff", b"z"], dtype=object)
    outputs, bodies = asyncio.run(
        _echo("/v1/models/m:predict", lambda body: {"predictions": body["instances"]},
              {"protocol": "tfserving", "rest_format": "row"}, {"a": a, "b": b, "w": words})
    )  # fmt: skip
    assert bodies[0]["instances"][1] == {"a": [3.5, -4.0], "b": 8, "w": {"b64": "/w=="}}
    assert outputs["a"].dtype == np.float32 and np.array_equal(outputs["a"], a)
    assert np.array_equal(outputs["b"], b)
    assert outputs["w"].tolist() == [b"x", b"\xff", b"z"]  # base64 decoded back to the same bytes


def test_v2_rest_sends_and_reads_types_a_tensor_does_not_hold() -> None:
    pixels = np.array([[0, 255], [17, 3]], dtype=np.uint8)

    def answer(body: Any) -> Any:
        return {"model_name": "m", "outputs": [dict(t, name="y") for t in body["inputs"]]}

    outputs, bodies = asyncio.run(_echo("/v2/models/m/infer", answer, {"protocol": "v2"}, {"x": pixels}))
    assert bodies[0]["inputs"][0] == {
        "name": "x",
        "shape": [2, 2],
        "datatype": "UINT8",
        "data": [0, 255, 17, 3],
    }
    assert outputs["y"].dtype == np.uint8 and np.array_equal(outputs["y"], pixels)
