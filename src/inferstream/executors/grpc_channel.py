"""One grpc.aio channel per endpoint, with TLS, metadata and gRPC status codes mapped to error kinds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from inferstream.executors.config import ExecutorConfig
from inferstream.executors.errors import ErrorKind, ExecutorError
from inferstream.observability import tracing

T = TypeVar("T")

_KIND_BY_CODE: dict[Any, ErrorKind] = {
    grpc.StatusCode.UNAVAILABLE: ErrorKind.UNAVAILABLE,
    grpc.StatusCode.CANCELLED: ErrorKind.UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ErrorKind.UNAVAILABLE,
    grpc.StatusCode.ABORTED: ErrorKind.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: ErrorKind.TIMEOUT,
    grpc.StatusCode.INVALID_ARGUMENT: ErrorKind.REJECTED,
    grpc.StatusCode.NOT_FOUND: ErrorKind.REJECTED,
    grpc.StatusCode.FAILED_PRECONDITION: ErrorKind.REJECTED,
    grpc.StatusCode.OUT_OF_RANGE: ErrorKind.REJECTED,
    grpc.StatusCode.UNIMPLEMENTED: ErrorKind.REJECTED,
    grpc.StatusCode.UNAUTHENTICATED: ErrorKind.REJECTED,
    grpc.StatusCode.PERMISSION_DENIED: ErrorKind.REJECTED,
}


def _credentials(config: ExecutorConfig) -> Any:
    tls = config.tls
    ca = tls.ca_file.read_bytes() if tls.ca_file else None
    key = tls.key_file.read_bytes() if tls.key_file else None
    cert = tls.cert_file.read_bytes() if tls.cert_file else None
    return grpc.ssl_channel_credentials(ca, key, cert)


def open_channel(address: str, config: ExecutorConfig) -> Any:
    """A channel to ``host:port`` (a scheme such as ``http://`` is dropped)."""
    target = address.split("://", 1)[-1].rstrip("/")
    options: list[tuple[str, Any]] = [
        ("grpc.max_send_message_length", config.max_message_bytes),
        ("grpc.max_receive_message_length", config.max_message_bytes),
        # Fail fast on a dead endpoint so the balancer can eject it, instead of waiting to reconnect.
        ("grpc.enable_retries", 0),
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 1000),
        ("grpc.keepalive_time_ms", 30000),
    ]
    if config.tls.enabled:
        if config.tls.server_name:
            options.append(("grpc.ssl_target_name_override", config.tls.server_name))
        return grpc.aio.secure_channel(target, _credentials(config), options=options)
    return grpc.aio.insecure_channel(target, options=options)


def call_metadata(config: ExecutorConfig) -> tuple[tuple[str, str], ...]:
    """Custom headers plus Seldon's routing keys (``seldon``, ``namespace``) as Ambassador expects."""
    pairs = [(key.lower(), value) for key, value in config.headers.items()]
    if config.seldon_deployment:
        pairs.append(("seldon", config.seldon_deployment))
    if config.seldon_namespace:
        pairs.append(("namespace", config.seldon_namespace))
    return tuple(pairs)


async def unary(call: Callable[..., Awaitable[T]], request: Any, config: ExecutorConfig, source: str) -> T:
    """Run one unary call with the configured deadline and metadata; RpcError → ExecutorError."""
    try:
        metadata = call_metadata(config) + tuple(tracing.outgoing_headers())  # W3C context when traced
        return await call(request, timeout=config.timeout, metadata=metadata)
    except grpc.aio.AioRpcError as exc:
        kind = _KIND_BY_CODE.get(exc.code(), ErrorKind.SERVER)
        raise ExecutorError(kind, f"gRPC {exc.code().name}: {exc.details()}", source) from None
