"""Codecs on harness-shaped records: every record's ``datatype`` is a distinct sequence tag.

Reproduces what the end-to-end harness feeds the model-serving and fraud-decider stages (see
src/inferstream/bench/records.py) at Kafka-consumer batch sizes, and prints records/s of
decode_source_requests, encode_serving_results and decode_serving_results.

    .venv/bin/python bench/tagged_codecs.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import time

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


def rate(fn: object, n: int, seconds: float) -> float:
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()  # type: ignore[operator]
        done += n
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    print(describe_machine())
    rng = np.random.default_rng(0)
    factory = RequestFactory(rng.normal(size=(64, 29)).astype(np.float32))
    seq = 0
    print(f"{'batch':>6} {'decode requests/s':>18} {'encode results/s':>17} {'decode results/s':>17}")
    for batch in (1, 10, 100, 500, 2000):
        def fresh_requests() -> list[bytes]:
            nonlocal seq
            seq += batch
            return [factory(s) for s in range(seq - batch, seq)]

        requests = [fresh_requests() for _ in range(8)]
        decoded = decode_source_requests(requests[0])
        group = decoded.groups[0]
        inputs = group.inputs
        outputs = {"predictions": StackedTensor.uniform(rng.random((batch, 1)).astype(np.float32))}
        meta = ModelResultMetadata("", "fraud", "grpc", 1_700_000_000_000, 3)
        kinds = group.datatypes
        results = [  # distinct tags per batch, as a fraud-decider sees them
            encode_serving_results(inputs, outputs, meta, decode_source_requests(r).groups[0].datatypes)
            for r in requests
        ]
        k = iter(range(1 << 62))
        r_dec = rate(lambda: decode_source_requests(requests[next(k) % 8]), batch, args.seconds)
        r_enc = rate(lambda: encode_serving_results(inputs, outputs, meta, kinds), batch, args.seconds)
        r_res = rate(lambda: decode_serving_results(results[next(k) % 8]), batch, args.seconds)
        print(f"{batch:>6} {r_dec:>18,.0f} {r_enc:>17,.0f} {r_res:>17,.0f}")


if __name__ == "__main__":
    main()
