"""The REST server: TF Serving and V2 adapters, health, Prometheus metrics, JSON errors, size limits."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from inferstream.server.dataplane import DataPlane
from inferstream.server.errors import HTTP_STATUS, ServerError
from inferstream.server.openapi import openapi_document
from inferstream.server.rest_tfserving import TfServingRest
from inferstream.server.rest_v2 import V2Rest

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.Response(
        body=json.dumps({"error": message}).encode(), status=status, content_type="application/json"
    )


@web.middleware
async def _errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    # Every failure answers {"error": ...} with its status, as TF Serving and V2 do; none stops the server.
    try:
        return await handler(request)
    except ServerError as exc:
        return _error(HTTP_STATUS[exc.kind], exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.text and exc.text.startswith('{"error"'):
            return _error(exc.status, json.loads(exc.text)["error"])
        return _error(exc.status, exc.text or exc.reason)
    except Exception as exc:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _error(500, f"{type(exc).__name__}: {exc}")


def build_rest_app(dataplane: DataPlane, max_request_bytes: int = 64 * 1024 * 1024) -> web.Application:
    app = web.Application(client_max_size=max_request_bytes, middlewares=[_errors_as_json])
    app.add_routes(TfServingRest(dataplane, max_request_bytes).routes())
    app.add_routes(V2Rest(dataplane, max_request_bytes).routes())

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=dataplane.metrics.exposition(), content_type="text/plain", charset="utf-8")

    description = json.dumps(openapi_document()).encode()

    async def openapi(request: web.Request) -> web.Response:
        return web.Response(body=description, content_type="application/json")

    async def health(request: web.Request) -> web.Response:
        ready = dataplane.ready()
        return web.json_response({"ready": ready}, status=200 if ready else 503)

    app.add_routes(
        [
            web.get("/metrics", metrics),
            web.get("/monitoring/prometheus/metrics", metrics),  # TF Serving's path for the same
            web.get("/healthz", health),
            web.get("/readyz", health),
            web.get("/openapi.json", openapi),
        ]
    )
    return app
