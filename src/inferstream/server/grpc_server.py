"""The gRPC server: TF Serving and V2 adapters as raw-bytes handlers on one grpc.aio server.

Handlers take the request bytes and parse them themselves, so malformed protobuf becomes
INVALID_ARGUMENT with the parse error instead of gRPC's generic INTERNAL.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from inferstream.observability import tracing
from inferstream.server.dataplane import DataPlane
from inferstream.server.errors import ErrorKind, ServerError
from inferstream.server.grpc_tfserving import TfServingGrpc
from inferstream.server.grpc_v2 import V2Grpc

log = logging.getLogger(__name__)
Method = Callable[[bytes], Awaitable[bytes]]

GRPC_STATUS: dict[ErrorKind, grpc.StatusCode] = {
    ErrorKind.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorKind.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.TOO_LARGE: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorKind.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    ErrorKind.INTERNAL: grpc.StatusCode.INTERNAL,
}


def _handler(method: Method, name: str) -> Any:
    async def behaviour(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        try:
            if not tracing.tracing_enabled():
                return await method(request)
            # continue the caller's trace (W3C traceparent in the metadata), if it sent one
            with tracing.server_span(name, [(m.key, m.value) for m in context.invocation_metadata() or ()]):
                return await method(request)
        except ServerError as exc:
            await context.abort(GRPC_STATUS[exc.kind], exc.message)
        except Exception as exc:
            log.exception("unexpected error in %s", method.__qualname__)
            await context.abort(grpc.StatusCode.INTERNAL, f"{type(exc).__name__}: {exc}")
        raise AssertionError("unreachable: abort raises")

    return grpc.unary_unary_rpc_method_handler(behaviour)


async def start_grpc_server(
    dataplane: DataPlane, host: str, port: int, max_request_bytes: int
) -> tuple[grpc.aio.Server, int]:
    """Start serving on ``host:port`` (0: a free port); returns the server and the bound port."""
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", max_request_bytes),
            ("grpc.max_send_message_length", -1),
            ("grpc.so_reuseport", 0),  # never share a port with another test's server
        ]
    )
    services: dict[str, dict[str, Method]] = {}
    for adapter in (TfServingGrpc(dataplane, max_request_bytes), V2Grpc(dataplane, max_request_bytes)):
        services.update(adapter.methods())
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                service, {name: _handler(m, f"{service}/{name}") for name, m in methods.items()}
            )
            for service, methods in services.items()
        ]
    )
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:  # grpc says "Failed to bind"; the usual cause is a port in use
        bound = 0
    if bound == 0:
        raise OSError(f"cannot bind the gRPC port {host}:{port} (is it in use?)")
    await server.start()
    return server, bound
