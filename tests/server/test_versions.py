"""Versions in ``serve``: policies, the model config file, labels, and hot swaps under load."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from pathlib import Path

import grpc
import numpy as np
import pytest
from skl2onnx import to_onnx
from sklearn.linear_model import LinearRegression

from inferstream.protos import (
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)
from inferstream.server.model_config import ModelConfigError, parse_model_config
from inferstream.server.versions import ModelSource, VersionPolicy
from inferstream.tensors.tensor import Tensor
from inferstream.tensors.tensorproto import tensor_from_proto, tensor_to_proto

from .conftest import HttpCall, ServerThread

OFFSET = 1000.0  # version v answers sum(x) + v * OFFSET: every answer names its version


def write_version(base: Path, version: int, *, n_features: int = 4) -> Path:
    """A version folder whose ONNX model answers sum(row) + version * OFFSET."""
    model = LinearRegression()
    model.coef_ = np.ones(n_features)
    model.intercept_ = version * OFFSET
    model.n_features_in_ = n_features
    folder = base / str(version)
    tmp = base / f".{version}.tmp"  # written aside, then renamed: a version appears whole
    tmp.mkdir(parents=True)
    onx = to_onnx(model, np.zeros((1, n_features), np.float32), target_opset=15)
    (tmp / "model.onnx").write_bytes(onx.SerializeToString())
    tmp.rename(folder)
    return folder


def test_version_policies_select_as_tf_serving() -> None:
    available = {1, 2, 5, 7}
    assert VersionPolicy.parse("latest").select(available) == {7}
    assert VersionPolicy.parse("latest:2").select(available) == {5, 7}
    assert VersionPolicy.parse("all").select(available) == available
    assert VersionPolicy.parse("specific:2,3").select(available) == {2}
    for bad in ("newest", "latest:x", "specific", "all:3"):
        with pytest.raises(ValueError, match="latest, latest:N, all or specific"):
            VersionPolicy.parse(bad)


def test_model_config_file_in_tf_serving_text_format() -> None:
    sources = parse_model_config(
        """
        model_config_list {
          config { name: "a" base_path: "s3://bucket/a" model_platform: "tensorflow" }
          config {
            name: "b" base_path: "/models/b"
            model_version_policy { specific { versions: 1 versions: 2 } }
            version_labels { key: "stable" value: 1 }
            version_labels { key: "canary" value: 2 }
          }
          config { name: "c" base_path: "/models/c" model_version_policy { latest { num_versions: 3 } } }
          config { name: "d" base_path: "/models/d" model_version_policy { all {} } }
        }
        """
    )
    assert sources == [
        ModelSource("a", "s3://bucket/a", VersionPolicy("latest", 1)),
        ModelSource("b", "/models/b", VersionPolicy("specific", versions=(1, 2)), {"stable": 1, "canary": 2}),
        ModelSource("c", "/models/c", VersionPolicy("latest", 3)),
        ModelSource("d", "/models/d", VersionPolicy("all")),
    ]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("model_config_list { config { name: 'a' } }", "needs a name and a base_path"),
        ("model_config_list { config { nme: 'a' } }", "no field named \"nme\""),
        ("model_config_list { }", "no model"),
        (
            "model_config_list { config { name: 'a' base_path: '/a' } config { name: 'a' base_path: '/b' } }",
            "configured twice",
        ),
        (
            "model_config_list { config { name: 'a' base_path: '/a' model_version_policy "
            "{ specific { versions: 1 } } version_labels { key: 'canary' value: 2 } } }",
            "labels .* name versions the policy does not serve",
        ),
    ],
)
def test_bad_model_config_is_a_clear_error(text: str, error: str) -> None:
    with pytest.raises(ModelConfigError, match=error):
        parse_model_config(text, "models.config")


def test_labels_on_rest_and_grpc_and_failed_version_status(tmp_path: Path, http: HttpCall) -> None:
    base = tmp_path / "m"
    for version in (1, 2):
        write_version(base, version)
    (base / "3").mkdir()
    (base / "3" / "model.onnx").write_bytes(b"broken")
    policy = VersionPolicy("specific", versions=(1, 2, 3))
    source = ModelSource("m", str(base), policy, {"stable": 1, "canary": 2})
    with ServerThread([source]) as srv:  # type: ignore[arg-type]
        x = {"instances": [[1.0, 2.0, 3.0, 4.0]]}
        for label, version in (("stable", 1), ("canary", 2)):
            status, body = http("POST", f"{srv.rest}/v1/models/m/labels/{label}:predict", x)
            assert status == 200 and body["predictions"][0][0] == pytest.approx(10 + version * OFFSET)
        status, body = http("POST", f"{srv.rest}/v1/models/m/labels/beta:predict", x)
        assert status == 404 and "no version label 'beta'" in body["error"]
        status, body = http("POST", f"{srv.rest}/v1/models/m:predict", x)  # no label: highest serving
        assert body["predictions"][0][0] == pytest.approx(10 + 2 * OFFSET)
        status, body = http("GET", f"{srv.rest}/v1/models/m/versions/3")
        (state,) = body["model_version_status"]
        assert state["state"] == "END" and "cannot load ONNX model" in state["status"]["error_message"]
        status, body = http("GET", f"{srv.rest}/v2/models/m/versions/3/ready")
        assert status == 404 and "cannot load ONNX model" in body["error"]

        with grpc.insecure_channel(srv.grpc) as channel:
            request = predict_pb2.PredictRequest()
            request.model_spec.name = "m"
            request.model_spec.version_label = "canary"
            tensor_to_proto(Tensor.from_numpy(np.ones((1, 4), np.float32)), into=request.inputs["X"])
            response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=30)
            assert response.model_spec.version.value == 2
            status_request = get_model_status_pb2.GetModelStatusRequest()
            status_request.model_spec.name = "m"
            model_service = model_service_pb2_grpc.ModelServiceStub(channel)
            states = model_service.GetModelStatus(status_request, timeout=30)
            by_version = {s.version: s for s in states.model_version_status}
            assert by_version[1].state == by_version[2].state == 30  # AVAILABLE
            assert by_version[3].state == 50 and "cannot load" in by_version[3].status.error_message


def test_incompatible_signature_is_refused_and_old_keeps_serving(tmp_path: Path, http: HttpCall) -> None:
    base = tmp_path / "m"
    write_version(base, 1)
    with ServerThread({"m": base}, grpc_port=None, poll_seconds=0.05) as srv:
        write_version(base, 2, n_features=5)  # another input shape: refused
        deadline = time.monotonic() + 30
        while True:
            listed = http("GET", f"{srv.rest}/v1/models/m")[1]["model_version_status"]
            states = {s["version"]: s for s in listed}
            if "2" in states and states["2"]["state"] == "END":
                break
            assert time.monotonic() < deadline, states
            time.sleep(0.05)
        assert "signature mismatch" in states["2"]["status"]["error_message"]
        status, body = http("POST", f"{srv.rest}/v1/models/m:predict", {"instances": [[1.0, 1.0, 1.0, 1.0]]})
        assert status == 200 and body["predictions"][0][0] == pytest.approx(4 + OFFSET)


async def _hammer(target: str, stop: threading.Event, answers: list[tuple[int, int]], workers: int) -> int:
    """Predict until ``stop``; record (version named in the response, version the values came from)."""
    failures = 0
    async with grpc.aio.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

        async def worker(seed: int) -> None:
            nonlocal failures
            rows = np.arange(8 * 4, dtype=np.float32).reshape(8, 4) + seed
            request = predict_pb2.PredictRequest()
            request.model_spec.name = "m"
            tensor_to_proto(Tensor.from_numpy(rows), into=request.inputs["X"])
            last = 0
            while not stop.is_set():
                try:
                    response = await stub.Predict(request, timeout=30)
                except grpc.aio.AioRpcError:
                    failures += 1
                    continue
                values = tensor_from_proto(response.outputs["variable"]).data.reshape(-1)
                offsets = np.round((values - rows.sum(axis=1)) / OFFSET).astype(int)
                named = int(response.model_spec.version.value)
                for offset in set(offsets.tolist()):
                    answers.append((named, offset))
                assert named >= last, "a worker saw the default version go backwards"
                last = named

        await asyncio.gather(*(worker(i) for i in range(workers)))
    return failures


@pytest.mark.slow
def test_hot_swap_under_load_loses_nothing_and_mixes_no_versions(tmp_path: Path) -> None:
    base = tmp_path / "m"
    write_version(base, 1)
    source = ModelSource("m", str(base), VersionPolicy("latest", 1))
    with ServerThread([source], poll_seconds=0.05) as srv:  # type: ignore[arg-type]
        stop = threading.Event()
        answers: list[tuple[int, int]] = []
        failures: list[int] = []
        client = threading.Thread(
            target=lambda: failures.append(asyncio.run(_hammer(srv.grpc, stop, answers, workers=16)))
        )
        started = time.monotonic()
        client.start()
        for version in range(2, 7):  # four swaps, and a broken version 4 that must not serve
            time.sleep(1.5)
            if version == 4:
                (base / ".4.tmp").mkdir()
                (base / ".4.tmp" / "model.onnx").write_bytes(b"broken")
                (base / ".4.tmp").rename(base / "4")
            else:
                write_version(base, version)
        time.sleep(1.5)
        stop.set()
        client.join(timeout=60)
        elapsed = time.monotonic() - started
    counts = Counter(named for named, _ in answers)
    print(f"{len(answers)} answers in {elapsed:.1f} s ({len(answers) / elapsed:.0f}/s), per version {counts}")
    assert failures == [0]
    assert all(named == offset for named, offset in answers), "an answer mixed two versions"
    assert len(answers) > 2000
    assert set(counts) >= {1, 6} and 4 not in counts and len(counts) >= 4, counts
    status = srv.server.dataplane.repository.states("m")  # type: ignore[union-attr]
    assert [s.state for s in status if s.version == 4] == ["END"]


def test_serve_from_s3_rolls_out_a_new_version(s3_env: object, tmp_path: Path, http: HttpCall) -> None:
    import secrets

    from inferstream.models.s3 import s3_client
    from inferstream.models.store import upload_folder

    bucket = f"serve-{secrets.token_hex(4)}"
    s3_client().create_bucket(Bucket=bucket)
    local = tmp_path / "staging"
    write_version(local, 1)
    upload_folder(local, f"s3://{bucket}/m")
    source = ModelSource("m", f"s3://{bucket}/m", VersionPolicy("latest", 1))
    with ServerThread([source], grpc_port=None, poll_seconds=0.2) as srv:  # type: ignore[arg-type]
        x = {"instances": [[1.0, 1.0, 1.0, 1.0]]}
        _, body = http("POST", f"{srv.rest}/v1/models/m:predict", x)
        assert body["predictions"][0][0] == pytest.approx(4 + OFFSET)
        write_version(local, 2)
        upload_folder(local / "2", f"s3://{bucket}/m/2")
        deadline = time.monotonic() + 60
        while True:
            listed = http("GET", f"{srv.rest}/v1/models/m")[1]["model_version_status"]
            if [(s["version"], s["state"]) for s in listed] == [("2", "AVAILABLE"), ("1", "END")]:
                break
            assert time.monotonic() < deadline, listed
            time.sleep(0.1)
        status, body = http("POST", f"{srv.rest}/v1/models/m:predict", x)
        assert status == 200 and body["predictions"][0][0] == pytest.approx(4 + 2 * OFFSET)
