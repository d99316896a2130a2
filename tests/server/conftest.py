"""Tiny models built on the spot (ONNX, scikit-learn) and the reference SavedModels, as repositories."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from skl2onnx import to_onnx
from sklearn.linear_model import LinearRegression, LogisticRegression

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "models"
N_FEATURES = 4


def _training_rows() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(32, N_FEATURES))
    y = x @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.25
    return x, y


@pytest.fixture(scope="session")
def model_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TF Serving-layout repository: <root>/<model>/<version>/..."""
    root = tmp_path_factory.mktemp("models")
    x, y = _training_rows()
    linear = LinearRegression().fit(x, y)
    for version, scale in ((1, 1.0), (2, 2.0)):  # version 2 answers twice version 1's value
        model = LinearRegression().fit(x, y * scale)
        (root / "linear" / str(version)).mkdir(parents=True)
        onx = to_onnx(model, x[:1].astype(np.float32), target_opset=15)
        (root / "linear" / str(version) / "model.onnx").write_bytes(onx.SerializeToString())
    (root / "regressor" / "1").mkdir(parents=True)
    joblib.dump(linear, root / "regressor" / "1" / "model.joblib")
    (root / "classifier" / "3").mkdir(parents=True)
    joblib.dump(LogisticRegression().fit(x, y > 0.25), root / "classifier" / "3" / "model.joblib")
    for name in ("seed-fraud", "tf-autoencoder"):
        shutil.copytree(ASSETS / name / "1", root / name / "1")
    return root


@pytest.fixture(scope="session")
def linear_reference() -> LinearRegression:
    x, y = _training_rows()
    return LinearRegression().fit(x, y)


@pytest.fixture(scope="session")
def fraud_reference() -> dict[str, np.ndarray]:
    ref = np.load(ASSETS / "seed-fraud" / "reference.npz")
    return {k: ref[k] for k in ref.files}


@pytest.fixture(scope="session")
def autoencoder_reference() -> dict[str, np.ndarray]:
    ref = np.load(ASSETS / "tf-autoencoder" / "reference.npz")
    return {k: ref[k] for k in ref.files}


class ServerThread:
    """A ModelServer on its own event loop in a background thread, on free ports of 127.0.0.1."""

    def __init__(self, models: dict[str, Path], **settings: object) -> None:
        from inferstream.server.settings import ServerSettings

        self.settings = ServerSettings.model_validate({"rest_port": 0, "grpc_port": 0, **settings})
        self.models = models
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        from inferstream.server.app import ModelServer

        self.thread.start()
        self.server = ModelServer(self.settings, self.models)
        self.ports = asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(timeout=120)
        self.rest = f"http://127.0.0.1:{self.ports.rest}"
        self.grpc = f"127.0.0.1:{self.ports.grpc}"
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="session")
def server(model_repo: Path) -> Iterator[ServerThread]:
    """One server for the session: every model of ``model_repo``, ``seed-fraud`` also as ``fraud``."""
    models = {p.name: p for p in model_repo.iterdir()}
    models["fraud"] = model_repo / "seed-fraud"
    with ServerThread(models, max_request_bytes=256 * 1024) as running:
        yield running


HttpCall = Callable[..., tuple[int, Any]]


@pytest.fixture(scope="session")
def http() -> HttpCall:
    return _http


def _http(method: str, url: str, body: object = None, raw: bytes | None = None) -> tuple[int, Any]:
    """One HTTP call; returns (status, JSON body) for successes and errors alike."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
