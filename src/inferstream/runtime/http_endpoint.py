"""The HTTP endpoint of a server streamlet: its routes on ``HTTP_HOST:<http-port>`` (0: a free port)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from inferstream.runtime.streamlet import HTTP_HOST, HTTP_PORT, ServerStreamlet, StreamletContext

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger("inferstream.runtime")


async def start_http(streamlet: ServerStreamlet, ctx: StreamletContext, name: str) -> web.AppRunner:
    """Serve ``streamlet.http_routes()``; sets ``ctx.http_url``. Clean up with ``runner.cleanup()``."""
    from aiohttp import web

    app = web.Application()
    app.add_routes(streamlet.http_routes())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = int(ctx.config.get(HTTP_PORT.key, 0) or 0)
    site = web.TCPSite(runner, HTTP_HOST, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    ctx.http_url = f"http://{HTTP_HOST}:{bound}"
    log.info("%s: HTTP endpoint at %s", name, ctx.http_url)
    return runner
