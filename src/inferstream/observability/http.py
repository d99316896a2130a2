"""A small HTTP endpoint per instance: ``/state`` (JSON statistics) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

StateProvider = Callable[[], dict[str, Any] | list[dict[str, Any]]]


class StatsServer:
    """Serves ``state()`` at ``/state`` and ``metrics()`` at ``/metrics``; port 0 picks a free port."""

    def __init__(
        self,
        state: StateProvider,
        metrics: Callable[[], bytes] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._state, self._metrics = state, metrics
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None

    async def start(self) -> StatsServer:
        app = web.Application()
        app.router.add_get("/state", self._get_state)
        app.router.add_get("/metrics", self._get_metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        if server is not None and self.port == 0:
            sockets = getattr(server, "sockets", None) or []
            self.port = int(sockets[0].getsockname()[1])
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def _get_state(self, _: web.Request) -> web.Response:
        return web.json_response(self._state())

    async def _get_metrics(self, _: web.Request) -> web.Response:
        if self._metrics is None:
            return web.Response(status=404, text="no metrics for this instance")
        return web.Response(body=self._metrics(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
