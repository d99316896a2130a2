"""Protocol tensor codecs (TensorProto, V2, TF Serving JSON, Seldon) on fraud batches, one core.

For each batch size N, encodes N fraud transactions ([N, 29] float32) into each protocol's
message, bytes included (protobuf serialization or ``json.dumps``), and decodes them back into
one numpy array (parsing included), then prints records/s each way and the machine. The typed
TensorProto field is also measured through protobuf's own per-element loop, for comparison
with the numpy fast path of ``inferstream.tensors.packed``.

    .venv/bin/python benchmarks/tensor_protocols.py --sizes 1 64 1024 --seconds 0.3 --repeat 5
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import __version__ as protobuf_version

from inferstream.protos import seldon_pb2, tensor_pb2, v2_pb2
from inferstream.tensors import DType, Tensor
from inferstream.tensors.seldon import parse_seldon_json, parse_seldon_proto, seldon_message_json
from inferstream.tensors.seldon import seldon_message_proto as seldon_proto
from inferstream.tensors.tensorproto import decode_tensor_proto, encode_tensor_proto
from inferstream.tensors.tfjson import JsonFormat, parse_predict_request, predict_request
from inferstream.tensors.v2 import (
    infer_request_json,
    infer_request_proto,
    parse_infer_request_json,
    parse_infer_request_proto,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "creditcard-sample.csv"
Codec = tuple[Callable[[Tensor], Any], Callable[[Any], Any]]


def transactions(n: int) -> np.ndarray[Any, Any]:
    with DATA.open() as f:
        rows = [[float(r[f"V{i}"]) for i in range(1, 29)] + [float(r["Amount"])] for r in csv.DictReader(f)]
    return np.resize(np.array(rows, dtype=np.float32), (n, 29))


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{model}; {os.cpu_count()} cores; load average {load:.1f}; Python {platform.python_version()}, "
        f"numpy {np.__version__}, protobuf {protobuf_version}"
    )


def _protobuf_loop_encode(t: Tensor) -> bytes:
    proto = tensor_pb2.TensorProto(dtype=1)
    proto.tensor_shape.dim.add(size=t.shape[0])
    proto.tensor_shape.dim.add(size=t.shape[1])
    proto.float_val.extend(t.data.reshape(-1).tolist())
    return bytes(proto.SerializeToString())


def _protobuf_loop_decode(payload: bytes) -> Any:
    proto = tensor_pb2.TensorProto.FromString(payload)
    shape = [d.size for d in proto.tensor_shape.dim]
    return np.array(proto.float_val, dtype=np.float32).reshape(shape)


CODECS: dict[str, Codec] = {
    "TensorProto tensor_content": (encode_tensor_proto, decode_tensor_proto),
    "TensorProto float_val (numpy fast path)": (
        lambda t: encode_tensor_proto(t, typed_fields=True),
        decode_tensor_proto,
    ),
    "TensorProto float_val (protobuf loop)": (_protobuf_loop_encode, _protobuf_loop_decode),
    "V2 gRPC raw_input_contents": (
        lambda t: infer_request_proto("fraud", {"x": t}).SerializeToString(),
        lambda b: parse_infer_request_proto(v2_pb2.ModelInferRequest.FromString(b)).tensors["x"],
    ),
    "V2 gRPC typed contents": (
        lambda t: infer_request_proto("fraud", {"x": t}, raw=False).SerializeToString(),
        lambda b: parse_infer_request_proto(v2_pb2.ModelInferRequest.FromString(b)).tensors["x"],
    ),
    "V2 JSON": (
        lambda t: json.dumps(infer_request_json({"x": t})),
        lambda s: parse_infer_request_json(json.loads(s)).tensors["x"],
    ),
    "TF Serving JSON row": (
        lambda t: json.dumps(predict_request(t)),
        lambda s: parse_predict_request(json.loads(s), dtypes=DType.DT_FLOAT).tensors[""],
    ),
    "TF Serving JSON columnar": (
        lambda t: json.dumps(predict_request(t, format=JsonFormat.COLUMNAR)),
        lambda s: parse_predict_request(json.loads(s), dtypes=DType.DT_FLOAT).tensors[""],
    ),
    "Seldon JSON ndarray": (
        lambda t: json.dumps(seldon_message_json(t)),
        lambda s: parse_seldon_json(json.loads(s), dtype=DType.DT_FLOAT).tensor,
    ),
    "Seldon gRPC tftensor": (
        lambda t: seldon_proto(t).SerializeToString(),
        lambda b: parse_seldon_proto(seldon_pb2.SeldonMessage.FromString(b)).tensor,
    ),
}


def rate(fn: Callable[[Any], Any], arg: Any, records: int, seconds: float, repeat: int) -> float:
    """Records per second of ``fn(arg)``: the best of ``repeat`` runs of ``seconds`` each (the
    machine is shared, so the best run is the one least disturbed by other work)."""
    fn(arg)
    best = 0.0
    for _ in range(repeat):
        calls, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            fn(arg)
            calls += 1
        best = max(best, records * calls / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 64, 1024], help="rows per message")
    parser.add_argument("--seconds", type=float, default=0.3, help="time per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (the best counts)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"{'codec':42} {'rows':>5} {'encode rec/s':>13} {'decode rec/s':>13}")
    for size in args.sizes:
        tensor = Tensor.from_numpy(transactions(size))
        for name, (encode, decode) in CODECS.items():
            payload = encode(tensor)
            back = decode(payload)
            assert np.array_equal(np.asarray(getattr(back, "data", back)), tensor.data), name
            enc = rate(encode, tensor, size, args.seconds, args.repeat)
            dec = rate(decode, payload, size, args.seconds, args.repeat)
            print(f"{name:42} {size:5d} {enc:13,.0f} {dec:13,.0f}")


if __name__ == "__main__":
    main()
