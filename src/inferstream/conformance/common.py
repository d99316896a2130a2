"""What every battery shares: the context (model metadata, the executor), raw HTTP, infer checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np

from inferstream.conformance.battery import Check, expect
from inferstream.conformance.results import CheckFailed, NotApplicable
from inferstream.conformance.samples import batch_sizes, sample_inputs
from inferstream.executors.base import ModelExecutor, ModelMetadata, TensorSpec

#: Seconds per request of a check.
TIMEOUT = 10.0


@dataclass
class Context:
    """One run: where, which model, the executor that speaks the protocol, what the metadata said."""

    base: str  # http://host:port for REST, host:port for gRPC
    model: str
    executor: ModelExecutor
    metadata: ModelMetadata | None = None
    declared_inputs: tuple[TensorSpec, ...] = ()  # --input: for servers whose metadata lists none
    notes: dict[str, Any] = field(default_factory=dict)

    def need_metadata(self) -> ModelMetadata:
        if self.metadata is None or not self.metadata.inputs:
            raise CheckFailed("no inputs known to build a request from: give them with --input")
        return self.metadata


def http_base(target: str) -> str:
    url = target if "://" in target else f"http://{target}"
    return url.rstrip("/")


async def http(method: str, url: str, body: bytes | None = None,
               headers: dict[str, str] | None = None) -> tuple[int, str]:
    """One raw request: the status and the text, whatever they are (the checks judge them)."""
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        send = {"Content-Type": "application/json", **(headers or {})}
        async with session.request(method, url, data=body, headers=send) as resp:
            return resp.status, await resp.text()


def expect_status(got: tuple[int, str], want: int, what: str) -> str:
    status, text = got
    expect(status == want, f"{what}: HTTP {status}, expected {want}: {text[:160]}")
    return f"HTTP {status}"


def malformed_checks(url: str, body: bytes) -> tuple[Any, Any]:
    """A truncated JSON body must be refused with a 4xx (required); 400 exactly is what the specs say
    (reported: FastAPI-based servers answer 422)."""

    async def client_error() -> str:
        status, text = await http("POST", url, body)
        expect(400 <= status < 500, f"a truncated JSON body: HTTP {status}, expected 4xx: {text[:160]}")
        return f"HTTP {status}"

    async def exactly_400() -> str:
        return expect_status(await http("POST", url, body), 400, "a truncated JSON body")

    return client_error, exactly_400


def metadata_checks(ctx: Context) -> list[Check]:
    """The metadata answers (required); it declares inputs and outputs (reported: V2 servers whose
    runtime has no signature answer with empty lists; ``--input`` then says what to send)."""

    async def answers() -> str:
        ctx.metadata = await ctx.executor.metadata()
        return f"name {ctx.metadata.name!r}, versions {list(ctx.metadata.versions)}"

    async def declares() -> str:
        meta = ctx.metadata
        expect(meta is not None, "no metadata")
        assert meta is not None
        if not meta.inputs and ctx.declared_inputs:
            ctx.metadata = ModelMetadata(meta.name, ctx.declared_inputs, meta.outputs, meta.versions)
        expect(bool(meta.inputs), "the metadata lists no inputs" + (
            " (the battery goes on with --input)" if ctx.declared_inputs else "; give them with --input"))
        expect(bool(meta.outputs), "the metadata lists no outputs")
        ins = ", ".join(f"{s.name} {s.describe()}" for s in meta.inputs)
        return f"inputs: {ins}; outputs: {', '.join(s.name for s in meta.outputs)}"

    return [
        Check("model metadata", answers),
        Check("metadata declares inputs/outputs", declares, required=False),
    ]


def infer_checks(ctx: Context) -> list[Check]:
    """One call per batch size (each input in the datatype the metadata declares)."""
    meta = ctx.metadata
    if meta is None or not meta.inputs:
        async def unable() -> str:
            raise CheckFailed("no inputs known to build a request from: give them with --input")
        return [Check("infer", unable)]
    types = "/".join(sorted({str(s.dtype) for s in meta.inputs}))
    return [Check(f"infer {types} batch {n}", _infer(ctx, n)) for n in batch_sizes(meta)]


def _infer(ctx: Context, batch: int) -> Any:
    async def run() -> str:
        meta = ctx.need_metadata()
        inputs = sample_inputs(meta, batch)
        outputs = await ctx.executor.predict(inputs)
        declared = {s.name: s for s in meta.outputs}
        for name, array in outputs.items():
            expect(array.shape[0] == batch, f"output {name} has {array.shape[0]} rows for a batch of {batch}")
            spec = declared.get(name)
            if spec is not None and spec.dtype != np.dtype(object) and array.dtype != np.dtype(object):
                said = f"output {name} is {array.dtype}, metadata says {spec.dtype}"
                expect(array.dtype == spec.dtype, said)
        unknown = set(outputs) - set(declared)
        expect(not unknown or not declared, f"outputs {sorted(unknown)} are not in the metadata")
        shapes = ", ".join(f"{k} {list(v.shape)}" for k, v in outputs.items())
        return f"sent {', '.join(f'{k} {list(v.shape)}' for k, v in inputs.items())}; got {shapes}"

    return run


def not_applicable(reason: str) -> Any:
    async def run() -> str:
        raise NotApplicable(reason)

    return run
