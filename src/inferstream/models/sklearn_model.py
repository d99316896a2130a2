"""scikit-learn estimators saved with joblib: input ``input`` [?, n_features] float64,
output ``predictions`` (``predict``) and, for classifiers, ``probabilities`` (``predict_proba``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np

from inferstream.models.base import Arrays, LoadedModel
from inferstream.models.spec import DEFAULT_SIGNATURE, ModelLoadError, Signature, TensorSpec

INPUT_NAME = "input"
PREDICTIONS = "predictions"
PROBABILITIES = "probabilities"


class SklearnModel(LoadedModel):
    format = "sklearn"

    def __init__(self, path: Path) -> None:
        try:
            self._estimator: Any = joblib.load(path)
        except Exception as exc:
            raise ModelLoadError(f"cannot load scikit-learn model {path}: {exc}") from exc
        if not hasattr(self._estimator, "predict"):
            raise ModelLoadError(f"{path} holds a {type(self._estimator).__name__}, which has no predict()")
        n_features = getattr(self._estimator, "n_features_in_", None)
        f64 = np.dtype(np.float64)
        inputs = (TensorSpec(INPUT_NAME, f64, (None, n_features) if n_features else None),)
        outputs = [TensorSpec(PREDICTIONS, f64, None)]
        self._proba = hasattr(self._estimator, "predict_proba") and hasattr(self._estimator, "classes_")
        if self._proba:
            outputs.append(TensorSpec(PROBABILITIES, f64, (None, len(self._estimator.classes_))))
        super().__init__(path, {DEFAULT_SIGNATURE: Signature(DEFAULT_SIGNATURE, inputs, tuple(outputs))})

    def run(self, signature: Signature, inputs: Arrays) -> Arrays:
        features = inputs[INPUT_NAME]
        outputs = {PREDICTIONS: np.asarray(self._estimator.predict(features))}
        if self._proba:
            outputs[PROBABILITIES] = np.asarray(self._estimator.predict_proba(features))
        return outputs
