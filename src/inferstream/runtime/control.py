"""A local control endpoint for a running in-process pipeline: live counts and scaling.

``inferstream run BLUEPRINT --control-port 0`` serves on 127.0.0.1:

* ``GET  /stats`` — the summary (as ``--summary-json`` writes it at the end), live;
* ``POST /scale?streamlet=double&instances=3`` — change a processor's or egress's instance count.

    curl -X POST 'http://127.0.0.1:PORT/scale?streamlet=double&instances=3'
"""

from __future__ import annotations

import logging

from aiohttp import web

from inferstream.runtime.runner import Runner

log = logging.getLogger("inferstream.runtime")


class ControlServer:
    def __init__(self, runner: Runner, port: int = 0, host: str = "127.0.0.1") -> None:
        self.runner = runner
        self.port = port
        self.host = host
        self.url: str | None = None
        self._app_runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.add_routes([web.get("/stats", self._stats), web.post("/scale", self._scale)])
        self._app_runner = web.AppRunner(app, access_log=None)
        await self._app_runner.setup()
        await web.TCPSite(self._app_runner, self.host, self.port).start()
        port = self._app_runner.addresses[0][1]
        self.url = f"http://{self.host}:{port}"
        log.info("control endpoint at %s (GET /stats, POST /scale?streamlet=S&instances=N)", self.url)
        return self.url

    async def stop(self) -> None:
        if self._app_runner is not None:
            await self._app_runner.cleanup()

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.runner.stats.snapshot())

    async def _scale(self, request: web.Request) -> web.Response:
        streamlet = request.query.get("streamlet", "")
        instances = request.query.get("instances", "")
        if not instances.isdigit():
            return web.json_response({"error": "give ?streamlet=<name>&instances=<N>"}, status=400)
        try:
            await self.runner.scale(streamlet, int(instances))
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"streamlet": streamlet, "instances": int(instances)})
