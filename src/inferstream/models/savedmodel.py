"""TensorFlow SavedModels (TF1 and TF2 formats) through their signatures.

TensorFlow is imported here only, when a SavedModel is loaded: it takes seconds and is an extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from inferstream.models.base import Arrays, LoadedModel
from inferstream.models.spec import ModelLoadError, Signature, TensorSpec


def _spec(name: str, tf_spec: Any) -> TensorSpec:
    dims = tf_spec.shape.as_list() if tf_spec.shape.rank is not None else None
    dtype = np.dtype(object) if tf_spec.dtype.name == "string" else np.dtype(tf_spec.dtype.as_numpy_dtype)
    return TensorSpec(name, dtype, None if dims is None else tuple(dims))


class SavedModel(LoadedModel):
    format = "tensorflow"

    def __init__(self, path: Path) -> None:
        try:
            import tensorflow as tf
        except ImportError as exc:
            raise ModelLoadError(
                f"{path} is a TensorFlow SavedModel but TensorFlow is not installed: "
                "pip install 'inferstream[tensorflow]'"
            ) from exc
        self._tf = tf
        try:
            self._loaded = tf.saved_model.load(str(path))
        except Exception as exc:
            raise ModelLoadError(f"cannot load SavedModel {path}: {exc}") from exc
        self._functions: dict[str, Any] = dict(self._loaded.signatures)
        if not self._functions:
            raise ModelLoadError(f"SavedModel {path} has no signatures to serve")
        signatures = {}
        for name, function in self._functions.items():
            _, kwargs = function.structured_input_signature
            outputs = function.structured_outputs
            signatures[name] = Signature(
                name,
                tuple(_spec(k, v) for k, v in kwargs.items()),
                tuple(_spec(k, v) for k, v in outputs.items()),
            )
        super().__init__(path, signatures)

    def run(self, signature: Signature, inputs: Arrays) -> Arrays:
        function = self._functions[signature.name]
        tensors = {k: self._tf.constant(v) for k, v in inputs.items()}
        return {k: v.numpy() for k, v in function(**tensors).items()}
