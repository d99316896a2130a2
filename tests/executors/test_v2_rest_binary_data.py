"""Binary tensor data on serve's V2 REST API (our executor's option and Triton's own client,
``tritonclient[http]``) and the V2 repository index, against ``inferstream serve`` serving the
doubler (about 30 s; most of it the server's start when no other test started it)."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request

import numpy as np
import orjson
import pytest

from inferstream.executors.config import ExecutorConfig
from inferstream.executors.errors import ErrorKind, ExecutorError
from inferstream.executors.v2_rest import V2RestExecutor

from .conftest import RunningServer

ROWS = np.arange(3 * 29, dtype=np.float32).reshape(3, 29) / 7


Arrays = dict[str, np.ndarray]


async def _predict(server: RunningServer, inputs: Arrays, **options: object) -> Arrays:
    config = ExecutorConfig(protocol="v2", transport="rest", target=server.rest, model="fraud",
                            binary_data=True, **options)  # type: ignore[arg-type]
    executor = V2RestExecutor(server.rest, config)
    try:
        return await executor.predict(inputs)
    finally:
        await executor.close()


def test_executor_binary_round_trip(builtin_server: RunningServer) -> None:
    outputs = asyncio.run(_predict(builtin_server, {"transaction": ROWS}))
    assert outputs["predictions"].dtype == np.float32
    np.testing.assert_allclose(outputs["predictions"], 2 * ROWS, rtol=1e-5, atol=1e-5)


def test_executor_binary_asked_outputs(builtin_server: RunningServer) -> None:
    outputs = asyncio.run(_predict(builtin_server, {"transaction": ROWS[:1]}, output_names=("predictions",)))
    np.testing.assert_allclose(outputs["predictions"], 2 * ROWS[:1], rtol=1e-5, atol=1e-5)


def test_a_wrong_binary_size_is_the_clients_error(builtin_server: RunningServer) -> None:
    head = orjson.dumps({"inputs": [{"name": "transaction", "datatype": "FP32", "shape": [1, 29],
                                     "parameters": {"binary_data_size": 29 * 4}}]})
    request = urllib.request.Request(
        f"{builtin_server.rest}/v2/models/fraud/infer", data=head + b"\x00" * (29 * 4 - 1), method="POST",
        headers={"Inference-Header-Content-Length": str(len(head)),
                 "Content-Type": "application/octet-stream"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400
    assert "binary_data_size" in caught.value.read().decode()


def test_server_metadata_names_the_extension(builtin_server: RunningServer) -> None:
    with urllib.request.urlopen(f"{builtin_server.rest}/v2", timeout=10) as resp:
        assert "binary_tensor_data" in orjson.loads(resp.read())["extensions"]


@pytest.mark.parametrize("binary_input", [True, False])
@pytest.mark.parametrize("binary_output", [True, False])
def test_tritonclient_against_serve(
    builtin_server: RunningServer, binary_input: bool, binary_output: bool
) -> None:
    import tritonclient.http as triton

    client = triton.InferenceServerClient(f"127.0.0.1:{builtin_server.http_port}")
    try:
        assert client.is_server_live() and client.is_model_ready("fraud")
        tensor = triton.InferInput("transaction", list(ROWS.shape), "FP32")
        tensor.set_data_from_numpy(ROWS, binary_data=binary_input)
        asked = triton.InferRequestedOutput("predictions", binary_data=binary_output)
        result = client.infer("fraud", [tensor], outputs=[asked])
        np.testing.assert_allclose(result.as_numpy("predictions"), 2 * ROWS, rtol=1e-5, atol=1e-5)
        sent_binary = result.get_output("predictions").get("parameters", {}).get("binary_data_size")
        assert (sent_binary is not None) is binary_output
    finally:
        client.close()


def test_executor_error_kind_on_unknown_model(builtin_server: RunningServer) -> None:
    config = ExecutorConfig(protocol="v2", transport="rest", target=builtin_server.rest, model="absent",
                            binary_data=True)
    executor = V2RestExecutor(builtin_server.rest, config)

    async def call() -> None:
        try:
            await executor.predict({"transaction": ROWS})
        finally:
            await executor.close()

    with pytest.raises(ExecutorError) as caught:
        asyncio.run(call())
    assert caught.value.kind is ErrorKind.REJECTED and "404" in str(caught.value)


def test_repository_index_lists_the_served_version(builtin_server: RunningServer) -> None:
    request = urllib.request.Request(f"{builtin_server.rest}/v2/repository/index", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        index = orjson.loads(resp.read())
    assert {"name": "fraud", "version": "1", "state": "READY", "reason": ""} in index
