"""Avro tensor codecs: the batch fast path next to generic fastavro, in one run, on one core.

Decodes N fraud SourceRequests (182 bytes each) into one [N, 29] array and encodes N
ServingResults, plus the two other directions and ragged recommender records ([k, 1] tensors, k
from 1 to 100), and prints records/s, the speed-up and the machine.

    .venv/bin/python benchmarks/tensors.py --records 100000 --repeat 5
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastavro
import numpy as np

from inferstream import schemas
from inferstream.tensors import DType
from inferstream.tensors.avro import (
    ModelResultMetadata,
    StackedTensor,
    TensorSpec,
    decode_serving_results,
    decode_source_requests,
    encode_serving_results,
    encode_source_requests,
)
from inferstream.tensors.avro.generic import (
    decode_source_request,
    serving_result_to_avro,
    source_request_to_avro,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "creditcard-sample.csv"


def transactions(n: int) -> np.ndarray[Any, Any]:
    """V1..V28 and Amount of the sample's card transactions, repeated up to ``n`` rows."""
    with DATA.open() as f:
        rows = [[float(r[f"V{i}"]) for i in range(1, 29)] + [float(r["Amount"])] for r in csv.DictReader(f)]
    sample = np.array(rows, dtype=np.float32)
    return np.resize(sample, (n, 29))


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    cores = os.cpu_count()
    pinned = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    return (
        f"{model}; {cores} cores ({pinned} used by this run); Python {platform.python_version()}, "
        f"numpy {np.__version__}, fastavro {fastavro.__version__}"
    )


def fastavro_each(payloads: list[bytes], schema: Any) -> None:
    for p in payloads:
        fastavro.schemaless_reader(io.BytesIO(p), schema, None)


def fastavro_write_each(records: list[dict[str, Any]], schema: Any) -> None:
    for d in records:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, schema, d)
        out.getvalue()


