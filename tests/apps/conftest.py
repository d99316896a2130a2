"""Fixtures of the app tests: a fraud model trained on the real sample, the built-in server serving it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from inferstream.apps.fraud.data import CardTransactions, load_transactions
from inferstream.apps.fraud.model import TrainingSettings
from inferstream.apps.fraud.training import train_fraud
from inferstream.apps.recommender.model import train_and_save
from inferstream.server.process import ServedProcess, serve_in_subprocess
from inferstream.transports.kafka_broker import start_broker


@pytest.fixture(scope="session")
def sample(repo_root: Path) -> CardTransactions:
    return load_transactions(repo_root / "data/creditcard-sample.csv")


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory, sample: CardTransactions) -> Path:
    """``<dir>/fraud/1`` (trained on the sample, few epochs: these tests check plumbing, not quality)
    and ``<dir>/recommender/1``."""
    root = tmp_path_factory.mktemp("app-models")
    train_fraud(sample, root, TrainingSettings(epochs=30))
    train_and_save(root, users=100, products=100)
    return root


@pytest.fixture(scope="session")
def model_server(models_dir: Path, repo_root: Path) -> Iterator[ServedProcess]:
    """The built-in server (a child process) on free ports, serving ``fraud`` and ``recommender``
    trained here and ``seed-fraud``, the original's TensorFlow autoencoder."""
    models = {
        "fraud": models_dir / "fraud",
        "recommender": models_dir / "recommender",
        "seed-fraud": repo_root / "tests/assets/models/seed-fraud",
    }
    with serve_in_subprocess(models) as served:
        yield served


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real single-node Kafka broker for this session (the Kafka engineer's helper, free ports)."""
    broker = start_broker(data_dir=tmp_path_factory.mktemp("apps-kafka"), heap="512m")
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()
