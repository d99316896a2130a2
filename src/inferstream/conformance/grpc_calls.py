"""What the gRPC batteries share: one channel per run (closed at the end) and status-code checks."""

from __future__ import annotations

from typing import Any

import grpc

from inferstream.conformance.battery import expect
from inferstream.conformance.common import TIMEOUT, Context
from inferstream.conformance.results import CheckFailed


def channel(ctx: Context) -> Any:
    """An insecure grpc.aio channel to the server under test, kept in ``ctx`` so :func:`close` ends it."""
    opened = grpc.aio.insecure_channel(ctx.base.split("://", 1)[-1])
    ctx.notes.setdefault("channels", []).append(opened)
    return opened


async def close(ctx: Context) -> None:
    for opened in ctx.notes.pop("channels", []):
        await opened.close()


async def expect_code(call: Any, request: Any, want: grpc.StatusCode, what: str) -> str:
    """Run ``call`` and require it to fail with ``want``; the status and details, shortened, as the note."""
    try:
        await call(request, timeout=TIMEOUT)
    except grpc.aio.AioRpcError as exc:
        expect(exc.code() == want, f"{what}: {exc.code().name} ({exc.details()}), expected {want.name}")
        return f"{exc.code().name}: {(exc.details() or '')[:160]}"
    raise CheckFailed(f"{what}: the call succeeded, expected {want.name}")
