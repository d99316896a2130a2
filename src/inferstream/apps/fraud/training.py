"""Train, judge and export the fraud model: split, fit on normal rows, pick a threshold, report, save."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from inferstream.apps.common.model_folders import new_version_dir
from inferstream.apps.fraud.data import CardTransactions
from inferstream.apps.fraud.evaluation import Evaluation, best_f1_threshold, evaluate, write_report
from inferstream.apps.fraud.export import ERROR_OUTPUT, ThresholdInfo, save
from inferstream.apps.fraud.model import (
    DEFAULT_SETTINGS,
    EpochCallback,
    FraudAutoencoder,
    TrainingSettings,
    train_autoencoder,
)


@dataclass(frozen=True)
class Split:
    """Row indices: the model learns from ``train`` normals, the threshold from ``validation``,
    and the report judges ``test``, which neither has seen."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray


@dataclass(frozen=True)
class TrainedFraudModel:
    model: FraudAutoencoder
    split: Split
    threshold: ThresholdInfo
    evaluation: Evaluation
    version_dir: Path | None = None
    report: Path | None = None


def split_rows(data: CardTransactions, validation: float = 0.2, test: float = 0.2, seed: int = 0) -> Split:
    """A stratified three-way split, so each part holds frauds in the data's proportion."""
    index = np.arange(len(data))
    rest, test_rows = train_test_split(index, test_size=test, stratify=data.labels, random_state=seed)
    train_rows, validation_rows = train_test_split(
        rest, test_size=validation / (1 - test), stratify=data.labels[rest], random_state=seed
    )
    return Split(np.sort(train_rows), np.sort(validation_rows), np.sort(test_rows))


def fit_and_evaluate(
    data: CardTransactions,
    settings: TrainingSettings = DEFAULT_SETTINGS,
    on_epoch: EpochCallback | None = None,
) -> TrainedFraudModel:
    split = split_rows(data, seed=settings.seed)
    normal = data.labels == 0
    train_normal = data.features[split.train[normal[split.train]]]
    validation_normal = data.features[split.validation[normal[split.validation]]]
    model = train_autoencoder(train_normal, validation_normal, settings, on_epoch)
    validation = data.subset(split.validation)
    chosen = best_f1_threshold(validation.labels, model.errors(validation.features))
    threshold = ThresholdInfo(chosen, ERROR_OUTPUT, "best F1 on the validation split")
    test = data.subset(split.test)
    return TrainedFraudModel(
        model, split, threshold, evaluate(test.labels, model.errors(test.features), chosen)
    )


def train_fraud(
    data: CardTransactions,
    models_dir: Path,
    settings: TrainingSettings = DEFAULT_SETTINGS,
    on_epoch: EpochCallback | None = None,
) -> TrainedFraudModel:
    """Train on ``data`` and write ``<models_dir>/fraud/<next version>/`` (model, threshold, report)."""
    trained = fit_and_evaluate(data, settings, on_epoch)
    version_dir = new_version_dir(models_dir / "fraud")
    save(trained.model, version_dir, trained.threshold)
    test = data.subset(trained.split.test)
    notes = [
        f"Data: {data.describe()}; split 60/20/20 stratified (seed {settings.seed}); "
        f"trained on {int((data.labels[trained.split.train] == 0).sum())} normal rows "
        f"for {settings.epochs} epochs.",
        "Model: scikit-learn MLPRegressor 29 → 14 → 7 → 7 → 29, tanh on every hidden layer and L2 weight "
        "decay (the original used tanh/relu/tanh and L1 activity regularisation); Time dropped, Amount "
        "standardised inside the exported ONNX graph.",
        "Errors are the MSE in the model's feature space (the ONNX output `reconstruction_error`).",
    ]
    if data.synthetic:
        notes.insert(0, "SYNTHETIC DATA: these figures say nothing about real fraud.")
    report = write_report(
        version_dir / "report",
        trained.evaluation,
        test.labels,
        trained.model.errors(test.features),
        trained.model.loss_curve,
        trained.model.validation_curve,
        notes,
    )
    return TrainedFraudModel(
        trained.model, trained.split, trained.threshold, trained.evaluation, version_dir, report
    )
