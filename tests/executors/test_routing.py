"""Routing the original relied on: Seldon's Ambassador REST prefix, and gRPC with TLS and metadata
(``seldon``/``namespace`` routing keys, auth tokens) — against real loopback servers."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import numpy as np
from aiohttp import web

from inferstream.executors.config import ExecutorConfig, TlsConfig
from inferstream.executors.factory import open_executor
from inferstream.protos import predict_pb2, prediction_service_pb2_grpc
from inferstream.tensors import Tensor
from inferstream.tensors.tensorproto import tensor_from_proto, tensor_to_proto

from .conftest import TLS_CERT, TLS_KEY

ROWS = np.arange(2 * 29, dtype=np.float32).reshape(2, 29)


def test_rest_path_prefix_reaches_the_model_behind_ambassador() -> None:
    seen: list[str] = []

    async def predict(request: web.Request) -> web.Response:
        seen.append(request.path)
        body = await request.json()
        return web.json_response({"predictions": (np.asarray(body["instances"]) * 2).tolist()})

    async def body() -> dict[str, np.ndarray]:
        app = web.Application()
        app.router.add_post("/seldon/seldon/rest-tfserving/v1/models/fraud:predict", predict)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        config = ExecutorConfig(
            protocol="tfserving", transport="rest", target=f"127.0.0.1:{runner.addresses[0][1]}",
            model="fraud", rest_format="row", path_prefix="/seldon/seldon/rest-tfserving/",
        )
        executor = await open_executor(config)
        try:
            return await executor.predict({"transaction": ROWS})
        finally:
            await executor.close()
            await runner.cleanup()

    outputs = asyncio.run(body())
    assert seen == ["/seldon/seldon/rest-tfserving/v1/models/fraud:predict"]
    np.testing.assert_allclose(outputs["predictions"], 2 * ROWS)


class Doubling(prediction_service_pb2_grpc.PredictionServiceServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        self.metadata: list[dict[str, str]] = []
        self.specs: list[Any] = []

    async def Predict(self, request: Any, context: Any) -> Any:
        self.metadata.append({k: v for k, v in context.invocation_metadata()})
        self.specs.append(request.model_spec)
        response = predict_pb2.PredictResponse()
        doubled = tensor_from_proto(request.inputs["transaction"]).data * 2
        if request.model_spec.name == "slow":
            await asyncio.sleep(1.0)
        if request.model_spec.name == "short":  # one row too few: the answer cannot be split per record
            doubled = doubled[1:]
        tensor_to_proto(Tensor.from_numpy(doubled), into=response.outputs["predictions"])
        return response


def test_grpc_with_tls_auth_and_seldon_routing_metadata() -> None:
    cert, key = TLS_CERT, TLS_KEY
    servicer = Doubling()

    async def body() -> dict[str, np.ndarray]:
        server = grpc.aio.server()
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(servicer, server)
        credentials = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
        port = server.add_secure_port("127.0.0.1:0", credentials)
        await server.start()
        config = ExecutorConfig(
            protocol="tfserving", transport="grpc", target=f"127.0.0.1:{port}", model="fraud",
            version=3, signature="serving_default", seldon_deployment="grpc-tfserving",
            seldon_namespace="seldon", headers={"Authorization": "Bearer t0k3n"},
            tls=TlsConfig(enabled=True, ca_file=cert),
        )
        executor = await open_executor(config)
        try:
            return await executor.predict({"transaction": ROWS})
        finally:
            await executor.close()
            await server.stop(None)

    outputs = asyncio.run(body())
    np.testing.assert_allclose(outputs["predictions"], 2 * ROWS)
    metadata = servicer.metadata[0]
    assert metadata["seldon"] == "grpc-tfserving" and metadata["namespace"] == "seldon"
    assert metadata["authorization"] == "Bearer t0k3n"
    spec = servicer.specs[0]
    assert (spec.name, spec.version.value, spec.signature_name) == ("fraud", 3, "serving_default")


def test_grpc_timeouts_and_wrong_shapes_are_typed_errors() -> None:
    from inferstream.executors.errors import ErrorKind, ExecutorError

    async def body() -> list[ExecutorError]:
        server = grpc.aio.server()
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Doubling(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        errors = []
        try:
            for model in ("slow", "short"):
                config = ExecutorConfig(protocol="tfserving", transport="grpc", target=f"127.0.0.1:{port}",
                                        model=model, timeout=0.2, retries=1, backoff_initial=0.01)
                executor = await open_executor(config)
                try:
                    await executor.predict({"transaction": ROWS})
                except ExecutorError as exc:
                    errors.append(exc)
                finally:
                    await executor.close()
        finally:
            await server.stop(None)
        return errors

    slow, short = asyncio.run(body())
    assert slow.kind is ErrorKind.TIMEOUT and "after 2 attempts" in str(slow)
    assert short.kind is ErrorKind.MALFORMED and "expected the batch size 2" in str(short)
