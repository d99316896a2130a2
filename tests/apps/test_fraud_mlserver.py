"""The fraud model trained here, served by MLServer (a real one, through the ONNX runtime in
scripts/model_servers/), scored by the shipped ``fraud-v2`` blueprint unchanged."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from inferstream.apps.fraud.data import CardTransactions
from inferstream.apps.fraud.pipeline import FraudPipeline
from inferstream.apps.fraud.training import TrainedFraudModel
from inferstream.bench.ports import free_port
from inferstream.bench.procs import ManagedProcess

REPO = Path(__file__).resolve().parents[2]
RUNTIME = REPO / "scripts/model_servers/mlserver_onnx_runtime.py"


@pytest.fixture(scope="module")
def mlserver_fraud(
    tmp_path_factory: pytest.TempPathFactory, trained_fraud: TrainedFraudModel
) -> Iterator[str]:
    """MLServer serving ``fraud`` (the conftest's model, its model.onnx as written); yields its REST URL."""
    mlserver = REPO / ".venv-mlserver/bin/mlserver"
    if not mlserver.exists():
        raise RuntimeError(
            f"{mlserver} is missing: run `make model-servers` (scripts/model_servers/install.sh)"
        )
    assert trained_fraud.version_dir is not None
    folder = tmp_path_factory.mktemp("mlserver-fraud")
    http = free_port()
    settings = {
        "http_port": http,
        "grpc_port": free_port(),
        "metrics_port": 0,
        "metrics_endpoint": None,
        "parallel_workers": 0,
        "host": "127.0.0.1",
    }
    (folder / "settings.json").write_text(json.dumps(settings))
    (folder / "fraud").mkdir()
    shutil.copy(trained_fraud.version_dir / "model.onnx", folder / "fraud/model.onnx")
    shutil.copy(RUNTIME, folder / RUNTIME.name)
    model = {
        "name": "fraud",
        "implementation": "mlserver_onnx_runtime.OnnxRuntimeModel",
        "parameters": {"uri": "./model.onnx", "version": "1"},
    }
    (folder / "fraud/model-settings.json").write_text(json.dumps(model))
    process = ManagedProcess(
        "mlserver-fraud", [str(mlserver), "start", "."], folder / "mlserver.log", cwd=folder
    )
    process.start()
    try:
        _wait_ready(process, f"http://127.0.0.1:{http}/v2/models/fraud/ready")
        yield f"http://127.0.0.1:{http}"
    finally:
        process.stop(grace=3)


def _wait_ready(process: ManagedProcess, url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise process.fail("exited before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise process.fail(f"not ready at {url} within {timeout:.0f}s")


@pytest.mark.slow
def test_fraud_v2_blueprint_scores_through_mlserver(
    mlserver_fraud: str, models_dir: Path, sample: CardTransactions, repo_root: Path
) -> None:
    conf = [
        f"model-serving.target={mlserver_fraud}",
        f"card-ingress.data={repo_root / 'data/creditcard-sample.csv'}",
        "card-ingress.frequency=0 ms",
        "card-ingress.loop=false",
        f"fraud-decider.threshold-from={models_dir / 'fraud'}",
        "fraud-console.lines-per-second=1",
        "error-console.lines-per-second=1",
    ]
    pipeline = FraudPipeline("fraud-v2", conf)
    summary = pipeline.summary(asyncio.run(pipeline.run(seconds=120)), sample)
    assert summary.failures == [] and summary.ingested == len(sample)
    assert summary.decided["error"] == 0, summary.error_reasons
    # The model saw these rows in training: this checks the serving path, not the model's quality.
    assert summary.recall > 0.8 and summary.precision > 0.8
