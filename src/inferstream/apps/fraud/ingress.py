"""``card-ingress``: replays card transactions (a CSV, its zip, or SYNTHETIC rows) as SourceRequests.

Paced like the original (``frequency`` between records, e.g. "3 millisecond") or by ``rate``
records/s; once or looping. Each record carries ``transaction`` [1, 29] float and announces the
expected ``predictions`` [1, 29] output; ``datatype`` is "fraud" (or "fraud-synthetic").
"""

from __future__ import annotations

from inferstream.apps.common.pacing import Pacer, rate_from
from inferstream.apps.fraud.data import N_FEATURES, CardDataError, CardTransactions, load_transactions
from inferstream.apps.fraud.synthetic import synthetic_transactions
from inferstream.runtime import (
    BoolParameter,
    ConfigError,
    DurationParameter,
    FloatParameter,
    Ingress,
    IntParameter,
    Outlet,
    Output,
    RawCodec,
    StreamletContext,
    StringParameter,
)
from inferstream.schemas import SOURCE_REQUEST
from inferstream.tensors.avro import StackedTensor, TensorSpec, encode_source_requests
from inferstream.tensors.tensor import DType

DATA = StringParameter(
    "data", "data/creditcard-sample.csv", "creditcard CSV or .zip to replay, or 'synthetic'"
)
SYNTHETIC_ROWS = IntParameter(
    "synthetic-rows", 100_000, "rows to generate when data is 'synthetic'", minimum=1
)
FRAUD_RATIO = FloatParameter("fraud-ratio", 492 / 284_807, "synthetic fraud share", minimum=0, maximum=1)
SEED = IntParameter("seed", 0, "seed of the synthetic rows")
FREQUENCY = DurationParameter("frequency", "3 millisecond", "time between records (the original's setting)")
RATE = FloatParameter("rate", 0.0, "records per second; overrides frequency when > 0", minimum=0)
LOOP = BoolParameter("loop", False, "start again from the first row after the last")
MAX_RECORDS = IntParameter("max-records", 0, "stop after this many records (0: no limit)", minimum=0)
BATCH = IntParameter("batch-size", 256, "most records per emitted batch", minimum=1)

EXPECTED = {"predictions": TensorSpec(DType.DT_FLOAT, (1, N_FEATURES), "predictions")}


def load_source(data: str, rows: int, fraud_ratio: float, seed: int) -> CardTransactions:
    if data == "synthetic":
        return synthetic_transactions(rows, fraud_ratio, seed)
    try:
        return load_transactions(data)
    except CardDataError as exc:
        raise ConfigError(DATA.key, str(exc)) from None


class CardIngress(Ingress):
    """Streams card transactions into the pipeline at the configured pace."""

    out = Outlet[list[bytes]]("out", SOURCE_REQUEST, RawCodec(SOURCE_REQUEST))
    parameters = (DATA, SYNTHETIC_ROWS, FRAUD_RATIO, SEED, FREQUENCY, RATE, LOOP, MAX_RECORDS, BATCH)

    async def on_start(self, ctx: StreamletContext) -> None:
        c = ctx.config
        self.data = load_source(c[DATA], c[SYNTHETIC_ROWS], c[FRAUD_RATIO], c[SEED])
        self.datatype = "fraud-synthetic" if self.data.synthetic else "fraud"
        self.pacer = Pacer(rate_from(c[FREQUENCY], c[RATE]), c[BATCH])
        self.loop = c[LOOP]
        self.max_records = c[MAX_RECORDS]
        ctx.logger.info("replaying %s at %s records/s", self.data.describe(), self.pacer.rate or "max")

    async def run(self, ctx: StreamletContext, out: Output) -> None:
        rows = len(self.data)
        position = 0
        while True:
            wanted = await self.pacer.next_batch(ctx)
            if self.max_records:
                wanted = min(wanted, self.max_records - self.pacer.sent)
            if position == rows and self.loop:
                position = 0
            wanted = min(wanted, rows - position)
            if wanted <= 0:
                return
            features = self.data.features[position : position + wanted]
            payloads = encode_source_requests(
                {"transaction": StackedTensor.uniform(features)}, EXPECTED, self.datatype
            )
            await out.emit(self.out, payloads)
            position += wanted
            self.pacer.sent += wanted
