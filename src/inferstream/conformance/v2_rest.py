"""Open Inference Protocol (V2) over REST: health, server and model metadata, infer, error statuses."""

from __future__ import annotations

import json
from typing import Any

from inferstream.conformance.battery import Check, expect
from inferstream.conformance.common import Context, expect_status, http, malformed_checks
from inferstream.conformance.results import NotApplicable
from inferstream.conformance.samples import sample_array, sample_shape, wrong_shape
from inferstream.tensors.v2 import datatype_of_numpy

UNKNOWN_MODEL = "no-such-model-conformance"


def _tensor(name: str, datatype: str, shape: tuple[int, ...], data: list[Any]) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": list(shape), "data": data}


def _data(array: Any) -> list[Any]:
    flat = array.reshape(-1)
    return [v.decode() if isinstance(v, bytes) else v for v in flat.tolist()]


def _good_body(ctx: Context) -> dict[str, Any]:
    meta = ctx.need_metadata()
    tensors = []
    for spec in meta.inputs:
        array = sample_array(spec, sample_shape(spec, 1))
        datatype = datatype_of_numpy(array.dtype) or "BYTES"
        tensors.append(_tensor(spec.name, datatype, array.shape, _data(array)))
    return {"inputs": tensors}


def checks_before(ctx: Context) -> list[Check]:
    base = ctx.base
    model = f"{base}/v2/models/{ctx.model}"

    async def live() -> str:
        return expect_status(await http("GET", f"{base}/v2/health/live"), 200, "GET /v2/health/live")

    async def ready() -> str:
        return expect_status(await http("GET", f"{base}/v2/health/ready"), 200, "GET /v2/health/ready")

    async def server_metadata() -> str:
        status, text = await http("GET", f"{base}/v2")
        expect(status == 200, f"GET /v2: HTTP {status}: {text[:160]}")
        body = json.loads(text)
        missing = [k for k in ("name", "version", "extensions") if k not in body]
        expect(not missing, f"server metadata lacks {missing}")
        return f"{body['name']} {body['version']}, extensions {body['extensions']}"

    async def model_ready() -> str:
        return expect_status(await http("GET", f"{model}/ready"), 200, f"GET /v2/models/{ctx.model}/ready")

    return [
        Check("server live", live), Check("server ready", ready),
        Check("server metadata", server_metadata), Check("model ready", model_ready),
    ]


def checks_after(ctx: Context) -> list[Check]:
    infer = f"{ctx.base}/v2/models/{ctx.model}/infer"

    async def unknown_model() -> str:
        body = json.dumps(_good_body(ctx)).encode()
        got = await http("POST", f"{ctx.base}/v2/models/{UNKNOWN_MODEL}/infer", body)
        return expect_status(got, 404, "infer on an unknown model")

    async def unknown_model_ready() -> str:
        got = await http("GET", f"{ctx.base}/v2/models/{UNKNOWN_MODEL}/ready")
        expect(got[0] == 404, f"ready of an unknown model: HTTP {got[0]}, expected 404: {got[1][:160]}")
        return f"HTTP {got[0]}"

    async def bad_shape() -> str:
        meta = ctx.need_metadata()
        body = _good_body(ctx)
        for tensor, spec in zip(body["inputs"], meta.inputs, strict=True):
            shape = wrong_shape(spec)
            if shape is not None:
                array = sample_array(spec, shape)
                tensor.update(shape=list(shape), data=_data(array))
                return expect_status(await http("POST", infer, json.dumps(body).encode()), 400,
                                     f"input {spec.name} of shape {list(shape)}")
        raise NotApplicable("every dimension is free: no shape is wrong")

    async def bad_datatype() -> str:
        body = _good_body(ctx)
        tensor = body["inputs"][0]
        wrong = "BYTES" if tensor["datatype"] != "BYTES" else "FP32"
        count = len(tensor["data"])
        tensor.update(datatype=wrong, data=["x"] * count if wrong == "BYTES" else [0.5] * count)
        return expect_status(await http("POST", infer, json.dumps(body).encode()), 400,
                             f"input {tensor['name']} sent as {wrong}")

    malformed, malformed_400 = malformed_checks(infer, b'{"inputs": [{"name": ')

    async def data_count() -> str:
        body = _good_body(ctx)
        body["inputs"][0]["data"] = body["inputs"][0]["data"][:-1] or [1]
        return expect_status(await http("POST", infer, json.dumps(body).encode()), 400,
                             "data with one element fewer than the shape says")

    return [
        Check("unknown model → 404", unknown_model),
        Check("ready of unknown model → 404", unknown_model_ready, required=False),
        Check("wrong shape → 400", bad_shape, required=False),
        Check("wrong datatype → 400", bad_datatype, required=False),
        Check("data/shape mismatch → 400", data_count, required=False),
        Check("malformed body → 4xx", malformed),
        Check("malformed body → 400 exactly", malformed_400, required=False),
    ]
