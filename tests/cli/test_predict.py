"""``inferstream predict``: one call, outputs as JSON on stdout, latency on stderr, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from executors.conftest import RunningServer
from typer.testing import CliRunner

from inferstream.bench.ports import free_port
from inferstream.cli.main import _register_verbs, app

_register_verbs()
ROW = (np.arange(29, dtype=np.float32) / 10).reshape(1, 29)


@pytest.fixture
def row_file(tmp_path: Path) -> Path:
    path = tmp_path / "row.json"
    path.write_text(json.dumps(ROW.tolist()))
    return path


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_predict_prints_outputs_and_latency(
    builtin_server: RunningServer, row_file: Path, transport: str
) -> None:
    target = builtin_server.rest if transport == "rest" else builtin_server.grpc
    result = CliRunner().invoke(app, [
        "predict", target, "--protocol", "tfserving", "--transport", transport, "--model", "fraud",
        "--input", f"transaction=@{row_file}",
    ])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    outputs = json.loads(lines[0])
    np.testing.assert_allclose(np.asarray(outputs["predictions"]), 2 * ROW, atol=1e-4)
    assert "latency:" in result.stderr and " ms " in result.stderr


def test_predict_metadata_embedded(doubler_model: Path) -> None:
    args = ["predict", str(doubler_model / "1"), "--protocol", "embedded", "--metadata"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    meta = json.loads(result.stdout.strip().splitlines()[0])
    assert meta["inputs"] == [{"name": "transaction", "dtype": "float32", "shape": [None, 29]}]


def test_predict_errors_say_what_to_do() -> None:
    runner = CliRunner()
    down = runner.invoke(app, ["predict", f"127.0.0.1:{free_port()}", "--model", "fraud", "-i", "x=[[1.0]]"])
    assert down.exit_code == 1 and "unavailable" in down.stderr
    bad_json = runner.invoke(app, ["predict", "127.0.0.1:1", "--model", "fraud", "-i", "x=[[1.0"])
    assert bad_json.exit_code == 2 and "not a rectangular JSON array" in bad_json.output
    no_input = runner.invoke(app, ["predict", "127.0.0.1:1", "--model", "fraud"])
    assert no_input.exit_code == 2 and "--input" in no_input.output
    bad_protocol = runner.invoke(app, ["predict", "127.0.0.1:1", "--protocol", "tf", "-i", "x=[1]"])
    assert bad_protocol.exit_code == 2 and "protocol" in bad_protocol.stderr
