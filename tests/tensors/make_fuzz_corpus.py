"""Write the seed corpus of the decoder fuzz test (tests/tensors/fuzz_corpus/<target>/*.bin).

Seeds are valid messages of each format (the mutations then stay close to what decoders really
meet); inputs that once broke a decoder are added by hand as ``regression-*.bin`` and never
regenerated. Run from the repository root: ``.venv/bin/python tests/tensors/make_fuzz_corpus.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from inferstream.protos import v2_pb2
from inferstream.tensors import Tensor, tfjson, v2
from inferstream.tensors.avro import (
    ModelResultMetadata,
    ServingResult,
    SourceRequest,
    TensorSpec,
    encode_serving_result,
    encode_source_request,
    encode_tensor,
)
from inferstream.tensors.tensor import DType
from inferstream.tensors.tensorproto import encode_tensor_proto

ROOT = Path(__file__).resolve().parent / "fuzz_corpus"


def _tensors() -> list[Tensor]:
    return [
        Tensor.from_numpy(np.linspace(-1, 1, 29, dtype=np.float32).reshape(1, 29)),
        Tensor.from_numpy(np.arange(6, dtype=np.int64).reshape(3, 2)),
        Tensor.from_numpy(np.array([True, False])),
        Tensor.from_numpy(np.array([b"ab", b"", b"\xff"], dtype=object)),
        Tensor.from_numpy(np.array([[1.5, 2.5]], dtype=np.float64)),
        Tensor.from_numpy(np.zeros((0, 4), dtype=np.float32)),
    ]


def seeds() -> dict[str, list[bytes]]:
    tensors = _tensors()
    fraud = tensors[0]
    requests = [
        SourceRequest({"transaction": fraud}, {"p": TensorSpec(DType.DT_FLOAT, (1, 29))}),
        SourceRequest({"users": Tensor.from_numpy(np.full((3, 1), 7.0, np.float32)),
                       "products": Tensor.from_numpy(np.arange(3, dtype=np.float32)[:, None])},
                      {"predictions": TensorSpec(DType.DT_FLOAT, (3, 1))}, "recommender"),
    ]
    results = [
        ServingResult(requests[0].inputs, {"predictions": fraud},
                      ModelResultMetadata("", "fraud", "127.0.0.1:8500", 1_700_000_000_000, 3), "fraud"),
        ServingResult(requests[0].inputs, {}, ModelResultMetadata("unavailable", "fraud", "x", 1, 2)),
    ]
    v2_request = v2_pb2.ModelInferRequest(model_name="fraud", id="1")
    entry = v2_request.inputs.add(name="x", datatype="FP32", shape=[1, 2])
    entry.contents.fp32_contents.extend([1.0, 2.0])
    raw = v2_pb2.ModelInferRequest(model_name="fraud", raw_input_contents=[np.float32([1, 2]).tobytes()])
    raw.inputs.add(name="x", datatype="FP32", shape=[1, 2])
    return {
        "avro-source-request": [encode_source_request(r) for r in requests],
        "avro-serving-result": [encode_serving_result(r) for r in results],
        "avro-tensor": [encode_tensor(t) for t in tensors if t.dtype != DType.DT_STRING],
        "tensorproto": [encode_tensor_proto(t) for t in tensors]
        + [encode_tensor_proto(tensors[1], typed_fields=True)],
        "v2-proto": [v2_request.SerializeToString(), raw.SerializeToString()],
        "v2-json": [json.dumps(v2.infer_request_json({"x": t})).encode() for t in tensors[:3]],
        "tfjson": [json.dumps(tfjson.predict_request({"x": t}, format=f)).encode()
                   for t in tensors[:3] for f in (tfjson.JsonFormat.ROW, tfjson.JsonFormat.COLUMNAR)],
    }  # fmt: skip


def main() -> None:
    for target, payloads in seeds().items():
        folder = ROOT / target
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("seed-*.bin"):
            old.unlink()
        for index, payload in enumerate(payloads):
            (folder / f"seed-{index}.bin").write_bytes(payload)
        print(f"{target}: {len(payloads)} seeds")


if __name__ == "__main__":
    main()
