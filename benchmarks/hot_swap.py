"""Hot swaps under load: `inferstream serve` (its own process) rolls out versions while a client hammers it.

    .venv/bin/python benchmarks/hot_swap.py [--seconds 20] [--swap-every 2] [--workers 32] [--rows 8]

The server watches a local model base (`--version-policy latest --poll-seconds 0.1`); every
`--swap-every` seconds a new version folder is renamed into place (version v answers
sum(row) + 1000 v). The client (this process, grpc.aio) sends TF Serving gRPC Predicts from
`--workers` concurrent loops and checks each answer: every row's offset must equal the version
the response names. Prints requests/s, failures, mixed answers and the answers per version.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import grpc
import numpy as np
from skl2onnx import to_onnx
from sklearn.linear_model import LinearRegression

from inferstream.cli.serve_process import serve_in_subprocess
from inferstream.protos import predict_pb2, prediction_service_pb2_grpc
from inferstream.tensors.tensor import Tensor
from inferstream.tensors.tensorproto import tensor_from_proto, tensor_to_proto

OFFSET = 1000.0


def write_version(base: Path, version: int) -> None:
    model = LinearRegression()
    model.coef_, model.intercept_, model.n_features_in_ = np.ones(4), version * OFFSET, 4
    tmp = base / f".{version}.tmp"
    tmp.mkdir(parents=True)
    onx = to_onnx(model, np.zeros((1, 4), np.float32), target_opset=15)
    (tmp / "model.onnx").write_bytes(onx.SerializeToString())
    tmp.rename(base / str(version))


Outcome = tuple[int, int, int, "Counter[int]"]


async def hammer(target: str, stop: threading.Event, workers: int, rows: int) -> Outcome:
    ok = failed = mixed = 0
    per_version: Counter[int] = Counter()
    async with grpc.aio.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

        async def worker(seed: int) -> None:
            nonlocal ok, failed, mixed
            x = np.arange(rows * 4, dtype=np.float32).reshape(rows, 4) + seed
            request = predict_pb2.PredictRequest()
            request.model_spec.name = "m"
            tensor_to_proto(Tensor.from_numpy(x), into=request.inputs["X"])
            while not stop.is_set():
                try:
                    response = await stub.Predict(request, timeout=30)
                except grpc.aio.AioRpcError:
                    failed += 1
                    continue
                values = tensor_from_proto(response.outputs["variable"]).data.reshape(-1)
                offsets = set(np.round((values - x.sum(axis=1)) / OFFSET).astype(int).tolist())
                named = int(response.model_spec.version.value)
                if offsets != {named}:
                    mixed += 1
                per_version[named] += 1
                ok += 1

        await asyncio.gather(*(worker(i) for i in range(workers)))
    return ok, failed, mixed, per_version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--swap-every", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--rows", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hot-swap-") as tmp:
        base = Path(tmp) / "m"
        write_version(base, 1)
        extra = ["--version-policy", "latest", "--poll-seconds", "0.1"]
        with serve_in_subprocess({"m": base}, extra) as served:
            stop = threading.Event()
            result: list[Outcome] = []
            target = served.grpc_target
            client = threading.Thread(
                target=lambda: result.append(asyncio.run(hammer(target, stop, args.workers, args.rows)))
            )
            started = time.monotonic()
            client.start()
            version = 1
            while time.monotonic() - started < args.seconds:
                time.sleep(args.swap_every)
                version += 1
                write_version(base, version)
            stop.set()
            client.join()
            elapsed = time.monotonic() - started
    ok, failed, mixed, per_version = result[0]
    rate = f"{ok / elapsed:,.0f} requests/s ({ok * args.rows / elapsed:,.0f} rows/s)"
    print(f"{ok} answers in {elapsed:.1f} s: {rate}")
    print(f"failed {failed}, mixed versions {mixed}, swaps {version - 1} (versions 1..{version})")
    print("answers per version:", dict(sorted(per_version.items())))


if __name__ == "__main__":
    main()
