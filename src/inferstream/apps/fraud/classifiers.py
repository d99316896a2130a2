"""The supervised fraud models: gradient-boosted trees and a logistic regression, calibrated.

``gbt`` is scikit-learn's HistGradientBoostingClassifier (no extra dependency, converts to ONNX
with skl2onnx); ``logreg`` standardises every feature and fits an L2 logistic regression. Either
is calibrated by Platt scaling fitted on its *out-of-fold* margins (the cross-validation's, so no
extra fits): ``score = sigmoid(a · margin + b)``, where ``margin`` is the model's log-odds
(``decision_function``), a probability of fraud at the training data's fraud rate. Two constants
on the margin the ONNX converters also produce, so the calibration goes into the graph exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

SUPERVISED_KINDS = ("gbt", "logreg")


def new_estimator(kind: str, seed: int) -> Any:
    """A fresh, unfitted estimator of ``kind`` (hyper-parameters chosen on the sample's folds)."""
    if kind == "gbt":
        # 100 trees of ≤31 leaves; early stopping switches on by itself above 10,000 rows.
        return HistGradientBoostingClassifier(random_state=seed)
    if kind == "logreg":
        return Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(C=0.1, max_iter=2000))])
    raise ValueError(f"unknown supervised model {kind!r}; use one of {SUPERVISED_KINDS}")


def raw_scores(estimator: ClassifierMixin, rows: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """The estimator's uncalibrated log-odds of fraud (its margin)."""
    return np.asarray(estimator.decision_function(rows), dtype=np.float64).reshape(-1)


@dataclass(frozen=True)
class PlattCalibration:
    """``score = sigmoid(slope · margin + intercept)``."""

    slope: float
    intercept: float

    @classmethod
    def fit(cls, raw: npt.NDArray[np.floating], labels: npt.NDArray[np.integer]) -> PlattCalibration:
        # A barely regularised logistic fit of the labels on the margin: Platt's method.
        model = LogisticRegression(C=1e4, max_iter=1000).fit(np.reshape(raw, (-1, 1)), labels)
        return cls(float(model.coef_[0, 0]), float(model.intercept_[0]))

    def apply(self, raw: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
        z = self.slope * np.asarray(raw, dtype=np.float64) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)


@dataclass
class FraudClassifier:
    """A fitted estimator and its calibration; ``scores`` is the calibrated probability of fraud."""

    kind: str
    estimator: Any
    calibration: PlattCalibration

    def scores(self, rows: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
        return self.calibration.apply(raw_scores(self.estimator, np.asarray(rows, dtype=np.float32)))


def fit_estimator(
    kind: str, rows: npt.NDArray[np.floating], labels: npt.NDArray[np.integer], seed: int
) -> Any:
    return new_estimator(kind, seed).fit(rows, labels)
