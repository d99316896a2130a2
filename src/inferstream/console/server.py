"""The console's HTTP server: the page, its assets, the view as JSON and as server-sent events.

Routes: ``/`` (the page), ``/assets/*`` (packaged script and style), ``/api/view`` (the latest view),
``/api/events`` (a ``view`` event per tick), ``/state/<streamlet>`` (the streamlet's counters and its
instances' ``/state`` answers). Binds 127.0.0.1 unless told otherwise: it has no authentication.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from inferstream.console.probes import RunProbe
from inferstream.console.view import ViewCollector

log = logging.getLogger("inferstream.console")
ASSETS = Path(__file__).parent / "assets"


def parse_address(text: str) -> tuple[str, int]:
    """``[HOST:]PORT`` -> (host, port); the host defaults to 127.0.0.1, port 0 picks a free one."""
    host, _, port = text.rpartition(":")
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r}: write [HOST:]PORT, e.g. 8080 or 127.0.0.1:8080 (0: a free port)")
    return (host.strip("[]") or "127.0.0.1"), int(port)


class ConsoleServer:
    """Serves the live page of one run; ``await start()`` returns its URL, ``await finish()`` ends it."""

    def __init__(
        self,
        probe: RunProbe,
        host: str = "127.0.0.1",
        port: int = 0,
        transport_name: str = "",
        interval: float = 1.0,
    ) -> None:
        self.probe = probe
        self.host, self.port = host, port
        self.collector = ViewCollector(probe, transport_name or probe.transport.name, interval)
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

    async def start(self) -> str:
        app = web.Application()
        app.add_routes([
            web.get("/", self._page),
            web.get("/favicon.ico", self._no_icon),
            web.get("/api/view", self._view),
            web.get("/api/events", self._events),
            web.get("/state/{streamlet}", self._state),
            web.static("/assets", ASSETS),
        ])
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        port = self._runner.addresses[0][1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{port}/"
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2.0))
        self._task = asyncio.create_task(self.collector.run(self._session), name="console")
        log.info("console at %s", self.url)
        return self.url

    async def finish(self, summary: dict[str, Any] | None = None, linger: float = 1.5) -> None:
        """Show ``summary`` (the run's final counters) as the last view, let pages receive it, stop."""
        if summary is not None and self._session is not None:
            if self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
                self._task = None
            self.probe.final = summary
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                await self.collector.collect(self._session)
            await asyncio.sleep(linger)
        await self.stop()

    async def stop(self) -> None:
        self._closing.set()
        async with self.collector.changed:
            self.collector.changed.notify_all()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _page(self, _: web.Request) -> web.FileResponse:
        return web.FileResponse(ASSETS / "index.html", headers={"Cache-Control": "no-cache"})

    async def _no_icon(self, _: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _view(self, _: web.Request) -> web.Response:
        return web.json_response(self.collector.view)

    async def _state(self, request: web.Request) -> web.Response:
        name = request.match_info["streamlet"]
        view = self.collector.view.get("streamlets", {}).get(name)
        if view is None:
            return web.json_response({"error": f"no streamlet {name!r} in this run"}, status=404)
        counters = {k: v for k, v in view.items() if k != "series"}
        body = {"streamlet": name, "counters": counters, "instances": self.collector.state.get(name, [])}
        return web.json_response(body)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no",
        })
        await response.prepare(request)
        seen = -1
        try:
            while not self._closing.is_set():
                if self.collector.version != seen and self.collector.view:
                    seen = self.collector.version
                    await response.write(b"event: view\ndata: " + json.dumps(self.collector.view).encode()
                                         + b"\n\n")
                async with self.collector.changed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.collector.changed.wait(), 15.0)
                if self.collector.version == seen:
                    await response.write(b": keep-alive\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response
