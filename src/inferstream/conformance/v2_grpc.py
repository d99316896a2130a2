"""Open Inference Protocol (V2) over gRPC: ServerLive/Ready/Metadata, ModelReady, errors by status code."""

from __future__ import annotations

from typing import Any

import grpc

from inferstream.conformance.battery import Check, expect
from inferstream.conformance.common import TIMEOUT, Context
from inferstream.conformance.grpc_calls import channel, expect_code
from inferstream.conformance.grpc_calls import close as close  # the runner ends a battery with its close()
from inferstream.conformance.results import NotApplicable
from inferstream.conformance.samples import sample_array, sample_shape, wrong_shape
from inferstream.protos import v2_pb2, v2_pb2_grpc
from inferstream.tensors.v2 import array_raw_bytes, datatype_of_numpy

UNKNOWN_MODEL = "no-such-model-conformance"


def _stub(ctx: Context) -> Any:
    return v2_pb2_grpc.GRPCInferenceServiceStub(channel(ctx))


def _request(ctx: Context, model: str, shapes: dict[str, tuple[int, ...]] | None = None) -> Any:
    meta = ctx.need_metadata()
    request = v2_pb2.ModelInferRequest(model_name=model)
    for spec in meta.inputs:
        shape = (shapes or {}).get(spec.name) or sample_shape(spec, 1)
        array = sample_array(spec, shape)
        datatype = datatype_of_numpy(array.dtype) or "BYTES"
        request.inputs.add(name=spec.name, datatype=datatype, shape=list(shape))
        request.raw_input_contents.append(array_raw_bytes(array))
    return request


def checks_before(ctx: Context) -> list[Check]:
    stub = _stub(ctx)

    async def live() -> str:
        answer = await stub.ServerLive(v2_pb2.ServerLiveRequest(), timeout=TIMEOUT)
        expect(answer.live, "ServerLive answered live=false")
        return "live"

    async def ready() -> str:
        answer = await stub.ServerReady(v2_pb2.ServerReadyRequest(), timeout=TIMEOUT)
        expect(answer.ready, "ServerReady answered ready=false")
        return "ready"

    async def server_metadata() -> str:
        answer = await stub.ServerMetadata(v2_pb2.ServerMetadataRequest(), timeout=TIMEOUT)
        expect(bool(answer.name), "ServerMetadata has no name")
        return f"{answer.name} {answer.version}, extensions {list(answer.extensions)}"

    async def model_ready() -> str:
        answer = await stub.ModelReady(v2_pb2.ModelReadyRequest(name=ctx.model), timeout=TIMEOUT)
        expect(answer.ready, f"ModelReady({ctx.model}) answered ready=false")
        return "ready"

    return [
        Check("server live", live), Check("server ready", ready),
        Check("server metadata", server_metadata), Check("model ready", model_ready),
    ]


def checks_after(ctx: Context) -> list[Check]:
    stub = _stub(ctx)
    invalid = grpc.StatusCode.INVALID_ARGUMENT

    async def unknown_model() -> str:
        return await expect_code(stub.ModelInfer, _request(ctx, UNKNOWN_MODEL), grpc.StatusCode.NOT_FOUND,
                                 "infer on an unknown model")

    async def unknown_model_ready() -> str:
        try:
            answer = await stub.ModelReady(v2_pb2.ModelReadyRequest(name=UNKNOWN_MODEL), timeout=TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            expect(exc.code() == grpc.StatusCode.NOT_FOUND, f"{exc.code().name}, expected NOT_FOUND")
            return str(exc.code().name)
        expect(not answer.ready, "an unknown model is reported ready")
        return "ready=false"

    async def bad_shape() -> str:
        for spec in ctx.need_metadata().inputs:
            shape = wrong_shape(spec)
            if shape is not None:
                request = _request(ctx, ctx.model, {spec.name: shape})
                what = f"input {spec.name} of {list(shape)}"
                return await expect_code(stub.ModelInfer, request, invalid, what)
        raise NotApplicable("every dimension is free: no shape is wrong")

    async def bad_datatype() -> str:
        request = _request(ctx, ctx.model)
        first = request.inputs[0]
        first.datatype = "INT8" if first.datatype != "INT8" else "FP32"
        what = f"input {first.name} sent as {first.datatype}"
        return await expect_code(stub.ModelInfer, request, invalid, what)

    async def malformed() -> str:
        request = _request(ctx, ctx.model)
        request.raw_input_contents[0] = request.raw_input_contents[0][:-1]  # one byte short of the shape
        return await expect_code(stub.ModelInfer, request, invalid, "raw contents one byte short")

    return [
        Check("unknown model → NOT_FOUND", unknown_model),
        Check("ready of unknown model → NOT_FOUND", unknown_model_ready, required=False),
        Check("wrong shape → INVALID_ARGUMENT", bad_shape, required=False),
        Check("wrong datatype → INVALID_ARGUMENT", bad_datatype, required=False),
        Check("malformed contents → INVALID_ARGUMENT", malformed),
    ]
