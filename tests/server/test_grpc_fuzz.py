"""Random bytes on the built-in server's gRPC port: every method answers a typed status with a reason.

Two layers: random request messages on every TF Serving and V2 method (a well-formed gRPC call
carrying garbage; also mutations of a valid Predict request), and raw garbage on the socket (not
HTTP/2 at all). The server never answers INTERNAL/UNKNOWN, never hangs (each call has a deadline),
and still serves a good request afterwards. Budget: deterministic, ~400 calls, a few seconds
(plus the session's server start).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from datetime import timedelta

import grpc
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inferstream.protos import predict_pb2
from inferstream.tensors.tensor import Tensor
from inferstream.tensors.tensorproto import tensor_to_proto

from .conftest import ServerThread

METHODS = [
    "/tensorflow.serving.PredictionService/Predict",
    "/tensorflow.serving.PredictionService/GetModelMetadata",
    "/tensorflow.serving.ModelService/GetModelStatus",
    "/inference.GRPCInferenceService/ModelInfer",
    "/inference.GRPCInferenceService/ModelMetadata",
    "/inference.GRPCInferenceService/ModelReady",
    "/inference.GRPCInferenceService/ServerLive",
    "/inference.GRPCInferenceService/ServerReady",
    "/inference.GRPCInferenceService/ServerMetadata",
]
# What a garbage request may get: refusals that say why (never INTERNAL or UNKNOWN), or a valid answer.
REFUSALS = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.RESOURCE_EXHAUSTED}
SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
FUZZ = settings(
    max_examples=40, deadline=timedelta(seconds=10), derandomize=True, suppress_health_check=SLOW_OK
)


@pytest.fixture(scope="module")
def channel(server: ServerThread) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.grpc) as ch:
        grpc.channel_ready_future(ch).result(timeout=30)
        yield ch


def _good_predict() -> bytes:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "linear"
    x = Tensor.from_numpy(np.ones((1, 4), np.float32))
    request.inputs["X"].CopyFrom(tensor_to_proto(x))
    return bytes(request.SerializeToString())


def _call(channel: grpc.Channel, method: str, payload: bytes) -> grpc.StatusCode:
    call = channel.unary_unary(method)  # no serializers: bytes in, bytes out
    try:
        call(payload, timeout=10)
    except grpc.RpcError as error:
        code = error.code()
        assert code in REFUSALS, f"{method}: {code} {error.details()}"
        assert error.details(), f"{method}: {code} without a reason"
        return code  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


@pytest.mark.parametrize("method", METHODS)
@FUZZ
@given(payload=st.binary(max_size=256))
def test_random_request_bytes_get_a_typed_status(channel: grpc.Channel, method: str, payload: bytes) -> None:
    _call(channel, method, payload)


@FUZZ
@given(cuts=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), min_size=1, max_size=4),
       truncate=st.integers(0, 200))  # fmt: skip
def test_mutated_predict_requests_get_a_typed_status(
    channel: grpc.Channel, cuts: list[tuple[int, int]], truncate: int
) -> None:
    data = bytearray(_good_predict())
    for at, value in cuts:
        data[at % len(data)] = value
    _call(channel, METHODS[0], bytes(data[: len(data) - truncate % len(data)]))


def test_oversized_message_is_refused_with_a_clear_status(
    channel: grpc.Channel, server: ServerThread
) -> None:
    limit = server.settings.max_request_bytes
    code = None
    try:
        channel.unary_unary(METHODS[0])(b"\x00" * (limit + 1), timeout=30)
    except grpc.RpcError as error:
        code, details = error.code(), error.details() or ""
    assert code is grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in details


def test_garbage_on_the_socket_leaves_the_server_serving(channel: grpc.Channel, server: ServerThread) -> None:
    rng = np.random.default_rng(13)
    for size in (1, 24, 512, 65_536):
        # The server closes the connection (after a GOAWAY), maybe before we finish: never hangs.
        address = ("127.0.0.1", server.ports.grpc)
        with socket.create_connection(address, timeout=10) as raw, contextlib.suppress(OSError):
            raw.sendall(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
            raw.shutdown(socket.SHUT_WR)
            while raw.recv(4096):
                pass
    assert _call(channel, METHODS[0], _good_predict()) is grpc.StatusCode.OK
