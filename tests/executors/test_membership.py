"""Endpoints added and removed by discovery take effect on the next call, without a restart."""

from __future__ import annotations

import asyncio
from collections import Counter

import numpy as np
from aiohttp import web

from inferstream.executors.config import ExecutorConfig
from inferstream.executors.discovery import Discovery, OnChange
from inferstream.executors.factory import endpoint_factory
from inferstream.executors.pool import BalancedExecutor


class PushedDiscovery(Discovery):
    """Endpoints pushed by the caller, as a Kubernetes watch or a DNS refresh would deliver them."""

    def __init__(self, first: list[str]) -> None:
        self.first = first
        self.on_change: OnChange | None = None

    async def start(self, on_change: OnChange) -> None:
        self.on_change = on_change
        on_change(self.first)

    def push(self, addresses: list[str]) -> None:
        assert self.on_change is not None
        self.on_change(addresses)


async def _server(name: str, hits: Counter[str]) -> web.AppRunner:
    async def infer(request: web.Request) -> web.Response:
        hits[name] += 1
        body = await request.json()
        rows = body["inputs"][0]["shape"][0]
        if body["inputs"][0]["data"][0] < 0:  # a slow call, to be in flight while membership changes
            await asyncio.sleep(0.3)
        return web.json_response({"outputs": [{"name": "y", "shape": [rows], "datatype": "FP32",
                                               "data": [1.0] * rows}]})

    app = web.Application()
    app.router.add_post("/v2/models/{model}/infer", infer)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


def test_membership_changes_apply_to_the_next_calls() -> None:
    hits: Counter[str] = Counter()

    async def body() -> None:
        runners = {name: await _server(name, hits) for name in ("a", "b", "c")}
        address = {name: f"127.0.0.1:{r.addresses[0][1]}" for name, r in runners.items()}
        config = ExecutorConfig(protocol="v2", transport="rest", target="pushed", model="m")
        discovery = PushedDiscovery([address["a"]])
        executor = await BalancedExecutor(config, endpoint_factory(config), discovery).start()
        x = {"x": np.zeros((2, 3), dtype=np.float32)}
        try:
            for _ in range(4):
                await executor.predict(x)
            assert hits == {"a": 4}
            slow = asyncio.create_task(executor.call({"x": -np.ones((2, 3), dtype=np.float32)}))
            await asyncio.sleep(0.1)
            discovery.push([address["b"], address["c"]])  # a scaled away, b and c added
            assert (await slow).source == f"http://{address['a']}"  # its call in flight still finished
            sources = [(await executor.call(x)).source for _ in range(6)]
            assert hits == {"a": 5, "b": 3, "c": 3}
            assert set(sources) == {f"http://{address['b']}", f"http://{address['c']}"}
            assert executor.balancer.addresses == [address["b"], address["c"]]
            discovery.push([])  # the service has no ready pods
            try:
                await executor.predict(x)
            except Exception as exc:
                assert "no endpoints" in str(exc)
            else:
                raise AssertionError("a call with no endpoints must fail")
        finally:
            await executor.close()
            for runner in runners.values():
                await runner.cleanup()

    asyncio.run(body())
