"""TF Serving Classify / Regress / MultiInference on serve, with a logistic regression (label +
two-column probabilities) and the doubler (no score output). About 20 s, mostly two servers' start."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from inferstream.protos import (
    classification_pb2,
    inference_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from .conftest import RunningServer, start_builtin

X = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def scorer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, np.ndarray]]:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)).astype(np.float32)
    model = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    onnx = to_onnx(model, X[:1], options={id(model): {"zipmap": False}}, target_opset=17)
    onnx.graph.input[0].name = "features"
    for node in onnx.graph.node:
        node.input[:] = ["features" if i == "X" else i for i in node.input]
    base: Path = tmp_path_factory.mktemp("scorer")
    (base / "1").mkdir()
    (base / "1" / "model.onnx").write_bytes(onnx.SerializeToString())
    server = start_builtin(tmp_path_factory.mktemp("scorer-serve"), base, name="scorer", grpc=True)
    try:
        yield server, model.predict_proba(X)
    finally:
        server.process.stop()


def _input(target: object) -> None:
    for row in X:
        example = target.example_list.examples.add()  # type: ignore[attr-defined]
        example.features.feature["features"].float_list.value.extend(row.tolist())


def test_regress_gives_the_probability_of_class_1(scorer: tuple[RunningServer, np.ndarray]) -> None:
    server, proba = scorer
    with grpc.insecure_channel(server.grpc) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = regression_pb2.RegressionRequest()
        request.model_spec.name = "scorer"
        _input(request.input)
        answer = stub.Regress(request, timeout=10)
    values = [r.value for r in answer.result.regressions]
    np.testing.assert_allclose(values, proba[:, 1], rtol=1e-4, atol=1e-5)
    assert answer.model_spec.version.value == 1


def test_classify_gives_classes_and_scores(scorer: tuple[RunningServer, np.ndarray]) -> None:
    server, proba = scorer
    with grpc.insecure_channel(server.grpc) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = classification_pb2.ClassificationRequest()
        request.model_spec.name = "scorer"
        _input(request.input)
        answer = stub.Classify(request, timeout=10)
    got = [[(c.label, c.score) for c in row.classes] for row in answer.result.classifications]
    assert [[label for label, _ in row] for row in got] == [["0", "1"]] * len(X)
    np.testing.assert_allclose([[s for _, s in row] for row in got], proba, rtol=1e-4, atol=1e-5)


def test_multi_inference_runs_both_tasks(scorer: tuple[RunningServer, np.ndarray]) -> None:
    server, proba = scorer
    with grpc.insecure_channel(server.grpc) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = inference_pb2.MultiInferenceRequest()
        for method in ("tensorflow/serving/classify", "tensorflow/serving/regress"):
            task = request.tasks.add(method_name=method)
            task.model_spec.name = "scorer"
        _input(request.input)
        answer = stub.MultiInference(request, timeout=10)
    first, second = answer.results
    assert len(first.classification_result.classifications) == len(X)
    np.testing.assert_allclose([r.value for r in second.regression_result.regressions], proba[:, 1],
                               rtol=1e-4, atol=1e-5)


def test_missing_feature_and_no_score_output_are_invalid(
    scorer: tuple[RunningServer, np.ndarray], builtin_server: RunningServer
) -> None:
    server, _ = scorer
    with grpc.insecure_channel(server.grpc) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = regression_pb2.RegressionRequest()
        request.model_spec.name = "scorer"
        request.input.example_list.examples.add().features.feature["other"].float_list.value.append(1.0)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Regress(request, timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "lacks feature 'features'" in (caught.value.details() or "")
    with grpc.insecure_channel(builtin_server.grpc) as channel:  # the doubler: 29 values per row
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = regression_pb2.RegressionRequest()
        request.model_spec.name = "fraud"
        example = request.input.example_list.examples.add()
        example.features.feature["transaction"].float_list.value.extend([0.5] * 29)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Regress(request, timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "no regression output" in (caught.value.details() or "")


def _post(server: RunningServer, verb: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"{server.rest}/v1/models/scorer:{verb}", data=json.dumps(body).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_rest_classify_and_regress(scorer: tuple[RunningServer, np.ndarray]) -> None:
    server, proba = scorer
    examples = [{"features": row.tolist()} for row in X]
    status, answer = _post(server, "regress", {"examples": examples})
    assert status == 200
    np.testing.assert_allclose(answer["results"], proba[:, 1], rtol=1e-4, atol=1e-5)  # type: ignore[arg-type]
    status, answer = _post(server, "classify", {"examples": examples})
    assert status == 200
    results = answer["results"]
    assert [[c[0] for c in row] for row in results] == [["0", "1"]] * len(X)  # type: ignore[union-attr]
    np.testing.assert_allclose([[c[1] for c in row] for row in results], proba,  # type: ignore[union-attr]
                               rtol=1e-4, atol=1e-5)
    status, answer = _post(server, "regress", {"examples": [{"features": ["a", "b", "c"]}]})
    assert status == 400 and "numbers" in str(answer["error"])
