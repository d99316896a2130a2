"""Executor throughput: the original's way (one record per call, one call at a time) against ours
(records micro-batched into calls, several calls in flight), same server, same model, REST and gRPC.

    .venv/bin/python benchmarks/executors.py                              # seed-fraud model, 5 s per case
    .venv/bin/python benchmarks/executors.py --transports grpc --batch 256 --parallelism 8
    .venv/bin/python benchmarks/executors.py --transports embedded --streamlet
    .venv/bin/python benchmarks/executors.py --model tests/assets/models/seed-fraud --duration 10 \\
        --batch 128 --parallelism 4

Starts ``inferstream serve`` (the built-in TF Serving-compatible server) on free loopback ports,
then drives the TF Serving protocol through ``inferstream.executors`` exactly as the model-serving
streamlet does (``MicroBatcher`` over a ``BalancedExecutor``). Rows are the card transactions of
data/creditcard-sample.csv. Prints a table and one JSON line with the figures and the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from inferstream.bench.machine import describe_machine
from inferstream.bench.ports import free_port
from inferstream.bench.procs import ManagedProcess
from inferstream.executors.config import ExecutorConfig
from inferstream.executors.factory import open_executor
from inferstream.executors.micro_batching import MicroBatcher

REPO = Path(__file__).resolve().parent.parent


def load_rows(path: Path) -> np.ndarray:
    with path.open() as handle:
        reader = csv.DictReader(handle)
        columns = [f"V{i}" for i in range(1, 29)] + ["Amount"]
        return np.asarray([[float(row[c]) for c in columns] for row in reader], dtype=np.float32)


def start_server(model: Path, workdir: Path) -> tuple[ManagedProcess, int, int]:
    http, grpc = free_port(), free_port()
    ready = workdir / "ready.json"
    argv = [sys.executable, "-m", "inferstream.cli.main", "serve", "--model", f"fraud={model}",
            "--port", str(http), "--grpc-port", str(grpc), "--ready-file", str(ready)]
    process = ManagedProcess("inferstream-serve", argv, workdir / "serve.log").start()
    deadline = time.monotonic() + 120
    while not ready.exists():
        if not process.alive() or time.monotonic() > deadline:
            process.stop()
            raise process.fail("did not become ready")
        time.sleep(0.1)
    return process, http, grpc


async def original_way(config: ExecutorConfig, rows: np.ndarray, duration: float) -> tuple[int, float]:
    """One record per call, one call at a time: the original streamlet's loop."""
    executor = await open_executor(config)
    try:
        await executor.predict({"transaction": rows[:1]})  # connect first
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < duration:
            await executor.predict({"transaction": rows[done % len(rows)][None, :]})
            done += 1
        return done, time.perf_counter() - started
    finally:
        await executor.close()


