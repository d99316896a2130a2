"""Shared test fixtures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from inferstream.devtools.kafka_broker import KafkaBroker, start_broker
from inferstream.devtools.seaweedfs import S3Server

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    # Installs the jars from Maven Central on first use (idempotent), so no test skips without Kafka.
    broker = start_broker(data_dir=tmp_path_factory.mktemp("kafka-broker"), heap="512m")
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def bootstrap(kafka_broker: KafkaBroker) -> str:
    return kafka_broker.bootstrap_servers


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3-compatible server (SeaweedFS ``weed mini``) on 127.0.0.1; built on first use."""
    from inferstream.devtools.seaweedfs import start_s3

    server = start_s3(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[S3Server]:
    """The standard AWS variables point at ``s3_server``; a fresh model cache per test."""
    from inferstream.models.s3 import s3_client

    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("INFERSTREAM_MODEL_CACHE", str(tmp_path / "model-cache"))
    s3_client.cache_clear()
    try:
        yield s3_server
    finally:
        s3_client.cache_clear()


@pytest.fixture(scope="session")
def fraud_model_base(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    """A model base folder holding ``fraud/1`` as ``inferstream train fraud`` makes it; trained once a
    session and shared, so tests only read it."""
    from inferstream.apps.fraud.data import load_transactions
    from inferstream.apps.fraud.training import train_fraud

    root = tmp_path_factory.mktemp("fraud-models")
    train_fraud(load_transactions(repo_root / "data/creditcard-sample.csv"), root)
    return root


@pytest.fixture(scope="session")
def fraud_models(fraud_model_base: Path) -> Path:
    """The ``fraud`` model's folder (its versions inside) of :func:`fraud_model_base`."""
    return fraud_model_base / "fraud"


@pytest.fixture(scope="session")
def card_rows(repo_root: Path) -> np.ndarray:
    """The first 2,000 card transactions of the sample, as the model's float32 features."""
    from inferstream.apps.fraud.data import load_transactions

    data = load_transactions(repo_root / "data/creditcard-sample.csv")
    return np.asarray(data.features[:2000], dtype=np.float32)


def _instance_pid(app: str, instance: str) -> int | None:
    """The pid of the process of pipeline ``app`` that runs ``instance`` (``double:0``), from /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if instance.encode() in argv and any(app.encode() in a for a in argv):
            return int(entry.name)
    return None


@pytest.fixture
def instance_pid() -> Callable[[str, str], int | None]:
    """Finds an instance process of a running pipeline by its app and instance name."""
    return _instance_pid
