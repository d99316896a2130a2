"""The fraud model the benchmark serves: the project's trained one, or a quickly trained stand-in.

Throughput does not depend on how well the autoencoder fits, so when ``models/fraud`` is absent
the harness trains one for a few epochs on the CSV sample into its own work folder.
"""

from __future__ import annotations

from pathlib import Path

from inferstream.apps.fraud.data import load_transactions
from inferstream.apps.fraud.training import TrainingSettings, train_fraud
from inferstream.bench.launchers import FraudModel


def ensure_model(
    models: Path, data: Path, fallback_dir: Path, epochs: int = 10
) -> tuple[FraudModel, str | None]:
    """The model to serve and, when it had to be trained here, a note saying so."""
    found = FraudModel.find(models)
    if found is not None:
        return found, None
    # The autoencoder, as the original served: its outputs (reconstruction_error, predictions) are
    # what the benchmark's hand-written peers route on; one repeat keeps the stand-in quick.
    settings = TrainingSettings(model="autoencoder", epochs=epochs, repeats=1)
    train_fraud(load_transactions(data), fallback_dir, settings)
    trained = FraudModel.find(fallback_dir)
    if trained is None:
        raise RuntimeError(f"training wrote no model under {fallback_dir}/fraud")
    note = (
        f"no model under {models}/fraud: served a stand-in autoencoder "
        f"(≤ {epochs} epochs) trained on {data.name}"
    )
    return trained, note
