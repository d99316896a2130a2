"""ONNX models through ONNX Runtime (which releases the GIL while it runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from inferstream.models.base import Arrays, LoadedModel
from inferstream.models.spec import DEFAULT_SIGNATURE, ModelLoadError, Signature, TensorSpec

_ORT_TYPES: dict[str, np.dtype[Any]] = {
    "tensor(float)": np.dtype(np.float32),
    "tensor(double)": np.dtype(np.float64),
    "tensor(int64)": np.dtype(np.int64),
    "tensor(int32)": np.dtype(np.int32),
    "tensor(bool)": np.dtype(np.bool_),
    "tensor(string)": np.dtype(object),
    "tensor(float16)": np.dtype(np.float16),
    "tensor(uint8)": np.dtype(np.uint8),
    "tensor(int8)": np.dtype(np.int8),
}


def _spec(arg: Any) -> TensorSpec:
    if arg.type not in _ORT_TYPES:
        raise ModelLoadError(f"ONNX input/output {arg.name!r} has unsupported type {arg.type}")
    shape = None if arg.shape is None else tuple(d if isinstance(d, int) else None for d in arg.shape)
    return TensorSpec(arg.name, _ORT_TYPES[arg.type], shape)


class OnnxModel(LoadedModel):
    format = "onnx"

    def __init__(self, path: Path, intra_op_threads: int = 1) -> None:
        options = ort.SessionOptions()
        # One thread per call: servers run calls concurrently, so per-call parallelism would oversubscribe.
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelLoadError(f"cannot load ONNX model {path}: {exc}") from exc
        signature = Signature(
            DEFAULT_SIGNATURE,
            tuple(_spec(a) for a in self._session.get_inputs()),
            tuple(_spec(a) for a in self._session.get_outputs()),
        )
        super().__init__(path, {DEFAULT_SIGNATURE: signature})

    def run(self, signature: Signature, inputs: Arrays) -> Arrays:
        names = [spec.name for spec in signature.outputs]
        values = self._session.run(names, inputs)
        return {name: np.asarray(value) for name, value in zip(names, values, strict=True)}
