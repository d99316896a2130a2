"""Models in memory, whatever their format: ONNX, scikit-learn (joblib), TensorFlow SavedModel.

Shared by the built-in model server and the in-process (embedded) executor; depends on neither.

    model = load_model("models/fraud/1")          # a SavedModel folder, .onnx or .joblib file
    model.inputs                                   # (TensorSpec("transaction", float32, (None, 29)),)
    outputs = model.predict({"transaction": x})    # {"predictions": ndarray}; thread-safe
"""

from inferstream.models.base import Arrays, LoadedModel
from inferstream.models.loader import detect_format, load_model
from inferstream.models.spec import (
    DEFAULT_SIGNATURE,
    ModelError,
    ModelInputError,
    ModelLoadError,
    Signature,
    TensorSpec,
    UnknownSignatureError,
)

__all__ = [
    "DEFAULT_SIGNATURE",
    "Arrays",
    "LoadedModel",
    "ModelError",
    "ModelInputError",
    "ModelLoadError",
    "Signature",
    "TensorSpec",
    "UnknownSignatureError",
    "detect_format",
    "load_model",
]