def best_rate(n: int, repeat: int, fn: Callable[[], object]) -> float:
    """Records per second of the fastest of ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n / best


def recommender_rows(
    n: int, ng: int, repeat: int, request_schema: Any, result_schema: Any
) -> list[tuple[str, float, float, float]]:
    """Ragged records: users and products [k, 1] with k from 1 to 100 (one template per k)."""
    rng = np.random.default_rng(0)
    counts = rng.integers(1, 101, n)
    splits = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    users = np.repeat(rng.integers(0, 1000, n), counts).astype(np.float32)[:, None]
    inputs = {
        "products": StackedTensor(
            DType.DT_FLOAT, rng.integers(0, 5000, (splits[-1], 1)).astype(np.float32), splits
        ),
        "users": StackedTensor(DType.DT_FLOAT, users, splits),
    }
    spec = {"predictions": TensorSpec(DType.DT_FLOAT, (-1, 1))}
    requests = encode_source_requests(inputs, spec)
    meta = ModelResultMetadata("", "recommender", "onnx", 1_700_000_000_000, 3)
    outputs = {"predictions": inputs["products"]}
    results = encode_serving_results(inputs, outputs, meta)
    result_dicts = [
        serving_result_to_avro(decode_serving_results([p], fast=False).groups[0].result(0))
        for p in results[:ng]
    ]
    sub = {name: s.take(np.arange(ng)) for name, s in inputs.items()}
    return [
        (
            "recommender: decode SourceRequest",
            best_rate(ng, repeat, lambda: fastavro_each(requests[:ng], request_schema)),
            best_rate(ng, repeat, lambda: decode_source_requests(requests[:ng], fast=False)),
            best_rate(n, repeat, lambda: decode_source_requests(requests)),
        ),
        (
            "recommender: encode ServingResult",
            best_rate(ng, repeat, lambda: fastavro_write_each(result_dicts, result_schema)),
            best_rate(
                ng,
                repeat,
                lambda: encode_serving_results(sub, {"predictions": sub["products"]}, meta, fast=False),
            ),
            best_rate(n, repeat, lambda: encode_serving_results(inputs, outputs, meta)),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000, help="records per batch (N)")
    parser.add_argument("--generic-records", type=int, default=20_000, help="N for the slow generic runs")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure; the best counts")
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this core")
    args = parser.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    elif hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, whichever is ours
    n, ng = args.records, min(args.generic_records, args.records)

    x = transactions(n)
    inputs = {"transaction": StackedTensor.uniform(x)}
    spec = {"predictions": TensorSpec(DType.DT_FLOAT, (1, 29))}
    requests = encode_source_requests(inputs, spec, "fraud")
    outputs = {"predictions": StackedTensor.uniform(x * 0.5)}
    meta = ModelResultMetadata("", "fraud", "onnx", 1_700_000_000_000, 3)
    results = encode_serving_results(inputs, outputs, meta, "fraud")
    request_schema = schemas.parsed_schema(schemas.SOURCE_REQUEST)
    result_schema = schemas.parsed_schema(schemas.SERVING_RESULT)
    result_dicts = [
        serving_result_to_avro(decode_serving_results([p], fast=False).groups[0].result(0))
        for p in results[:ng]
    ]

    request_dicts = [source_request_to_avro(decode_source_request(p)) for p in requests[:ng]]

    def fast_decode() -> None:
        (group,) = decode_source_requests(requests).groups
        assert group.inputs["transaction"].values.shape == (n, 29)

    print(f"machine: {machine()}")
    print(
        f"records: {n} fast, {ng} generic; payloads: SourceRequest {len(requests[0])} B, "
        f"ServingResult {len(results[0])} B; best of {args.repeat}"
    )
    rows = [
        (
            "decode SourceRequest -> [N,29]",
            best_rate(ng, args.repeat, lambda: fastavro_each(requests[:ng], request_schema)),
            best_rate(ng, args.repeat, lambda: decode_source_requests(requests[:ng], fast=False)),
            best_rate(n, args.repeat, fast_decode),
        ),
        (
            "encode ServingResult",
            best_rate(ng, args.repeat, lambda: fastavro_write_each(result_dicts, result_schema)),
            best_rate(
                ng,
                args.repeat,
                lambda: encode_serving_results(
                    {"transaction": StackedTensor.uniform(x[:ng])},
                    {"predictions": StackedTensor.uniform(x[:ng])},
                    meta,
                    "fraud",
                    fast=False,
                ),
            ),
            best_rate(n, args.repeat, lambda: encode_serving_results(inputs, outputs, meta, "fraud")),
        ),
        (
            "decode ServingResult -> [N,29]x2",
            best_rate(ng, args.repeat, lambda: fastavro_each(results[:ng], result_schema)),
            best_rate(ng, args.repeat, lambda: decode_serving_results(results[:ng], fast=False)),
            best_rate(n, args.repeat, lambda: decode_serving_results(results)),
        ),
        (
            "encode SourceRequest",
            best_rate(ng, args.repeat, lambda: fastavro_write_each(request_dicts, request_schema)),
            best_rate(
                ng,
                args.repeat,
                lambda: encode_source_requests(
                    {"transaction": StackedTensor.uniform(x[:ng])}, spec, "fraud", fast=False
                ),
            ),
            best_rate(n, args.repeat, lambda: encode_source_requests(inputs, spec, "fraud")),
        ),
        *recommender_rows(min(n, 4096), min(ng, 1024), args.repeat, request_schema, result_schema),
    ]
    header = ("operation", "fastavro rec/s", "generic rec/s", "fast rec/s", "fast/fastavro")
    print(f"{header[0]:34} {header[1]:>15} {header[2]:>14} {header[3]:>12} {header[4]:>14}")
    for name, raw, generic, fast in rows:
        print(f"{name:34} {raw:15,.0f} {generic:14,.0f} {fast:12,.0f} {fast / raw:13.1f}x")
    print("fastavro = fastavro.schemaless_reader/_writer on dicts, one record at a time;")
    print("generic = inferstream's generic path (fastavro + numpy conversion + stacking), fast=False;")
    print("fast = the byte-template path (default).")


if __name__ == "__main__":
    main()
