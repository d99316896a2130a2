"""The fraud autoencoder: the original's 29 → 14 → 7 → 7 → 29 shape as a scikit-learn MLPRegressor.

Deviations from the original Keras model, forced by scikit-learn: one activation (tanh) for every
hidden layer instead of tanh/relu/tanh, and L2 weight decay instead of L1 activity regularisation.
``Time`` is dropped by the loader; ``Amount`` is standardised by a fitted scaler that travels with
the model (and inside its ONNX export), so callers always pass raw transactions.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from inferstream.apps.fraud.data import N_FEATURES

HIDDEN_LAYERS = (14, 7, 7)
AMOUNT_COLUMN = N_FEATURES - 1

# Called after each epoch with (epoch, training loss, validation loss).
EpochCallback = Callable[[int, float, float], None]


@dataclass(frozen=True)
class TrainingSettings:
    epochs: int = 150
    batch_size: int = 32
    learning_rate: float = 1e-3
    l2: float = 1e-4
    seed: int = 0


DEFAULT_SETTINGS = TrainingSettings()


@dataclass
class FraudAutoencoder:
    """A fitted scaler + MLP pair; ``errors`` is the mean squared reconstruction error per row."""

    preprocess: ColumnTransformer
    network: MLPRegressor
    loss_curve: list[float] = field(default_factory=list)
    validation_curve: list[float] = field(default_factory=list)

    def features(self, transactions: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
        """Raw transactions [n, 29] → the model's feature space (Amount standardised)."""
        return np.asarray(self.preprocess.transform(transactions), dtype=np.float32)

    def errors(self, transactions: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
        x = self.features(transactions)
        reconstruction = np.asarray(self.network.predict(x), dtype=np.float32)
        return np.asarray(np.mean((x - reconstruction) ** 2, axis=1), dtype=np.float32)

    @property
    def amount_mean(self) -> float:
        return float(self._scaler.mean_[0])

    @property
    def amount_scale(self) -> float:
        return float(self._scaler.scale_[0])

    @property
    def _scaler(self) -> StandardScaler:
        scaler: StandardScaler = self.preprocess.named_transformers_["amount"]
        return scaler


def new_preprocess() -> ColumnTransformer:
    """V1..V28 pass through; Amount is standardised; the column order stays V1..V28, Amount."""
    return ColumnTransformer(
        [
            ("components", "passthrough", list(range(AMOUNT_COLUMN))),
            ("amount", StandardScaler(), [AMOUNT_COLUMN]),
        ]
    )


def train_autoencoder(
    normal_train: npt.NDArray[np.float32],
    normal_validation: npt.NDArray[np.float32],
    settings: TrainingSettings = DEFAULT_SETTINGS,
    on_epoch: EpochCallback | None = None,
) -> FraudAutoencoder:
    """Fit on normal transactions only, one epoch at a time so progress and losses can be shown."""
    preprocess = new_preprocess().fit(normal_train)
    x_train = np.asarray(preprocess.transform(normal_train), dtype=np.float32)
    x_validation = np.asarray(preprocess.transform(normal_validation), dtype=np.float32)
    network = MLPRegressor(
        hidden_layer_sizes=HIDDEN_LAYERS,
        activation="tanh",
        solver="adam",
        alpha=settings.l2,
        batch_size=min(settings.batch_size, len(x_train)),
        learning_rate_init=settings.learning_rate,
        random_state=settings.seed,
        shuffle=True,
    )
    model = FraudAutoencoder(preprocess, network)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for epoch in range(1, settings.epochs + 1):
            network.partial_fit(x_train, x_train)
            # Plain MSE on both sets (sklearn's loss_ is half the MSE plus the L2 penalty).
            loss = _mse(network, x_train)
            validation = _mse(network, x_validation)
            model.loss_curve.append(loss)
            model.validation_curve.append(validation)
            if on_epoch is not None:
                on_epoch(epoch, loss, validation)
    return model


def _mse(network: MLPRegressor, x: npt.NDArray[np.float32]) -> float:
    return float(np.mean((x - network.predict(x)) ** 2))
