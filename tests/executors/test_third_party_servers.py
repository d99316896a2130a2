"""Every remote executor against a real server of its protocol: MLServer, KServe, seldon-core.

Each server serves a model that doubles its input, so a round trip checks values, shapes and
dtype handling, not just that something answered.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from inferstream.executors.base import ModelExecutor
from inferstream.executors.config import ExecutorConfig
from inferstream.executors.errors import ErrorKind, ExecutorError
from inferstream.executors.factory import open_executor
from inferstream.executors.pool import BalancedExecutor

from .conftest import RunningServer

pytestmark = pytest.mark.servers

ROWS = np.arange(3 * 29, dtype=np.float32).reshape(3, 29) / 10


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _call(config: ExecutorConfig, inputs: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], str]:
    executor: ModelExecutor = await open_executor(config)
    try:
        assert isinstance(executor, BalancedExecutor)
        prediction = await executor.call(inputs)
        return prediction.outputs, prediction.source
    finally:
        await executor.close()


def _only(outputs: dict[str, np.ndarray]) -> np.ndarray:
    assert len(outputs) == 1, outputs
    return next(iter(outputs.values()))


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_mlserver_v2(mlserver: RunningServer, transport: str) -> None:
    target = mlserver.rest if transport == "rest" else mlserver.grpc
    config = ExecutorConfig(protocol="v2", transport=transport, target=target, model="fraud")  # type: ignore[arg-type]
    outputs, source = run(_call(config, {"transaction": ROWS}))
    assert set(outputs) == {"predict"}  # MLServer's scikit-learn runtime names its output after the method
    np.testing.assert_allclose(outputs["predict"], 2 * ROWS, rtol=1e-5, atol=1e-5)
    assert source.endswith(str(mlserver.http_port if transport == "rest" else mlserver.grpc_port))


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_kserve_v2(kserve: RunningServer, transport: str) -> None:
    target = kserve.rest if transport == "rest" else kserve.grpc
    config = ExecutorConfig(protocol="v2", transport=transport, target=target, model="fraud")  # type: ignore[arg-type]
    outputs, _ = run(_call(config, {"transaction": ROWS}))
    result = _only(outputs)
    assert result.shape == (3, 29) and result.dtype == np.float32
    np.testing.assert_allclose(result, 2 * ROWS, rtol=1e-6)


def test_kserve_v1_is_tf_serving_row_format(kserve: RunningServer) -> None:
    config = ExecutorConfig(
        protocol="tfserving", transport="rest", target=kserve.rest, model="fraud", rest_format="row"
    )
    outputs, _ = run(_call(config, {"transaction": ROWS}))
    np.testing.assert_allclose(outputs["predictions"], 2 * ROWS, rtol=1e-6)


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_seldon_protocol(seldon: RunningServer, transport: str) -> None:
    target = seldon.rest if transport == "rest" else seldon.grpc
    config = ExecutorConfig(
        protocol="seldon", transport=transport, target=target, output_names=("reconstruction",)  # type: ignore[arg-type]
    )
    outputs, _ = run(_call(config, {"transaction": ROWS}))
    assert set(outputs) == {"reconstruction"}
    np.testing.assert_allclose(outputs["reconstruction"], 2 * ROWS, rtol=1e-6)


def test_v2_unknown_model_is_rejected_not_retried(mlserver: RunningServer) -> None:
    config = ExecutorConfig(protocol="v2", transport="rest", target=mlserver.rest, model="nope", retries=3)
    with pytest.raises(ExecutorError) as info:
        run(_call(config, {"transaction": ROWS}))
    assert info.value.kind is ErrorKind.REJECTED
    assert "HTTP 404" in str(info.value) and "after" not in str(info.value)


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_seldon_model_failure_is_a_server_error(seldon: RunningServer, transport: str) -> None:
    bad = ROWS.copy()
    bad[0, 0] = np.nan  # the test model raises on NaN
    target = seldon.rest if transport == "rest" else seldon.grpc
    config = ExecutorConfig(protocol="seldon", transport=transport, target=target)  # type: ignore[arg-type]
    with pytest.raises(ExecutorError) as info:
        run(_call(config, {"transaction": bad}))
    assert info.value.kind in (ErrorKind.SERVER, ErrorKind.REJECTED)
    assert "NaN" in str(info.value)


def test_metadata_from_v2_server(kserve: RunningServer) -> None:
    async def body() -> Any:
        executor = await open_executor(
            ExecutorConfig(protocol="v2", transport="rest", target=kserve.rest, model="fraud")
        )
        try:
            return await executor.metadata()
        finally:
            await executor.close()

    assert run(body()).name == "fraud"
