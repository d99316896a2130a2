"""What both V2 adapters share: version strings, datatype names, model metadata."""

from __future__ import annotations

from typing import Any

import numpy as np

from inferstream.models import Signature, TensorSpec
from inferstream.server.errors import not_found
from inferstream.server.repository import ModelVersion
from inferstream.tensors.v2 import datatype_of_numpy

# Platform names as Triton reports them, so V2 clients that switch on them recognise ours.
_PLATFORMS = {"onnx": "onnxruntime_onnx", "tensorflow": "tensorflow_savedmodel", "sklearn": "sklearn"}


def v2_version(text: str | None) -> int | None:
    """A V2 ``model_version`` string as a version number; empty means the highest version."""
    if not text:
        return None
    if not text.isdigit():
        raise not_found(f"model version {text!r} not found: versions are numbers")
    return int(text)


def v2_datatype(dtype: np.dtype[Any]) -> str:
    """The V2 name a model's declared type is reported under (types V2 cannot name as BYTES)."""
    return datatype_of_numpy(dtype) or "BYTES"


def v2_shape(spec: TensorSpec) -> list[int]:
    return [-1] if spec.shape is None else [-1 if d is None else d for d in spec.shape]


def v2_metadata(entry: ModelVersion, versions: list[ModelVersion], signature: Signature) -> dict[str, Any]:
    """V2 model metadata: name, versions, platform, and the default signature's tensors."""

    def tensors(specs: tuple[TensorSpec, ...]) -> list[dict[str, Any]]:
        return [{"name": s.name, "datatype": v2_datatype(s.dtype), "shape": v2_shape(s)} for s in specs]

    return {
        "name": entry.name,
        "versions": [str(v.version) for v in versions],
        "platform": _PLATFORMS.get(entry.model.format, entry.model.format),
        "inputs": tensors(signature.inputs),
        "outputs": tensors(signature.outputs),
    }
