"""Tiny models built on the spot (ONNX, scikit-learn) and the reference SavedModels, as repositories."""

from __future__ import annotations

import shutil
from pathlib import Path

import joblib
import numpy as np
import pytest
from skl2onnx import to_onnx
from sklearn.linear_model import LinearRegression, LogisticRegression

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "models"
N_FEATURES = 4


def _training_rows() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(32, N_FEATURES))
    y = x @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.25
    return x, y


@pytest.fixture(scope="session")
def model_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TF Serving-layout repository: <root>/<model>/<version>/..."""
    root = tmp_path_factory.mktemp("models")
    x, y = _training_rows()
    linear = LinearRegression().fit(x, y)
    for version, scale in ((1, 1.0), (2, 2.0)):  # version 2 answers twice version 1's value
        model = LinearRegression().fit(x, y * scale)
        (root / "linear" / str(version)).mkdir(parents=True)
        onx = to_onnx(model, x[:1].astype(np.float32), target_opset=15)
        (root / "linear" / str(version) / "model.onnx").write_bytes(onx.SerializeToString())
    (root / "regressor" / "1").mkdir(parents=True)
    joblib.dump(linear, root / "regressor" / "1" / "model.joblib")
    (root / "classifier" / "3").mkdir(parents=True)
    joblib.dump(LogisticRegression().fit(x, y > 0.25), root / "classifier" / "3" / "model.joblib")
    for name in ("seed-fraud", "tf-autoencoder"):
        shutil.copytree(ASSETS / name / "1", root / name / "1")
    return root


@pytest.fixture(scope="session")
def linear_reference() -> LinearRegression:
    x, y = _training_rows()
    return LinearRegression().fit(x, y)


@pytest.fixture(scope="session")
def fraud_reference() -> dict[str, np.ndarray]:
    ref = np.load(ASSETS / "seed-fraud" / "reference.npz")
    return {k: ref[k] for k in ref.files}


@pytest.fixture(scope="session")
def autoencoder_reference() -> dict[str, np.ndarray]:
    ref = np.load(ASSETS / "tf-autoencoder" / "reference.npz")
    return {k: ref[k] for k in ref.files}
