"""TF Serving REST API of the built-in server, over real HTTP on loopback."""

from __future__ import annotations

import shutil
import time
import urllib.request
from pathlib import Path

import numpy as np
from sklearn.linear_model import LinearRegression

from .conftest import HttpCall, ServerThread

README_ROW = [
    -1.3598071336738,
    -0.0727811733098497,
    2.53634673796914,
    1.37815522427443,
    -0.338320769942518,
    0.462387777762292,
    0.239598554061257,
    0.0986979012610507,
    0.363786969611213,
    0.0907941719789316,
    -0.551599533260813,
    -0.617800855762348,
    -0.991389847235408,
    -0.311169353699879,
    1.46817697209427,
    -0.470400525259478,
    0.207971241929242,
    0.0257905801985591,
    0.403992960255733,
    0.251412098239705,
    -0.018306777944153,
    0.277837575558899,
    -0.110473910188767,
    0.0669280749146731,
    0.128539358273528,
    -0.189114843888824,
    0.133558376740387,
    -0.0210530534538215,
    149.62,
]


def test_columnar_predict_matches_tensorflow(
    server: ServerThread, http: HttpCall, fraud_reference: dict
) -> None:
    x, want = fraud_reference["transaction"], fraud_reference["predictions"]
    status, body = http(
        "POST",
        f"{server.rest}/v1/models/fraud/versions/1:predict",
        {"signature_name": "", "inputs": {"transaction": x.tolist()}},
    )
    assert status == 200, body
    np.testing.assert_allclose(np.asarray(body["outputs"], dtype=np.float32), want, atol=1e-5)


def test_row_format_and_tf2_model(server: ServerThread, http: HttpCall, autoencoder_reference: dict) -> None:
    x, want = autoencoder_reference["transaction"], autoencoder_reference["predictions"]
    status, body = http("POST", f"{server.rest}/v1/models/tf-autoencoder:predict", {"instances": x.tolist()})
    assert status == 200, body
    np.testing.assert_allclose(np.asarray(body["predictions"], dtype=np.float32), want, atol=1e-5)
    named = [{"transaction": row} for row in x[:3].tolist()]
    status, body = http("POST", f"{server.rest}/v1/models/tf-autoencoder:predict", {"instances": named})
    assert status == 200 and len(body["predictions"]) == 3


def test_highest_version_by_default(
    server: ServerThread, http: HttpCall, linear_reference: LinearRegression
) -> None:
    x = [[1.0, 2.0, 3.0, 4.0]]
    expected = float(linear_reference.predict(np.asarray(x))[0])
    _, latest = http("POST", f"{server.rest}/v1/models/linear:predict", {"instances": x})
    _, first = http("POST", f"{server.rest}/v1/models/linear/versions/1:predict", {"instances": x})
    np.testing.assert_allclose(first["predictions"][0], [expected], rtol=1e-4)
    np.testing.assert_allclose(latest["predictions"][0], [2 * expected], rtol=1e-4)


def test_seldon_ambassador_path_of_the_original_readme(server: ServerThread, http: HttpCall) -> None:
    # the original README's Seldon command: .../seldon/<namespace>/<deployment>/v1/models/<m>/:predict
    url = f"{server.rest}/seldon/seldon/rest-tfserving/v1/models/linear/:predict"
    status, body = http("POST", url, {"signature_name": "", "inputs": {"X": [[1.0, 2.0, 3.0, 4.0]]}})
    assert status == 200 and np.asarray(body["outputs"]).shape == (1, 1)


def test_sklearn_model_with_two_outputs(server: ServerThread, http: HttpCall) -> None:
    status, body = http(
        "POST", f"{server.rest}/v1/models/classifier:predict", {"inputs": [[0.0] * 4, [3.0] * 4]}
    )
    assert status == 200, body
    assert set(body["outputs"]) == {"predictions", "probabilities"}
    assert np.asarray(body["outputs"]["probabilities"]).shape == (2, 2)
    status, body = http("POST", f"{server.rest}/v1/models/classifier:predict", {"instances": [[0.0] * 4]})
    assert status == 200 and set(body["predictions"][0]) == {"predictions", "probabilities"}


def test_status_and_metadata(server: ServerThread, http: HttpCall) -> None:
    status, body = http("GET", f"{server.rest}/v1/models/fraud/versions/1")
    assert status == 200
    assert body == {
        "model_version_status": [
            {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        ]
    }
    _, body = http("GET", f"{server.rest}/v1/models/linear")
    assert [v["version"] for v in body["model_version_status"]] == ["2", "1"]
    status, body = http("GET", f"{server.rest}/v1/models/fraud/versions/1/metadata")
    assert status == 200
    assert body["model_spec"] == {"name": "fraud", "signature_name": "", "version": "1"}
    sig = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["inputs"]["transaction"]["dtype"] == "DT_FLOAT"
    assert sig["inputs"]["transaction"]["tensor_shape"]["dim"] == [
        {"size": "-1", "name": ""},
        {"size": "29", "name": ""},
    ]
    assert sig["outputs"]["predictions"]["dtype"] == "DT_FLOAT"
    assert sig["method_name"] == "tensorflow/serving/predict"


def test_nan_travels_both_ways_as_tf_serving_writes_it(server: ServerThread) -> None:
    request = urllib.request.Request(
        f"{server.rest}/v1/models/linear:predict",
        data=b'{"instances": [[NaN, 1.0, 2.0, 3.0]]}',
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        text = response.read().decode()
    assert response.status == 200 and text.replace(" ", "") == '{"predictions":[[NaN]]}'


def test_new_version_folder_is_served_when_polling(model_repo: Path, tmp_path: Path, http: HttpCall) -> None:
    base = tmp_path / "linear"
    shutil.copytree(model_repo / "linear" / "1", base / "1")
    with ServerThread({"linear": base}, grpc_port=None, poll_seconds=0.1) as srv:
        x = {"instances": [[1.0, 2.0, 3.0, 4.0]]}
        _, first = http("POST", f"{srv.rest}/v1/models/linear:predict", x)
        (base / "3").mkdir()
        (base / "3" / "broken.onnx").write_bytes(b"not yet a model")  # a version still being written
        shutil.copytree(model_repo / "linear" / "2", base / "2")
        deadline = time.monotonic() + 30
        while True:
            listed = http("GET", f"{srv.rest}/v1/models/linear")[1]["model_version_status"]
            states = {s["version"]: s for s in listed}
            if states.get("2", {}).get("state") == "AVAILABLE" and states.get("3", {}).get("state") == "END":
                break
            assert time.monotonic() < deadline, f"version 2 not picked up: {states}"
            time.sleep(0.1)
        # The broken version is reported (TF Serving's END state with the reason), not served.
        assert states["3"]["state"] == "END" and "broken.onnx" in states["3"]["status"]["error_message"]
        _, latest = http("POST", f"{srv.rest}/v1/models/linear:predict", x)
        np.testing.assert_allclose(latest["predictions"], 2 * np.asarray(first["predictions"]), rtol=1e-4)
