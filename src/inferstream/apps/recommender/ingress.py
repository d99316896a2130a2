"""``recommender-ingress``: requests like the original's: a random user and up to 30 random products,
as ``users`` and ``products`` float tensors [n, 1] (the user id repeated n times)."""

from __future__ import annotations

import numpy as np

from inferstream.apps.common.pacing import Pacer, rate_from
from inferstream.runtime import (
    DurationParameter,
    FloatParameter,
    Ingress,
    IntParameter,
    Outlet,
    Output,
    RawCodec,
    StreamletContext,
)
from inferstream.schemas import SOURCE_REQUEST
from inferstream.tensors.avro import SourceRequest, TensorSpec, encode_source_request
from inferstream.tensors.tensor import DType, Tensor

USERS = IntParameter("users", 1000, "user ids are drawn from 0..users-1", minimum=1)
PRODUCTS = IntParameter("products", 1000, "product ids are drawn from 0..products-1", minimum=1)
MAX_PRODUCTS = IntParameter("max-products", 30, "most products per request", minimum=1)
SEED = IntParameter("seed", 0, "random seed")
FREQUENCY = DurationParameter("frequency", "10 millisecond", "time between requests")
RATE = FloatParameter("rate", 0.0, "requests per second; overrides frequency when > 0", minimum=0)
MAX_RECORDS = IntParameter("max-records", 0, "stop after this many requests (0: no limit)", minimum=0)
BATCH = IntParameter("batch-size", 64, "most requests per emitted batch", minimum=1)


def random_request(rng: np.random.Generator, users: int, products: int, max_products: int) -> SourceRequest:
    n = int(rng.integers(1, max_products + 1))
    user = np.full((n, 1), rng.integers(0, users), dtype=np.float32)
    chosen = rng.integers(0, products, size=(n, 1)).astype(np.float32)
    return SourceRequest(
        {"users": Tensor.from_numpy(user, "users"), "products": Tensor.from_numpy(chosen, "products")},
        {"predictions": TensorSpec(DType.DT_FLOAT, (n, 1), "predictions")},
        "recommender",
    )


class RecommenderIngress(Ingress):
    """Generates recommendation requests at the configured pace."""

    out = Outlet[list[bytes]]("out", SOURCE_REQUEST, RawCodec(SOURCE_REQUEST))
    parameters = (USERS, PRODUCTS, MAX_PRODUCTS, SEED, FREQUENCY, RATE, MAX_RECORDS, BATCH)

    async def on_start(self, ctx: StreamletContext) -> None:
        c = ctx.config
        self.rng = np.random.default_rng(c[SEED] + ctx.instance)
        self.shape = (c[USERS], c[PRODUCTS], c[MAX_PRODUCTS])
        self.pacer = Pacer(rate_from(c[FREQUENCY], c[RATE]), c[BATCH])
        self.max_records = c[MAX_RECORDS]

    async def run(self, ctx: StreamletContext, out: Output) -> None:
        while True:
            wanted = await self.pacer.next_batch(ctx)
            if self.max_records:
                wanted = min(wanted, self.max_records - self.pacer.sent)
            if wanted <= 0:
                return
            requests = [random_request(self.rng, *self.shape) for _ in range(wanted)]
            await out.emit(self.out, [encode_source_request(r) for r in requests])
            self.pacer.sent += wanted