async def our_way(
    config: ExecutorConfig, rows: np.ndarray, duration: float, batch: int, parallelism: int
) -> tuple[int, float, int]:
    """Records arrive as the runtime hands them (1,024 per batch); the batcher stacks and overlaps calls."""
    executor = await open_executor(config)
    calls = 0

    def count(records: int, seconds: float, error: Any) -> None:
        nonlocal calls
        calls += 1

    batcher = MicroBatcher(executor, max_batch_size=batch, max_batch_latency=0.002,
                           parallelism=parallelism, observer=count)
    chunk = 1024  # records per runtime batch, handed over stacked as the streamlet does
    stacks = [rows[(k * chunk) % len(rows):][:chunk] for k in range(max(1, len(rows) // chunk))]
    splits = [np.arange(len(s) + 1, dtype=np.int64) for s in stacks]
    try:
        await batcher.score_stacked({"transaction": rows[:batch]}, np.arange(batch + 1))  # connect first
        calls = 0
        done, started, k = 0, time.perf_counter(), 0
        while time.perf_counter() - started < duration:
            # several runtime batches in flight at once, as the runner hands them to process()
            picks = [(k + j) % len(stacks) for j in range(4)]
            k += 4
            answers = await asyncio.gather(
                *(batcher.score_stacked({"transaction": stacks[i]}, splits[i]) for i in picks)
            )
            failed = [s.call.error for segments in answers for s in segments if s.outputs is None]
            if failed:
                raise RuntimeError(f"{len(failed)} calls failed, e.g. {failed[0]}")
            done += sum(len(stacks[i]) for i in picks)
        return done, time.perf_counter() - started, calls
    finally:
        await batcher.close()
        await executor.close()


async def streamlet_throughput(model: Path, rows: np.ndarray, duration: float, batch: int) -> float:
    """records/s of the model-serving streamlet itself: Avro decode, embedded scoring, Avro encode."""
    from inferstream.runtime import InBatch, StreamletContext
    from inferstream.runtime.config import resolve_parameters
    from inferstream.serving import ModelServing
    from inferstream.tensors.avro import StackedTensor, encode_source_requests

    class Discard:
        records = 0

        async def emit(self, outlet: Any, batch: Any) -> None:
            self.records += len(outlet.codec.encode(batch))  # the outlet codec encodes, as in the runtime

    streamlet = ModelServing()
    settings = {"protocol": "embedded", "model-path": str(model), "max-batch-size": batch}
    values, problems = resolve_parameters(ModelServing.declared_parameters(), settings)
    if problems:
        raise SystemExit(f"bad settings: {problems}")
    await streamlet.on_start(StreamletContext("bench", "model-serving", 0, 1, values))
    payloads = encode_source_requests({"transaction": StackedTensor.uniform(rows[:1024], 1)})
    out = Discard()
    try:
        started = time.perf_counter()
        partition = 0
        while time.perf_counter() - started < duration:
            batches = []
            for _ in range(4):  # as the runner: several consumed batches in process() at once
                records, _ = streamlet.inlet.codec.decode(payloads)
                offsets = range(len(payloads))
                batches.append(InBatch(streamlet.inlet, records, "bench", partition % 4, offsets))
                partition += 1
            await asyncio.gather(*(streamlet.process(b, out) for b in batches))
        return out.records / (time.perf_counter() - started)
    finally:
        await streamlet.on_stop()


def _version_folder(model: Path) -> Path:
    """A TF Serving model base (``<model>/<n>/``) → its newest version folder; else ``model`` itself."""
    if not model.is_dir():
        return model
    versions = sorted((p for p in model.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    return versions[-1] if versions else model


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--model", type=Path, default=REPO / "tests/assets/models/seed-fraud")
    parser.add_argument("--data", type=Path, default=REPO / "data/creditcard-sample.csv")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per case")
    parser.add_argument("--batch", type=int, default=128, help="max-batch-size of our way")
    parser.add_argument("--parallelism", type=int, default=4, help="calls in flight in our way")
    parser.add_argument("--transports", default="rest,grpc,embedded", help="rest, grpc and/or embedded")
    parser.add_argument("--streamlet", action="store_true",
                        help="also measure the model-serving streamlet itself (embedded model, no transport)")
    args = parser.parse_args()

    rows = load_rows(args.data)
    machine = describe_machine()
    figures: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        server, http, grpc = start_server(args.model, Path(tmp))
        try:
            for transport in args.transports.split(","):
                if transport == "embedded":  # the model in this process: no server, no codec
                    config = ExecutorConfig(protocol="embedded", model_path=_version_folder(args.model))
                else:
                    target = f"127.0.0.1:{http if transport == 'rest' else grpc}"
                    config = ExecutorConfig(protocol="tfserving", transport=transport,  # type: ignore[arg-type]
                                            target=target, model="fraud", timeout=30.0)
                n, seconds = asyncio.run(original_way(config, rows, args.duration))
                original = n / seconds
                ours_run = our_way(config, rows, args.duration, args.batch, args.parallelism)
                m, seconds2, calls = asyncio.run(ours_run)
                ours = m / seconds2
                figures.append({
                    "transport": transport, "original_records_per_s": round(original),
                    "ours_records_per_s": round(ours), "speedup": round(ours / original, 1),
                    "ours_mean_records_per_call": round(m / max(calls, 1), 1),
                })
        finally:
            server.stop()
    load = machine["load_average_at_start"]
    print(f"machine: {machine['cpu_model']}, {machine['cores']} cores, load average at start {load}")
    print(f"model: {args.model}   ours: max-batch-size {args.batch}, parallelism {args.parallelism}")
    print(f"{'transport':<10}{'original rec/s':>16}{'ours rec/s':>14}{'speedup':>10}{'rec/call':>10}")
    for f in figures:
        print(f"{f['transport']:<10}{f['original_records_per_s']:>16}{f['ours_records_per_s']:>14}"
              f"{f['speedup']:>9}x{f['ours_mean_records_per_call']:>10}")
    if args.streamlet:
        rate = asyncio.run(streamlet_throughput(_version_folder(args.model), rows, args.duration, args.batch))
        print(f"model-serving streamlet (Avro in, embedded model, Avro out): {rate:,.0f} records/s")
        figures.append({"streamlet_records_per_s": round(rate)})
    settings = {k: str(v) for k, v in vars(args).items()}
    print(json.dumps({"machine": machine, "args": settings, "figures": figures}))


if __name__ == "__main__":
    main()
