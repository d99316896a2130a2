"""Training on the real sample: held-out quality, the ONNX export's fidelity, the saved threshold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from inferstream.apps.fraud.data import load_transactions
from inferstream.apps.fraud.evaluation import ORIGINAL_THRESHOLD
from inferstream.apps.fraud.export import ThresholdInfo
from inferstream.apps.fraud.training import TrainedFraudModel


@pytest.fixture(scope="module")
def trained(trained_fraud: TrainedFraudModel) -> TrainedFraudModel:
    return trained_fraud  # conftest: trained on the real sample with the default settings


def test_held_out_roc_auc_is_at_least_0_90(trained: TrainedFraudModel) -> None:
    assert trained.evaluation.rows == 200  # the 20 % test split, never seen by training or threshold choice
    assert trained.evaluation.roc_auc >= 0.90
    assert trained.evaluation.original.threshold == ORIGINAL_THRESHOLD


def test_onnx_errors_match_the_in_memory_model(repo_root: Path, trained: TrainedFraudModel) -> None:
    assert trained.version_dir is not None
    data = load_transactions(repo_root / "data/creditcard-sample.csv")
    session = ort.InferenceSession(
        str(trained.version_dir / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    predictions, errors = session.run(["predictions", "reconstruction_error"], {"transaction": data.features})
    assert predictions.shape == (1000, 29) and errors.shape == (1000, 1)
    np.testing.assert_allclose(errors[:, 0], trained.model.errors(data.features), rtol=1e-5, atol=1e-5)
    # predictions are in raw units: MSE over them in feature space equals the error output
    features = trained.model.features(data.features)
    amount = trained.model.amount_mean, trained.model.amount_scale
    reconstruction = predictions.copy()
    reconstruction[:, -1] = (reconstruction[:, -1] - amount[0]) / amount[1]
    np.testing.assert_allclose(
        np.mean((features - reconstruction) ** 2, axis=1), errors[:, 0], rtol=1e-4, atol=1e-5
    )


def test_threshold_and_report_are_saved_beside_the_model(trained: TrainedFraudModel) -> None:
    assert trained.version_dir is not None and trained.report is not None
    saved = ThresholdInfo.read(trained.version_dir)
    assert saved == trained.threshold and saved.error_output == "reconstruction_error"
    session = ort.InferenceSession(
        str(trained.version_dir / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    assert float(session.get_modelmeta().custom_metadata_map["threshold"]) == saved.threshold
    report_dir = trained.report.parent
    for plot in ("loss.png", "errors_by_class.png", "roc.png", "precision_recall.png"):
        assert (report_dir / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = trained.report.read_text()
    assert "ROC AUC" in text and "original's fixed 4.0" in text and "L2" in text
