"""``inferstream serve`` as a user runs it: a real process, the original README's curl commands."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from server.conftest import ASSETS

from inferstream.cli.serve_process import ServedProcess, serve_in_subprocess
from inferstream.models import load_model

REPO = Path(__file__).resolve().parents[2]
INFERSTREAM = str(Path(sys.executable).parent / "inferstream")  # the installed console script
# Verbatim from the original README; only the port differs (tests never use fixed ports).
README_PREDICT = """curl -X POST http://localhost:8501/v1/models/fraud/versions/1:predict -d '{"signature_name":"","inputs":{"transaction":[[-1.3598071336738,-0.0727811733098497,2.53634673796914,1.37815522427443,-0.338320769942518,0.462387777762292,0.239598554061257,0.0986979012610507,0.363786969611213,0.0907941719789316,-0.551599533260813,-0.617800855762348,-0.991389847235408,-0.311169353699879,1.46817697209427,-0.470400525259478,0.207971241929242,0.0257905801985591,0.403992960255733,0.251412098239705,-0.018306777944153,0.277837575558899,-0.110473910188767,0.0669280749146731,0.128539358273528,-0.189114843888824,0.133558376740387,-0.0210530534538215,149.62]]}}'"""  # noqa: E501
README_STATUS = "curl http://localhost:8501/v1/models/fraud/versions/1"
README_METADATA = "curl http://localhost:8501/v1/models/fraud/versions/1/metadata"


@pytest.fixture(scope="module")
def served() -> Iterator[ServedProcess]:
    with serve_in_subprocess({"fraud": ASSETS / "seed-fraud"}) as running:  # `inferstream serve`, port 0
        yield running


def _curl(command: str, port: object) -> object:
    """Run a README curl command against ``port``; without a curl binary, send what curl would send."""
    command = command.replace("localhost:8501", f"localhost:{port}")
    if shutil.which("curl"):
        env = {**os.environ, "no_proxy": "*", "NO_PROXY": "*"}
        out = subprocess.run(
            command, shell=True, capture_output=True, text=True, timeout=60, check=True, env=env
        )
        return json.loads(out.stdout)
    args = shlex.split(command)[1:]
    data = args[args.index("-d") + 1].encode() if "-d" in args else None
    url = next(a for a in args if a.startswith("http://"))
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    if data:  # curl -d's default content type: the server must not care
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_readme_commands_work_verbatim(served: ServedProcess, fraud_reference: dict) -> None:
    assert served.host == "127.0.0.1" and served.rest_port != 8501 and served.grpc_port
    answer = _curl(README_PREDICT, served.rest_port)
    assert isinstance(answer, dict)
    outputs = np.asarray(answer["outputs"], dtype=np.float32)
    row = json.loads(README_PREDICT.split("-d '")[1].rstrip("'"))["inputs"]["transaction"]
    model = load_model(ASSETS / "seed-fraud" / "1")
    expected = model.predict({"transaction": np.asarray(row)})["predictions"]
    np.testing.assert_allclose(outputs, expected, atol=1e-5)  # TensorFlow's own answer, in this process
    status = _curl(README_STATUS, served.rest_port)
    assert status == {
        "model_version_status": [
            {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        ]
    }
    metadata = _curl(README_METADATA, served.rest_port)
    assert isinstance(metadata, dict)
    assert (
        "transaction" in metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]
    )


def test_bad_model_path_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [INFERSTREAM, "serve", "--model", f"x={tmp_path / 'missing'}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    output = result.stdout.replace("\n", "")  # rich folds long lines at the terminal width
    assert "Cannot load models" in output and "missing" in output
    result = subprocess.run(
        [INFERSTREAM, "serve", "--model", "no-equals-sign"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "NAME=URI" in result.stdout + result.stderr


def test_model_repository_option_serves_every_model_folder(model_repo: Path) -> None:
    from inferstream.cli.serve import _parse_models

    models = _parse_models(["extra=/somewhere/else"], model_repo)
    assert models["linear"] == str(model_repo / "linear") and models["extra"] == "/somewhere/else"
    assert {"linear", "regressor", "classifier", "seed-fraud", "tf-autoencoder"} <= set(models)


def test_busy_port_and_bad_option_are_clear_errors(model_repo: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        serve = [INFERSTREAM, "serve", "--model", f"linear={model_repo / 'linear'}"]
        result = subprocess.run(
            [*serve, "--port", str(port), "--no-grpc"], cwd=REPO, capture_output=True, text=True, timeout=120
        )
    assert result.returncode == 2
    assert "address already in use" in result.stdout and "--port" in result.stdout
    result = subprocess.run(
        [*serve, "--max-batch-size", "0"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2 and "max-batch-size" in result.stdout + result.stderr
