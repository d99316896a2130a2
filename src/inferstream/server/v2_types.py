"""Open Inference Protocol (V2) datatype names ⇄ numpy dtypes, shared by the V2 REST and gRPC adapters."""

from __future__ import annotations

from typing import Any

import numpy as np

from inferstream.models import Signature, TensorSpec
from inferstream.server.repository import ModelVersion

V2_TO_NUMPY: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
_NUMPY_TO_V2 = {dtype: name for name, dtype in V2_TO_NUMPY.items()}


def v2_datatype(dtype: np.dtype[Any]) -> str:
    if dtype.kind in "OSU":
        return "BYTES"
    return _NUMPY_TO_V2.get(dtype, "BYTES")


def v2_shape(spec: TensorSpec) -> list[int]:
    return [-1] if spec.shape is None else [-1 if d is None else d for d in spec.shape]


def v2_metadata(entry: ModelVersion, versions: list[ModelVersion], signature: Signature) -> dict[str, Any]:
    """V2 model metadata: name, versions, platform, and the default signature's tensors."""

    def tensors(specs: tuple[TensorSpec, ...]) -> list[dict[str, Any]]:
        return [{"name": s.name, "datatype": v2_datatype(s.dtype), "shape": v2_shape(s)} for s in specs]

    return {
        "name": entry.name,
        "versions": [str(v.version) for v in versions],
        "platform": entry.model.format,
        "inputs": tensors(signature.inputs),
        "outputs": tensors(signature.outputs),
    }
