"""Throughput of the fraud app's own parts and of whole fraud pipelines on this machine.

    .venv/bin/python benchmarks/fraud_app.py [--records 20000] [--skip-grpc]

Measures: the card ingress's SourceRequest encoding, the fraud decider (decode + route) on
batches of ServingResults, and fraud-embedded / fraud-grpc end to end on the memory transport
(ingress as fast as the pipeline takes records). Prints figures and the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import numpy as np

from inferstream.apps.fraud.data import load_transactions
from inferstream.apps.fraud.decider import route
from inferstream.apps.fraud.ingress import EXPECTED
from inferstream.apps.fraud.pipeline import FraudPipeline
from inferstream.apps.fraud.training import TrainingSettings, train_fraud
from inferstream.bench.machine import describe_machine
from inferstream.cli.serve_process import serve_in_subprocess
from inferstream.serving.port_codecs import ServingResultsCodec
from inferstream.tensors.avro import (
    ModelResultMetadata,
    StackedTensor,
    encode_serving_results,
    encode_source_requests,
)

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data/creditcard-sample.csv"


def best_of(runs: int, work: callable) -> float:  # type: ignore[valid-type]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_parts(batch: int = 1024) -> None:
    data = load_transactions(SAMPLE)
    rows = np.resize(data.features, (batch, 29))
    seconds = best_of(
        5, lambda: encode_source_requests({"transaction": StackedTensor.uniform(rows)}, EXPECTED, "fraud")
    )
    print(f"card-ingress encode: {batch / seconds:,.0f} records/s (batches of {batch})")
    payloads = encode_serving_results(
        {"transaction": StackedTensor.uniform(rows)},
        {
            "predictions": StackedTensor.uniform(rows * 0.9),
            "reconstruction_error": StackedTensor.uniform(np.ones((batch, 1), np.float32)),
        },
        ModelResultMetadata(model_name="fraud", duration=1),
        "fraud",
    )
    codec = ServingResultsCodec()
    seconds = best_of(5, lambda: route(codec.decode(payloads)[0], 4.0))
    print(f"fraud-decider decode + MSE route: {batch / seconds:,.0f} records/s (batches of {batch})")
    seconds = best_of(5, lambda: route(codec.decode(payloads)[0], 4.0, "reconstruction_error"))
    print(f"fraud-decider decode + error-output route: {batch / seconds:,.0f} records/s")


def bench_pipeline(name: str, records: int, conf: list[str]) -> None:
    conf = [
        *conf,
        f"card-ingress.data={SAMPLE}",
        "card-ingress.frequency=0 ms",
        "card-ingress.loop=true",
        "fraud-console.lines-per-second=0.1",
        "error-console.lines-per-second=0.1",
    ]
    pipeline = FraudPipeline(name, conf)
    start = time.perf_counter()
    stats = asyncio.run(pipeline.run(records=records))
    seconds = time.perf_counter() - start
    summary = pipeline.summary(stats)
    print(
        f"{name}: {sum(summary.decided.values()):,} records decided in {seconds:.1f} s = "
        f"{sum(summary.decided.values()) / seconds:,.0f} records/s end to end "
        f"(errors {summary.decided['error']}, model-call p50 {summary.latency_p50_ms:.0f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--skip-grpc", action="store_true")
    args = parser.parse_args()
    print("machine:", describe_machine())
    bench_parts()
    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp)
        train_fraud(load_transactions(SAMPLE), models, TrainingSettings(epochs=30))
        common = [f"fraud-decider.threshold-from={models / 'fraud'}"]
        bench_pipeline(
            "fraud-embedded", args.records, [*common, f"model-serving.model-path={models / 'fraud/1'}"]
        )
        if not args.skip_grpc:
            with serve_in_subprocess({"fraud": models / "fraud"}) as server:
                bench_pipeline(
                    "fraud-grpc", args.records, [*common, f"model-serving.target={server.grpc_target}"]
                )


if __name__ == "__main__":
    main()
