"""The label-free fraud model: an autoencoder (29 → 14 → 7 → 7 → 29, the original's shape) trained
on normal transactions only; its score is the reconstruction error.

Improvements on the original: every feature is standardised (the original scaled Amount only —
and its pipeline served raw Amount), and training stops early when the error on held-back normal
rows stops falling, keeping the best epoch's weights. Deviations forced by scikit-learn's
MLPRegressor: one activation (tanh) for every hidden layer, L2 weight decay instead of L1 activity
regularisation.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

HIDDEN_LAYERS = (14, 7, 7)

# Called after each epoch with (epoch, training loss, validation loss).
EpochCallback = Callable[[int, float, float], None]


@dataclass(frozen=True)
class AutoencoderSettings:
    max_epochs: int = 200
    patience: int = 15  # epochs without a better validation error before stopping
    validation_share: float = 0.15  # of the normal rows, held back to decide when to stop
    batch_size: int = 64
    learning_rate: float = 2e-3
    l2: float = 1e-4
    seed: int = 0


@dataclass
class FraudAutoencoder:
    """A fitted scaler + MLP pair; ``scores`` is the mean squared reconstruction error per row."""

    scaler: StandardScaler
    network: MLPRegressor
    loss_curve: list[float] = field(default_factory=list)
    validation_curve: list[float] = field(default_factory=list)
    best_epoch: int = 0

    def features(self, transactions: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
        """Raw transactions [n, 29] → the model's feature space (every column standardised)."""
        return np.asarray(self.scaler.transform(transactions), dtype=np.float32)

    def scores(self, transactions: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
        x = self.features(transactions)
        reconstruction = np.asarray(self.network.predict(x), dtype=np.float32)
        return np.asarray(np.mean((x - reconstruction) ** 2, axis=1), dtype=np.float64)


def train_autoencoder(
    normal_rows: npt.NDArray[np.floating],
    settings: AutoencoderSettings = AutoencoderSettings(),
    on_epoch: EpochCallback | None = None,
) -> FraudAutoencoder:
    """Fit on normal transactions only, one epoch at a time, stopping early on held-back normals."""
    if normal_rows.shape[0] < 10:
        raise ValueError(f"the autoencoder needs at least 10 normal rows, got {normal_rows.shape[0]}")
    rng = np.random.default_rng(settings.seed)
    order = rng.permutation(normal_rows.shape[0])
    held = max(1, round(settings.validation_share * order.size))
    scaler = StandardScaler().fit(normal_rows[order[held:]])
    x_train = np.asarray(scaler.transform(normal_rows[order[held:]]), dtype=np.float32)
    x_validation = np.asarray(scaler.transform(normal_rows[order[:held]]), dtype=np.float32)
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
    model = FraudAutoencoder(scaler, network)
    best, best_weights, since_best = np.inf, None, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for epoch in range(1, settings.max_epochs + 1):
            network.partial_fit(x_train, x_train)
            # Plain MSE on both sets (sklearn's loss_ is half the MSE plus the L2 penalty).
            loss, validation = _mse(network, x_train), _mse(network, x_validation)
            model.loss_curve.append(loss)
            model.validation_curve.append(validation)
            if on_epoch is not None:
                on_epoch(epoch, loss, validation)
            if validation < best - 1e-6:
                best, since_best, model.best_epoch = validation, 0, epoch
                best_weights = (copy.deepcopy(network.coefs_), copy.deepcopy(network.intercepts_))
            else:
                since_best += 1
                if since_best >= settings.patience:
                    break
    if best_weights is not None:
        network.coefs_, network.intercepts_ = best_weights
    return model


def _mse(network: MLPRegressor, x: npt.NDArray[np.float32]) -> float:
    return float(np.mean((x - network.predict(x)) ** 2))
