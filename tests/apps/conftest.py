"""Fixtures of the app tests: a fraud model trained on the real sample, the built-in server serving it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from inferstream.apps.common.kafka_warmup import wait_for_group_coordinator
from inferstream.apps.fraud.data import CardTransactions, load_transactions
from inferstream.apps.fraud.training import TrainedFraudModel, train_fraud
from inferstream.apps.recommender.model import train_and_save
from inferstream.cli.serve_process import ServedProcess, serve_in_subprocess
from inferstream.devtools.kafka_broker import KafkaBroker
from inferstream.runtime.lookup import find_blueprint


@pytest.fixture(scope="session")
def sample(repo_root: Path) -> CardTransactions:
    return load_transactions(repo_root / "data/creditcard-sample.csv")


@pytest.fixture(scope="session")
def trained_fraud(tmp_path_factory: pytest.TempPathFactory, sample: CardTransactions) -> TrainedFraudModel:
    """The fraud model as ``inferstream train fraud`` makes it (default settings), in ``<dir>/fraud/1``."""
    return train_fraud(sample, tmp_path_factory.mktemp("app-models"))


@pytest.fixture(scope="session")
def models_dir(trained_fraud: TrainedFraudModel) -> Path:
    """A model base folder: ``fraud/1`` and ``recommender/1`` (100 users, 100 products)."""
    assert trained_fraud.version_dir is not None
    root = trained_fraud.version_dir.parent.parent
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
def kafka_bootstrap(kafka_broker: KafkaBroker) -> str:
    """The session's real Kafka broker (tests/conftest.py), once its group coordinator answers."""
    wait_for_group_coordinator(kafka_broker.bootstrap_servers)
    return kafka_broker.bootstrap_servers


@pytest.fixture
def fresh_app(tmp_path: Path) -> Callable[[str], Path]:
    """A shipped blueprint under a new app name: its Kafka topics and groups start empty, whatever
    earlier tests left on the session's broker."""

    def copy(blueprint: str) -> Path:
        source = find_blueprint(blueprint).read_text()
        name = f"{blueprint}-{uuid.uuid4().hex[:8]}"
        assert f"name: {blueprint}\n" in source
        path = tmp_path / f"{name}.yaml"
        path.write_text(source.replace(f"name: {blueprint}\n", f"name: {name}\n"))
        return path

    return copy
