"""TF Serving REST (row and columnar) and gRPC executors, and V2, against the built-in server."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from inferstream.executors.config import ExecutorConfig
from inferstream.executors.errors import ErrorKind, ExecutorError
from inferstream.executors.factory import open_executor

from .conftest import RunningServer

ROWS = np.arange(5 * 29, dtype=np.float32).reshape(5, 29) / 100


async def _use(config: ExecutorConfig, what: str = "predict") -> Any:
    executor = await open_executor(config)
    try:
        if what == "metadata":
            return await executor.metadata()
        return await executor.predict({"transaction": ROWS})
    finally:
        await executor.close()


@pytest.mark.parametrize(
    ("protocol", "transport", "rest_format"),
    [("tfserving", "rest", "row"), ("tfserving", "rest", "columnar"), ("tfserving", "grpc", "columnar"),
     ("v2", "rest", "columnar"), ("v2", "grpc", "columnar")],
)
def test_builtin_server_round_trip(
    builtin_server: RunningServer, protocol: str, transport: str, rest_format: str
) -> None:
    target = builtin_server.rest if transport == "rest" else builtin_server.grpc
    config = ExecutorConfig(
        protocol=protocol, transport=transport, target=target, model="fraud",  # type: ignore[arg-type]
        rest_format=rest_format, version=1,  # type: ignore[arg-type]
    )
    outputs = asyncio.run(_use(config))
    assert set(outputs) == {"predictions"}
    np.testing.assert_allclose(outputs["predictions"], 2 * ROWS, atol=1e-4)
    assert outputs["predictions"].dtype == np.float32


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_tfserving_metadata_names_the_signature(builtin_server: RunningServer, transport: str) -> None:
    target = builtin_server.rest if transport == "rest" else builtin_server.grpc
    config = ExecutorConfig(protocol="tfserving", transport=transport, target=target, model="fraud")  # type: ignore[arg-type]
    meta = asyncio.run(_use(config, "metadata"))
    assert [s.name for s in meta.inputs] == ["transaction"]
    assert [(s.name, s.shape) for s in meta.outputs] == [("predictions", (None, 29))]


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_unknown_version_is_rejected(builtin_server: RunningServer, transport: str) -> None:
    target = builtin_server.rest if transport == "rest" else builtin_server.grpc
    config = ExecutorConfig(
        protocol="tfserving", transport=transport, target=target, model="fraud", version=7  # type: ignore[arg-type]
    )
    with pytest.raises(ExecutorError) as info:
        asyncio.run(_use(config))
    assert info.value.kind is ErrorKind.REJECTED
    assert "7" in str(info.value)
