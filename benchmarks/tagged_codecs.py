"""Codecs on harness-shaped records: every record's ``datatype`` is a distinct sequence tag.

Reproduces what the end-to-end harness feeds the model-serving and fraud-decider stages (see
src/inferstream/bench/records.py) at Kafka-consumer batch sizes, and prints records/s of
decode_source_requests, encode_serving_results and decode_serving_results.

    .venv/bin/python benchmarks/tagged_codecs.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable

import numpy as np

from inferstream.bench.machine import describe_machine
from inferstream.bench.records import RequestFactory
from inferstream.tensors.avro import (
    ModelResultMetadata,
    StackedTensor,
    decode_serving_results,
    decode_source_requests,
    encode_serving_results,
)


def rate(fn: Callable[[], object], n: int, seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        done += n
    return done / (time.perf_counter() - start)


def measure(
    factory: RequestFactory, first_seq: int, batch: int, seconds: float
) -> tuple[float, float, float]:
    """records/s of the three codecs on 8 rotating batches of fresh tags (no cache sees a tag twice)."""
    rng = np.random.default_rng(batch)
    requests = [
        [factory(s) for s in range(first_seq + b * batch, first_seq + (b + 1) * batch)] for b in range(8)
    ]
    group = decode_source_requests(requests[0]).groups[0]
    inputs, kinds = group.inputs, group.datatypes
    outputs = {"predictions": StackedTensor.uniform(rng.random((batch, 1)).astype(np.float32))}
    meta = ModelResultMetadata("", "fraud", "grpc", 1_700_000_000_000, 3)
    results = [  # distinct tags per batch, as a fraud-decider sees them
        encode_serving_results(inputs, outputs, meta, decode_source_requests(r).groups[0].datatypes)
        for r in requests
    ]
    turn = itertools.count()
    return (
        rate(lambda: decode_source_requests(requests[next(turn) % 8]), batch, seconds),
        rate(lambda: encode_serving_results(inputs, outputs, meta, kinds), batch, seconds),
        rate(lambda: decode_serving_results(results[next(turn) % 8]), batch, seconds),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    print(describe_machine())
    factory = RequestFactory(np.random.default_rng(0).normal(size=(64, 29)).astype(np.float32))
    print(f"{'batch':>6} {'decode requests/s':>18} {'encode results/s':>17} {'decode results/s':>17}")
    seq = 0
    for batch in (1, 10, 100, 500, 2000):
        r_dec, r_enc, r_res = measure(factory, seq, batch, args.seconds)
        seq += 8 * batch
        print(f"{batch:>6} {r_dec:>18,.0f} {r_enc:>17,.0f} {r_res:>17,.0f}")


if __name__ == "__main__":
    main()
