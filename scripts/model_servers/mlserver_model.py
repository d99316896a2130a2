"""Write an MLServer model folder (settings + a scikit-learn model) for the executor tests.

    .venv-mlserver/bin/python mlserver_model.py <folder> --name fraud --http-port P --grpc-port Q

Run with MLServer's own virtualenv, so the joblib file matches the scikit-learn the server loads.
The model is a linear regression fitted to reproduce twice its 29 inputs (y = 2x), so clients can
check values went there and back. ``mlserver start <folder>`` then serves it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import joblib
import numpy as np
from sklearn.linear_model import LinearRegression


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--name", default="fraud")
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    args = parser.parse_args()
    folder: Path = args.folder
    model_dir = folder / args.name
    model_dir.mkdir(parents=True, exist_ok=True)
    x = np.random.default_rng(0).normal(size=(200, 29))
    joblib.dump(LinearRegression().fit(x, 2 * x), model_dir / "model.joblib")
    settings = {
        "http_port": args.http_port,
        "grpc_port": args.grpc_port,
        "metrics_port": 0,
        "metrics_endpoint": None,
        "parallel_workers": 0,
        "host": "127.0.0.1",
        "debug": False,
    }
    (folder / "settings.json").write_text(json.dumps(settings))
    model_settings = {
        "name": args.name,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": "1"},
    }
    (model_dir / "model-settings.json").write_text(json.dumps(model_settings))


if __name__ == "__main__":
    main()
