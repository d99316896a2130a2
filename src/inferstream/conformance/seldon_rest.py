"""Seldon Core v1 protocol over REST: what of the battery applies to it.

The Seldon protocol has no model name in its paths (one model per microservice) and untyped
``ndarray`` payloads, so the unknown-model and wrong-datatype checks are not applicable; a model
with no declared inputs is called with float64 ``[batch, 4]`` rows.
"""

from __future__ import annotations

import json

import numpy as np

from inferstream.conformance.battery import Check, expect
from inferstream.conformance.common import Context, expect_status, http, malformed_checks, not_applicable
from inferstream.executors.base import ModelMetadata, TensorSpec

FREE_FEATURES = 4
NO_NAMES = "the Seldon protocol has no model names (one model per microservice)"
UNTYPED = "the Seldon protocol's ndarray payload is untyped"


def checks_before(ctx: Context) -> list[Check]:
    async def live() -> str:
        return expect_status(await http("GET", f"{ctx.base}/health/ping"), 200, "GET /health/ping")

    async def ready() -> str:
        return expect_status(await http("GET", f"{ctx.base}/health/status"), 200, "GET /health/status")

    return [
        Check("server live", live), Check("server ready", ready),
        Check("server metadata", not_applicable("the Seldon microservice has no server metadata endpoint")),
        Check("model ready", not_applicable("/health/status answers for the one model")),
    ]


def metadata_checks(ctx: Context) -> list[Check]:
    async def run() -> str:
        try:
            ctx.metadata = await ctx.executor.metadata()
        finally:
            if ctx.metadata is None or not ctx.metadata.inputs:
                ctx.metadata = ModelMetadata(
                    name=ctx.model or "model",
                    inputs=ctx.declared_inputs
                    or (TensorSpec("ndarray", np.dtype(np.float64), (None, FREE_FEATURES)),),
                )
        return f"inputs: {', '.join(s.describe() for s in ctx.metadata.inputs)}"

    return [Check("model metadata", run, required=False)]


def checks_after(ctx: Context) -> list[Check]:
    predict = f"{ctx.base}/api/v1.0/predictions"

    malformed, malformed_400 = malformed_checks(predict, b'{"data": {"ndarray": [')

    async def no_data() -> str:
        status, text = await http("POST", predict, json.dumps({"nothing": 1}).encode())
        expect(400 <= status < 500, f"a body without data: HTTP {status}, expected 4xx: {text[:160]}")
        return f"HTTP {status}"

    return [
        Check("unknown model → 404", not_applicable(NO_NAMES)),
        Check("wrong shape → 400", not_applicable(UNTYPED + " and unshaped")),
        Check("wrong datatype → 400", not_applicable(UNTYPED)),
        Check("body without data → 4xx", no_data, required=False),
        Check("malformed body → 4xx", malformed),
        Check("malformed body → 400 exactly", malformed_400, required=False),
    ]


