"""Tiny example streamlets: for tests, the pass-through benchmark, the Kafka tests and the docs.

``NumberedIngress`` -> ``Doubler`` / ``PassThrough`` -> ``CollectingEgress`` carry ``Numbered``
records; ``FraudSizedIngress`` -> ``FraudPassThrough`` -> ``CountingEgress`` carry fraud-sized
``SourceRequest`` records (29 floats) for the throughput benchmark.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from aiohttp import web

from inferstream.runtime.codecs import AvroCodec, DecodeFailure, RawCodec
from inferstream.runtime.config import FloatParameter, IntParameter, StringParameter
from inferstream.runtime.streamlet import (
    Egress,
    InBatch,
    Ingress,
    Inlet,
    Outlet,
    Output,
    Processor,
    ServerStreamlet,
    StreamletContext,
)
from inferstream.schemas import SOURCE_REQUEST
from inferstream.tensors.avro import (
    DecodedBatch,
    SourceRequestGroup,
    decode_source_requests,
    encode_source_requests,
)

NUMBERED: dict[str, Any] = {
    "type": "record",
    "name": "Numbered",
    "namespace": "inferstream.examples",
    "fields": [{"name": "n", "type": "long"}, {"name": "key", "type": "string", "default": ""}],
}

BATCH = IntParameter("batch-size", 512, "records per emitted batch", minimum=1)
COUNT = IntParameter("count", 0, "records to emit in total (0: until stopped)", minimum=0)
RATE = FloatParameter("rate", 0.0, "records per second (0: as fast as possible)", minimum=0)
KEYS = IntParameter("keys", 0, "distinct keys, 'k0'..'k<keys-1>' (0: unkeyed)", minimum=0)


def _key(batch: list[dict[str, Any]]) -> list[bytes | None]:
    return [r["key"].encode() if r["key"] else None for r in batch]  # "" : unkeyed, spread evenly


class NumberedIngress(Ingress):
    """Emits ``{"n": i, "key": ...}`` for i = 0, 1, ... (each instance its own stride of numbers)."""

    outlet = Outlet("out", NUMBERED, key=_key)
    parameters = (BATCH, COUNT, RATE, KEYS)

    async def run(self, ctx: StreamletContext, out: Output) -> None:
        batch, count, rate, keys = ctx.config[BATCH], ctx.config[COUNT], ctx.config[RATE], ctx.config[KEYS]
        n = ctx.instance  # instances interleave: 0, k, 2k... / 1, k+1, ...
        emitted = 0
        while ctx.running and (count == 0 or emitted < count):
            size = batch if count == 0 else min(batch, count - emitted)
            numbers = range(n, n + size * ctx.instances, ctx.instances)
            records = [{"n": i, "key": f"k{i % keys}" if keys else ""} for i in numbers]
            await out.emit(self.outlet, records)
            n += size * ctx.instances
            emitted += size
            if rate > 0 and not await ctx.sleep(size / rate):
                break


class Doubler(Processor):
    """Multiplies ``n`` by ``factor``."""

    inlet = Inlet("in", NUMBERED)
    outlet = Outlet("out", NUMBERED, key=_key)
    FACTOR = IntParameter("factor", 2, "what to multiply n by")
    FAIL_ON = IntParameter("fail-on", -1, "raise when n equals this (to test dead letters); -1: never")
    parameters = (FACTOR, FAIL_ON)

    async def on_start(self, ctx: StreamletContext) -> None:
        self.factor = ctx.config[self.FACTOR]
        self.fail_on = ctx.config[self.FAIL_ON]

    async def process(self, batch: InBatch[list[dict[str, Any]]], out: Output) -> None:
        if any(r["n"] == self.fail_on for r in batch.records):
            raise ValueError(f"n={self.fail_on} is unlucky")
        await out.emit(self.outlet, [{"n": r["n"] * self.factor, "key": r["key"]} for r in batch.records])


class PassThrough(Processor):
    """Decodes and re-encodes ``Numbered`` records unchanged."""

    inlet = Inlet("in", NUMBERED)
    outlet = Outlet("out", NUMBERED)

    async def process(self, batch: InBatch[list[dict[str, Any]]], out: Output) -> None:
        await out.emit(self.outlet, batch.records)


OUTPUT_FILE = StringParameter(
    "output-file", "", "append every record as a JSON line here ('' : keep in memory)"
)


class CollectingEgress(Egress):
    """Keeps every record (``self.collected``) and, if ``output-file`` is set, appends it as JSON lines."""

    inlet = Inlet("in", NUMBERED)
    parameters = (OUTPUT_FILE,)

    async def on_start(self, ctx: StreamletContext) -> None:
        self.collected: list[dict[str, Any]] = []
        path = ctx.config[OUTPUT_FILE]
        self._file = Path(path).open("a", encoding="utf-8") if path else None  # noqa: SIM115 - closed in on_stop

    async def process(self, batch: InBatch[list[dict[str, Any]]]) -> None:
        self.collected.extend(batch.records)
        if self._file is not None:
            self._file.write("".join(json.dumps(r) + "\n" for r in batch.records))
            self._file.flush()

    async def on_stop(self) -> None:
        if self._file is not None:
            self._file.close()


def fraud_sized_request(seed: int = 0) -> bytes:
    """One SourceRequest with a [1, 29] float ``transaction`` tensor, as the fraud ingress emits."""
    values = [((seed * 31 + i * 7) % 100) / 10.0 for i in range(29)]
    record = {
        "inputRecords": {
            "inputs": {
                "transaction": {
                    "dtype": "DT_FLOAT",
                    "tensorshape": {"dim": [{"size": 1, "name": ""}, {"size": 29, "name": ""}]},
                    "float_data": [struct.unpack("f", struct.pack("f", v))[0] for v in values],
                }
            }
        },
        "modelResults": {
            "outputs": {
                "predictions": {
                    "dtype": "DT_FLOAT",
                    "tensorshape": {"dim": [{"size": 1, "name": ""}, {"size": 29, "name": ""}]},
                }
            }
        },
        "datatype": "fraud",
    }
    (payload,) = AvroCodec(SOURCE_REQUEST).encode([record])
    return payload


class FraudSizedIngress(Ingress):
    """Emits pre-encoded fraud-sized SourceRequests (64 distinct ones) as fast as the pipeline takes them."""

    outlet = Outlet("out", SOURCE_REQUEST, codec=RawCodec(SOURCE_REQUEST))
    parameters = (IntParameter("batch-size", 1024, "records per emitted batch", minimum=1), COUNT)
    templates: ClassVar[list[bytes]] = []

    async def run(self, ctx: StreamletContext, out: Output) -> None:
        if not self.templates:
            type(self).templates = [fraud_sized_request(i) for i in range(64)]
        size, count = int(ctx.config.get("batch-size")), ctx.config[COUNT]
        batch = (self.templates * (size // len(self.templates) + 1))[:size]
        emitted = 0
        while ctx.running and (count == 0 or emitted < count):
            await out.emit(self.outlet, batch if count == 0 else batch[: count - emitted])
            emitted += len(batch)


class FraudPassThrough(Processor):
    """Forwards SourceRequests without decoding them (``RawCodec``): the transport-bound baseline."""

    inlet = Inlet("in", SOURCE_REQUEST, codec=RawCodec(SOURCE_REQUEST))
    outlet = Outlet("out", SOURCE_REQUEST, codec=RawCodec(SOURCE_REQUEST))
    max_batch_records = 4096

    async def process(self, batch: InBatch[list[bytes]], out: Output) -> None:
        await out.emit(self.outlet, batch.records)


class FraudAvroPassThrough(Processor):
    """Decodes each SourceRequest with generic fastavro and re-encodes it (the slow, honest baseline)."""

    inlet = Inlet("in", SOURCE_REQUEST)
    outlet = Outlet("out", SOURCE_REQUEST)

    async def process(self, batch: InBatch[list[dict[str, Any]]], out: Output) -> None:
        await out.emit(self.outlet, batch.records)


class CountingEgress(Egress):
    """Counts records without decoding them (``self.count``)."""

    inlet = Inlet("in", SOURCE_REQUEST, codec=RawCodec(SOURCE_REQUEST))
    max_batch_records = 4096

    async def on_start(self, ctx: StreamletContext) -> None:
        self.count = 0

    async def process(self, batch: InBatch[list[bytes]]) -> None:
        self.count += len(batch)


class CountingServerEgress(ServerStreamlet, Egress):
    """A server streamlet: counts ``Numbered`` records and serves ``GET /count`` -> ``{"count": n}``."""

    inlet = Inlet("in", NUMBERED)

    async def on_start(self, ctx: StreamletContext) -> None:
        self.count = 0

    def http_routes(self) -> list[web.RouteDef]:
        return [web.get("/count", self._count)]

    async def _count(self, request: web.Request) -> web.Response:
        return web.json_response({"count": self.count})

    async def process(self, batch: InBatch[list[dict[str, Any]]]) -> None:
        self.count += len(batch)


class _StackedSourceRequests:
    """Inlet codec over the tensors' batch decoder (stacked numpy per input, byte-template fast path)."""

    schema = SOURCE_REQUEST

    def decode(
        self, payloads: Sequence[bytes]
    ) -> tuple[DecodedBatch[SourceRequestGroup], list[DecodeFailure]]:
        decoded = decode_source_requests(payloads)
        return decoded, [DecodeFailure(f.index, f"not a SourceRequest: {f.error}") for f in decoded.failures]

    def encode(self, batch: DecodedBatch[SourceRequestGroup]) -> list[bytes]:
        return [
            payload
            for group in batch.groups
            for payload in encode_source_requests(group.inputs, group.expected_outputs, group.datatypes)
        ]


class FraudStackedPassThrough(Processor):
    """Decodes SourceRequests into stacked arrays and re-encodes them (what model-serving pays for Avro)."""

    # Any: a DecodedBatch is not Sized (its size counts failures too), which typed ports require.
    inlet = Inlet[Any]("in", SOURCE_REQUEST, codec=_StackedSourceRequests())
    outlet = Outlet[Any]("out", SOURCE_REQUEST, codec=_StackedSourceRequests())
    max_batch_records = 4096

    async def process(self, batch: InBatch[Any], out: Output) -> None:
        await out.emit(self.outlet, batch.records)
