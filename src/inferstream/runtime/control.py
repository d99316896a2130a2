"""A local control endpoint for a running pipeline: live counts and scaling.

``inferstream run BLUEPRINT --control-port 0`` serves on 127.0.0.1:

* ``GET  /stats`` — the summary (as ``--summary-json`` writes it at the end), live;
* ``POST /scale?streamlet=double&instances=3`` — change a processor's or egress's instance count
  (on Kafka, ``inferstream run --transport kafka``: instance processes start and stop live).

    curl -X POST 'http://127.0.0.1:PORT/scale?streamlet=double&instances=3'

Only the bound address may talk to it (:mod:`~inferstream.runtime.control_guard`): a request
whose ``Host`` or ``Origin`` names anything else gets 403, so a web page cannot rescale the run
or read it through DNS rebinding; bound beyond loopback it needs a token
(``INFERSTREAM_CONTROL_TOKEN``, sent as ``Authorization: Bearer <token>``). ``instances`` is
bounded: by the inlet topics' partitions on a transport that spans processes (Kafka), else by
``max_instances`` (``INFERSTREAM_CONTROL_MAX_INSTANCES``, default 32).
"""

from __future__ import annotations

import logging
import os
from typing import Protocol

from aiohttp import web

from inferstream.runtime.control_guard import TOKEN_ENV, ControlGuard
from inferstream.runtime.plan import Plan
from inferstream.runtime.run_stats import PipelineStats
from inferstream.transports.base import Transport

log = logging.getLogger("inferstream.runtime")
#: Environment variable bounding ``instances`` of an in-memory run (default 32).
MAX_INSTANCES_ENV = "INFERSTREAM_CONTROL_MAX_INSTANCES"


class Scalable(Protocol):
    """What the endpoint drives: the in-process :class:`~inferstream.runtime.runner.Runner` (instances
    are tasks) or the :class:`~inferstream.runtime.processes.ProcessRunner` (instances are processes)."""

    plan: Plan
    transport: Transport

    @property
    def stats(self) -> PipelineStats: ...

    async def scale(self, streamlet: str, instances: int) -> None: ...


class ControlServer:
    def __init__(
        self,
        runner: Scalable,
        port: int = 0,
        host: str = "127.0.0.1",
        token: str | None = None,
        max_instances: int | None = None,
    ) -> None:
        """``token``: required of clients (default: ``INFERSTREAM_CONTROL_TOKEN``; needed beyond loopback)."""
        self.runner = runner
        self.port = port
        self.host = host
        self.guard = ControlGuard(host, token if token is not None else os.environ.get(TOKEN_ENV) or None)
        self.max_instances = max_instances or int(os.environ.get(MAX_INSTANCES_ENV, "32"))
        self.url: str | None = None
        self._app_runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application(middlewares=[self.guard.middleware])
        app.add_routes([web.get("/stats", self._stats), web.post("/scale", self._scale)])
        self._app_runner = web.AppRunner(app, access_log=None)
        await self._app_runner.setup()
        await web.TCPSite(self._app_runner, self.host, self.port).start()
        port = self._app_runner.addresses[0][1]
        self.guard.port = port
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
        limit, why = self.instance_limit(streamlet)
        if int(instances) > limit:
            return web.json_response(
                {"error": f"at most {limit} instances of {streamlet!r} ({why})"}, status=400
            )
        try:
            await self.runner.scale(streamlet, int(instances))
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"streamlet": streamlet, "instances": int(instances)})

    def instance_limit(self, streamlet: str) -> tuple[int, str]:
        """The most instances ``streamlet`` may get, and why."""
        plan = self.runner.plan
        if self.runner.transport.multiprocess and streamlet in plan.streamlets:
            inlet_topics = set(plan.streamlets[streamlet].wiring.inlet_topics.values())
            partitions = [t.partitions for t in plan.topics if t.name in inlet_topics]
            if partitions:
                return min(partitions), "its inlet topics' partitions: an instance more would read nothing"
        return self.max_instances, f"{MAX_INSTANCES_ENV}"
