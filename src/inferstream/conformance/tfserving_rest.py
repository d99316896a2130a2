"""TensorFlow Serving REST: model status, metadata, ``:predict``, error statuses.

TF Serving has no server-wide health endpoint: the model status (``GET /v1/models/<m>``) answers
for the server, so the server health checks are marked not applicable.
"""

from __future__ import annotations

import json
from typing import Any

from inferstream.conformance.battery import Check, expect
from inferstream.conformance.common import Context, expect_status, http, malformed_checks, not_applicable
from inferstream.conformance.results import NotApplicable
from inferstream.conformance.samples import sample_array, sample_shape, wrong_shape

UNKNOWN_MODEL = "no-such-model-conformance"
NO_HEALTH = "TF Serving has no server health endpoint (the model status answers for it)"


def _listed(array: Any) -> Any:
    if array.dtype == object:
        rows = array.reshape(array.shape[0], -1)
        return [[v.decode() if isinstance(v, bytes) else v for v in row] for row in rows]
    return array.tolist()


def _good_body(ctx: Context, shapes: dict[str, tuple[int, ...]] | None = None) -> dict[str, Any]:
    inputs = {}
    for spec in ctx.need_metadata().inputs:
        shape = (shapes or {}).get(spec.name) or sample_shape(spec, 1)
        inputs[spec.name] = _listed(sample_array(spec, shape))
    return {"inputs": inputs}


def checks_before(ctx: Context) -> list[Check]:
    async def model_ready() -> str:
        status, text = await http("GET", f"{ctx.base}/v1/models/{ctx.model}")
        expect(status == 200, f"GET /v1/models/{ctx.model}: HTTP {status}: {text[:160]}")
        versions = json.loads(text).get("model_version_status") or []
        available = [v.get("version") for v in versions if v.get("state") == "AVAILABLE"]
        expect(bool(available), f"no version is AVAILABLE: {versions}")
        return f"AVAILABLE versions {available}"

    return [
        Check("server live", not_applicable(NO_HEALTH)),
        Check("server ready", not_applicable(NO_HEALTH)),
        Check("server metadata", not_applicable("TF Serving has no server metadata endpoint")),
        Check("model ready", model_ready),
    ]


def checks_after(ctx: Context) -> list[Check]:
    predict = f"{ctx.base}/v1/models/{ctx.model}:predict"

    async def unknown_model() -> str:
        body = json.dumps(_good_body(ctx)).encode()
        return expect_status(await http("POST", f"{ctx.base}/v1/models/{UNKNOWN_MODEL}:predict", body), 404,
                             "predict on an unknown model")

    async def unknown_model_status() -> str:
        return expect_status(await http("GET", f"{ctx.base}/v1/models/{UNKNOWN_MODEL}"), 404,
                             "status of an unknown model")

    async def bad_shape() -> str:
        for spec in ctx.need_metadata().inputs:
            shape = wrong_shape(spec)
            if shape is not None:
                body = json.dumps(_good_body(ctx, {spec.name: shape})).encode()
                what = f"input {spec.name} of {list(shape)}"
                return expect_status(await http("POST", predict, body), 400, what)
        raise NotApplicable("every dimension is free: no shape is wrong")

    async def bad_datatype() -> str:
        body = _good_body(ctx)
        name = next(iter(body["inputs"]))
        rows = body["inputs"][name]
        spec = ctx.need_metadata().inputs[0]
        if spec.dtype.kind in "OSU":
            raise NotApplicable("the input is a string tensor: every JSON value can be one")
        body["inputs"][name] = _strings(rows)
        return expect_status(await http("POST", predict, json.dumps(body).encode()), 400,
                             f"input {name} sent as strings")

    malformed, malformed_400 = malformed_checks(predict, b'{"inputs": {')

    return [
        Check("unknown model → 404", unknown_model),
        Check("status of unknown model → 404", unknown_model_status, required=False),
        Check("wrong shape → 400", bad_shape, required=False),
        Check("wrong datatype → 400", bad_datatype, required=False),
        Check("malformed body → 4xx", malformed),
        Check("malformed body → 400 exactly", malformed_400, required=False),
    ]


def _strings(value: Any) -> Any:
    return [_strings(v) for v in value] if isinstance(value, list) else "not-a-number"
