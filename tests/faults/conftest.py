"""Fixtures of the fault suite: a fraud model trained here, card transactions, a results table."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # fault_rig, beside this file

from inferstream.apps.common.kafka_warmup import wait_for_group_coordinator
from inferstream.apps.fraud.data import load_transactions
from inferstream.apps.fraud.training import train_fraud
from inferstream.devtools.kafka_broker import KafkaBroker, start_broker

RESULTS = Path(__file__).resolve().parents[2] / ".cache" / "faults" / "results.jsonl"


@pytest.fixture(scope="session")
def fraud_models(tmp_path_factory: pytest.TempPathFactory, repo_root: Path) -> Path:
    """``<dir>/fraud/1``: the fraud model as ``inferstream train fraud`` makes it."""
    root = tmp_path_factory.mktemp("fault-models")
    train_fraud(load_transactions(repo_root / "data/creditcard-sample.csv"), root)
    return root / "fraud"


@pytest.fixture(scope="session")
def card_rows(repo_root: Path) -> np.ndarray:
    data = load_transactions(repo_root / "data/creditcard-sample.csv")
    return np.asarray(data.features[:2000], dtype=np.float32)


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """The fault suite's own broker (overrides the shared one here): it kills and restarts it, and what
    earlier suites left on the shared broker must not decide this suite's setup."""
    broker = start_broker(data_dir=tmp_path_factory.mktemp("fault-broker"), heap="512m")
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def fault_bootstrap(kafka_broker: KafkaBroker) -> str:
    wait_for_group_coordinator(kafka_broker.bootstrap_servers)
    return kafka_broker.bootstrap_servers


@pytest.fixture(scope="session")
def results_table() -> Iterator[list[dict[str, Any]]]:
    """Rows of docs/reliability.md's table, written to .cache/faults/results.jsonl at the end."""
    rows: list[dict[str, Any]] = []
    yield rows
    if rows:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as out:
            for row in rows:
                out.write(json.dumps(row) + "\n")
