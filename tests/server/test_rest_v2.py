"""V2 (Open Inference Protocol) REST, health and metrics of the built-in server, over real HTTP."""

from __future__ import annotations

import urllib.request

import numpy as np

from .conftest import HttpCall, ServerThread


def test_v2_infer_matches_tensorflow(server: ServerThread, http: HttpCall, fraud_reference: dict) -> None:
    x, want = fraud_reference["transaction"], fraud_reference["predictions"]
    request = {
        "id": "req-1",
        "inputs": [
            {
                "name": "transaction",
                "shape": list(x.shape),
                "datatype": "FP32",
                "data": x.reshape(-1).tolist(),
            }
        ],
    }
    status, body = http("POST", f"{server.rest}/v2/models/fraud/versions/1/infer", request)
    assert status == 200, body
    assert body["model_name"] == "fraud" and body["model_version"] == "1" and body["id"] == "req-1"
    (out,) = body["outputs"]
    assert out["name"] == "predictions" and out["datatype"] == "FP32" and out["shape"] == [64, 29]
    np.testing.assert_allclose(np.asarray(out["data"], dtype=np.float32).reshape(64, 29), want, atol=1e-5)


def test_v2_output_filter_and_nested_data(server: ServerThread, http: HttpCall) -> None:
    request = {
        "inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP64", "data": [[0.0] * 4, [3.0] * 4]}],
        "outputs": [{"name": "probabilities"}],
    }
    status, body = http("POST", f"{server.rest}/v2/models/classifier/infer", request)
    assert status == 200, body
    assert [o["name"] for o in body["outputs"]] == ["probabilities"]
    assert body["outputs"][0]["shape"] == [2, 2]


def test_v2_metadata_and_health(server: ServerThread, http: HttpCall) -> None:
    status, body = http("GET", f"{server.rest}/v2/models/linear")
    assert status == 200
    assert body["versions"] == ["2", "1"] and body["platform"] == "onnxruntime_onnx"
    assert body["inputs"] == [{"name": "X", "datatype": "FP32", "shape": [-1, 4]}]
    assert http("GET", f"{server.rest}/v2/models/linear/versions/1/ready") == (
        200,
        {"name": "linear", "ready": True},
    )
    assert http("GET", f"{server.rest}/v2/models/linear/versions/7/ready")[0] == 404
    assert http("GET", f"{server.rest}/v2/health/live") == (200, {"live": True})
    assert http("GET", f"{server.rest}/v2/health/ready") == (200, {"ready": True})
    assert http("GET", f"{server.rest}/v2")[1]["name"] == "inferstream"


def test_prometheus_metrics_count_requests(server: ServerThread, http: HttpCall) -> None:
    http("POST", f"{server.rest}/v1/models/linear:predict", {"instances": [[1.0, 2.0, 3.0, 4.0]]})
    with urllib.request.urlopen(f"{server.rest}/metrics", timeout=30) as response:
        text = response.read().decode()
    assert 'inferstream_server_requests_total{model="linear",outcome="ok",protocol="tfserving-rest"}' in text
    assert "inferstream_server_batch_rows_bucket" in text
    with urllib.request.urlopen(f"{server.rest}/monitoring/prometheus/metrics", timeout=30) as response:
        assert b"inferstream_server_requests_total" in response.read()
    assert http("GET", f"{server.rest}/healthz") == (200, {"ready": True})
