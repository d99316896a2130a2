"""Model-server throughput: `inferstream serve` next to MLServer, same model, same machine, same run.

One scikit-learn MLPRegressor autoencoder (29 → 16 → 8 → 16 → 29, joblib) is served by each
server in turn; a load generator in this process keeps ``--concurrency`` requests in flight for
``--duration`` seconds per case and counts answers. Cases: protocol (V2 REST / V2 gRPC, which both
servers speak; TF Serving REST / gRPC, inferstream only) × records per request (1, 64).
Requests are pre-encoded once, so the client spends as little CPU as it can (it shares the cores).

    .venv/bin/python benchmarks/server.py                        # all servers, all cases, 5 s each
    .venv/bin/python benchmarks/server.py --duration 10 --servers inferstream,mlserver --records 64

MLServer comes from ``.venv-mlserver`` (``make model-servers`` / scripts/model_servers/install.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import grpc
import numpy as np

from inferstream.bench.machine import describe_machine
from inferstream.bench.ports import free_port
from inferstream.cli.serve_process import serve_in_subprocess
from inferstream.protos import predict_pb2
from inferstream.tensors.tensor import Tensor
from inferstream.tensors.tensorproto import tensor_to_proto
from inferstream.tensors.tfjson import JsonFormat, predict_request
from inferstream.tensors.v2 import infer_request_json, infer_request_proto

REPO = Path(__file__).resolve().parent.parent
MLSERVER_VENV = REPO / ".venv-mlserver"
N_FEATURES = 29

_MAKE_MODEL = """
import sys, joblib, numpy as np
from sklearn.neural_network import MLPRegressor
x = np.random.default_rng(0).normal(size=(2000, 29))
model = MLPRegressor(hidden_layer_sizes=(16, 8, 16), max_iter=30, random_state=0).fit(x, x)
joblib.dump(model, sys.argv[1])
"""


@dataclass(frozen=True)
class ServerConfig:
    name: str
    kind: str  # "inferstream" | "mlserver"
    args: tuple[str, ...] = ()  # extra CLI flags (inferstream) or model-settings (mlserver, JSON)
    protocols: tuple[str, ...] = ("v2-rest", "v2-grpc")


SERVERS = {
    "inferstream": ServerConfig(
        "inferstream (adaptive batching)", "inferstream", (), ("v2-rest", "v2-grpc", "tf-rest", "tf-grpc")
    ),
    "inferstream-nobatch": ServerConfig("inferstream --no-batching", "inferstream", ("--no-batching",)),
    "mlserver": ServerConfig("MLServer 1.7.1", "mlserver"),
    "mlserver-batching": ServerConfig(
        "MLServer 1.7.1 (adaptive batching 64 / 2 ms)",
        "mlserver",
        ('{"max_batch_size": 64, "max_batch_time": 0.002}',),
    ),
}


@dataclass
class Running:
    rest: int
    grpc: int
    input_name: str
    process: subprocess.Popen[bytes]


@contextmanager
def start_inferstream(config: ServerConfig, model_file: Path, work: Path) -> Iterator[Running]:
    folder = work / f"inferstream-{len(list(work.iterdir()))}" / "fraud" / "1"
    folder.mkdir(parents=True)
    shutil.copy(model_file, folder / "model.joblib")
    with serve_in_subprocess({"fraud": folder.parent}, config.args, workdir=work) as served:
        yield Running(served.rest_port, served.grpc_port or 0, "input", served.process)


@contextmanager
def start_mlserver(config: ServerConfig, model_file: Path, work: Path) -> Iterator[Running]:
    if not (MLSERVER_VENV / "bin" / "mlserver").exists():
        raise RuntimeError("MLServer is not installed: run scripts/model_servers/install.sh mlserver")
    rest, grpc_port = free_port(), free_port()
    folder = work / f"mlserver-{rest}"
    (folder / "fraud").mkdir(parents=True)
    shutil.copy(model_file, folder / "fraud" / "model.joblib")
    # parallel_workers 0: MLServer 1.7.1's worker processes die at start here (uvloop has no current
    # event loop in the child), so it serves from its main process, as the executor tests run it.
    settings = {
        "http_port": rest,
        "grpc_port": grpc_port,
        "metrics_port": free_port(),
        "host": "127.0.0.1",
        "parallel_workers": 0,
    }
    (folder / "settings.json").write_text(json.dumps(settings))
    model_settings = {
        "name": "fraud",
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": "1"},
        **(json.loads(config.args[0]) if config.args else {}),
    }
    (folder / "fraud" / "model-settings.json").write_text(json.dumps(model_settings))
    env = {**os.environ, "no_proxy": "*", "NO_PROXY": "*"}
    log = (folder / "mlserver.log").open("wb")
    command = [str(MLSERVER_VENV / "bin" / "mlserver"), "start", str(folder)]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                url = f"http://127.0.0.1:{rest}/v2/models/fraud/ready"
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"MLServer did not start:\n{(folder / 'mlserver.log').read_text()[-3000:]}"
                )
            time.sleep(0.3)
        yield Running(rest, grpc_port, "predict", process)
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # MLServer runs helper processes of its own
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def start_server(config: ServerConfig, model_file: Path, work: Path) -> AbstractContextManager[Running]:
    start = start_inferstream if config.kind == "inferstream" else start_mlserver
    return start(config, model_file, work)


def _payload(protocol: str, input_name: str, x: np.ndarray) -> bytes:
    if protocol == "v2-rest":
        return json.dumps(infer_request_json({input_name: x})).encode()
    if protocol == "v2-grpc":
        return bytes(infer_request_proto("fraud", {input_name: x}).SerializeToString())
    if protocol == "tf-rest":
        return json.dumps(predict_request({input_name: x}, format=JsonFormat.COLUMNAR)).encode()
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "fraud"
    tensor_to_proto(Tensor.from_numpy(x), into=request.inputs[input_name])
    return bytes(request.SerializeToString())


async def _load(call: Callable[[], Awaitable[None]], concurrency: int, duration: float) -> list[float]:
    """Keep ``concurrency`` calls in flight for ``duration`` s (after 1 s warm-up); return latencies."""
    latencies: list[float] = []
    warm_until = time.perf_counter() + 1.0
    stop_at = warm_until + duration

    async def worker() -> None:
        while (now := time.perf_counter()) < stop_at:
            await call()
            if now >= warm_until:
                latencies.append(time.perf_counter() - now)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def measure(
    protocol: str, server: Running, records: int, concurrency: int, duration: float
) -> list[float]:
    x = np.random.default_rng(records).normal(size=(records, N_FEATURES)).astype(np.float32)
    if server.input_name == "input":
        x = x.astype(np.float64)  # the scikit-learn model's own dtype: no server-side cast
    body = _payload(protocol, server.input_name, x)
    if protocol.endswith("rest"):
        path = "/v2/models/fraud/infer" if protocol == "v2-rest" else "/v1/models/fraud:predict"
        url = f"http://127.0.0.1:{server.rest}{path}"
        headers = {"Content-Type": "application/json"}
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def call() -> None:
                async with session.post(url, data=body, headers=headers) as response:
                    answer = await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{url}: {response.status} {answer[:300]!r}")

            return await _load(call, concurrency, duration)
    method = (
        "/inference.GRPCInferenceService/ModelInfer"
        if protocol == "v2-grpc"
        else "/tensorflow.serving.PredictionService/Predict"
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc}") as channel:
        rpc = channel.unary_unary(method)  # bytes in, bytes out: no client-side protobuf work per call

        async def call_grpc() -> None:
            await rpc(body, timeout=60)

        return await _load(call_grpc, concurrency, duration)


def _row(
    config: ServerConfig, protocol: str, records: int, rounds: list[list[float]], duration: float
) -> dict:
    """Median round by throughput, with that round's latency quantiles."""
    rates = sorted((len(lat) / duration, i) for i, lat in enumerate(rounds))
    rps, median = rates[len(rates) // 2]
    latencies = rounds[median]
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "server": config.name,
        "protocol": protocol,
        "records_per_request": records,
        "requests_per_s": rps,
        "records_per_s": rps * records,
        "p50_ms": quantiles[49] * 1000,
        "p99_ms": quantiles[98] * 1000,
        "rounds_requests_per_s": [round(len(lat) / duration, 1) for lat in rounds],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--servers", default="inferstream,inferstream-nobatch,mlserver,mlserver-batching")
    parser.add_argument("--protocols", default="v2-rest,v2-grpc,tf-rest,tf-grpc")
    parser.add_argument("--records", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per case and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over all cases; the median is shown")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    machine = describe_machine()
    load = machine["load_average_at_start"]
    print(f"machine: {machine['cpu_model']}, {machine['cores']} cores, load average {load}")
    print(
        f"{args.concurrency} concurrent clients; every server is up for the whole run and the cases take "
        f"turns ({args.rounds} rounds of {args.duration:.0f} s after 1 s warm-up); median round shown\n"
    )
    header = f"{'server':46} {'protocol':9} {'rec/req':>7} {'req/s':>9} {'records/s':>11} "
    header += f"{'p50 ms':>8} {'p99 ms':>8}"
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        model_file = work / "model.joblib"
        python = MLSERVER_VENV / "bin" / "python"
        subprocess.run(
            [str(python if python.exists() else sys.executable), "-c", _MAKE_MODEL, str(model_file)],
            check=True,
        )
        servers = [(SERVERS[k], stack.enter_context(start_server(SERVERS[k], model_file, work)))
                   for k in args.servers.split(",")]  # fmt: skip
        cases = [
            (config, server, protocol, records)
            for config, server in servers
            for protocol in args.protocols.split(",")
            if protocol in config.protocols
            for records in args.records
        ]
        rounds: dict[int, list[list[float]]] = {i: [] for i in range(len(cases))}
        for r in range(args.rounds):
            for i, (_, server, protocol, records) in enumerate(cases):
                print(f"\rround {r + 1}/{args.rounds}, case {i + 1}/{len(cases)}", end="", file=sys.stderr)
                rounds[i].append(
                    asyncio.run(measure(protocol, server, records, args.concurrency, args.duration))
                )
        print("", file=sys.stderr)
        print(header)
        print("-" * len(header))
        for i, (config, _, protocol, records) in enumerate(cases):
            row = _row(config, protocol, records, rounds[i], args.duration)
            results.append(row)
            print(
                f"{config.name:46} {protocol:9} {records:>7} {row['requests_per_s']:>9,.0f} "
                f"{row['records_per_s']:>11,.0f} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f}"
            )
    if args.json:
        report = {"machine": machine, "args": vars(args) | {"json": str(args.json)}, "results": results}
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
