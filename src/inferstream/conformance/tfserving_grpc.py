"""TensorFlow Serving gRPC: GetModelStatus, GetModelMetadata, Predict, errors by status code."""

from __future__ import annotations

from typing import Any

import grpc
import numpy as np

from inferstream.conformance.battery import Check, expect
from inferstream.conformance.common import TIMEOUT, Context, not_applicable
from inferstream.conformance.grpc_calls import channel, expect_code
from inferstream.conformance.grpc_calls import close as close  # the runner ends a battery with its close()
from inferstream.conformance.results import NotApplicable
from inferstream.conformance.samples import sample_array, sample_shape, wrong_shape
from inferstream.protos import (
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    types_pb2,
)
from inferstream.tensors import Tensor
from inferstream.tensors.tensorproto import tensor_to_proto

UNKNOWN_MODEL = "no-such-model-conformance"
NO_HEALTH = "TF Serving has no server health RPC (GetModelStatus answers for it)"
AVAILABLE = 30  # ModelVersionStatus.State.AVAILABLE


def _request(ctx: Context, model: str, shapes: dict[str, tuple[int, ...]] | None = None) -> Any:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    for spec in ctx.need_metadata().inputs:
        array = sample_array(spec, (shapes or {}).get(spec.name) or sample_shape(spec, 1))
        tensor_to_proto(Tensor.from_numpy(array, spec.name), into=request.inputs[spec.name])
    return request


def checks_before(ctx: Context) -> list[Check]:
    models = model_service_pb2_grpc.ModelServiceStub(channel(ctx))

    async def model_ready() -> str:
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = ctx.model
        answer = await models.GetModelStatus(request, timeout=TIMEOUT)
        available = [s.version for s in answer.model_version_status if s.state == AVAILABLE]
        expect(bool(available), f"no version is AVAILABLE: {answer}")
        return f"AVAILABLE versions {available}"

    return [
        Check("server live", not_applicable(NO_HEALTH)),
        Check("server ready", not_applicable(NO_HEALTH)),
        Check("server metadata", not_applicable("TF Serving has no server metadata RPC")),
        Check("model ready", model_ready),
    ]


def checks_after(ctx: Context) -> list[Check]:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel(ctx))
    invalid = grpc.StatusCode.INVALID_ARGUMENT

    async def unknown_model() -> str:
        return await expect_code(stub.Predict, _request(ctx, UNKNOWN_MODEL), grpc.StatusCode.NOT_FOUND,
                                 "predict on an unknown model")

    async def bad_shape() -> str:
        for spec in ctx.need_metadata().inputs:
            shape = wrong_shape(spec)
            if shape is not None:
                request = _request(ctx, ctx.model, {spec.name: shape})
                what = f"input {spec.name} of {list(shape)}"
                return await expect_code(stub.Predict, request, invalid, what)
        raise NotApplicable("every dimension is free: no shape is wrong")

    async def bad_datatype() -> str:
        request = _request(ctx, ctx.model)
        name = ctx.need_metadata().inputs[0].name
        proto = request.inputs[name]
        if proto.dtype == types_pb2.DT_STRING:
            raise NotApplicable("the input is a string tensor")
        shape = tuple(dim.size for dim in proto.tensor_shape.dim)
        proto.Clear()
        tensor_to_proto(Tensor.from_numpy(_strings(shape), name), into=proto)
        return await expect_code(stub.Predict, request, invalid, f"input {name} sent as DT_STRING")

    async def malformed() -> str:
        request = _request(ctx, ctx.model)
        proto = request.inputs[ctx.need_metadata().inputs[0].name]
        if not proto.tensor_content:
            raise NotApplicable("the input is not sent as tensor_content")
        proto.tensor_content = proto.tensor_content[:-1]  # one byte short of the shape
        return await expect_code(stub.Predict, request, invalid, "tensor_content one byte short")

    return [
        Check("unknown model → NOT_FOUND", unknown_model),
        Check("wrong shape → INVALID_ARGUMENT", bad_shape, required=False),
        Check("wrong datatype → INVALID_ARGUMENT", bad_datatype, required=False),
        Check("malformed tensor → INVALID_ARGUMENT", malformed),
    ]


def _strings(shape: tuple[int, ...]) -> Any:
    values = np.empty(shape, dtype=object)
    values.reshape(-1)[:] = [b"not-a-number"] * values.size
    return values
