"""inferstream.models: loading each format, signatures from the model, typed input errors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from inferstream.models import ModelInputError, ModelLoadError, UnknownSignatureError, load_model


def test_onnx_model_signature_and_prediction(model_repo: Path, linear_reference: LinearRegression) -> None:
    model = load_model(model_repo / "linear" / "1")
    assert model.format == "onnx"
    (spec,) = model.inputs
    assert spec.name == "X" and spec.dtype == np.float32 and spec.shape == (None, 4)
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    (out,) = model.predict({"X": x}).values()
    np.testing.assert_allclose(out.reshape(-1), linear_reference.predict(x), rtol=1e-4)


def test_sklearn_model_has_named_outputs(model_repo: Path, linear_reference: LinearRegression) -> None:
    model = load_model(model_repo / "regressor" / "1" / "model.joblib")
    assert [s.name for s in model.inputs] == ["input"]
    x = np.ones((3, 4))
    np.testing.assert_allclose(model.predict({"input": x})["predictions"], linear_reference.predict(x))
    classifier = load_model(model_repo / "classifier" / "3")
    out = classifier.predict({"input": x})
    assert set(out) == {"predictions", "probabilities"} and out["probabilities"].shape == (3, 2)


@pytest.mark.parametrize("name", ["seed-fraud", "tf-autoencoder"])
def test_savedmodels_match_reference(model_repo: Path, name: str) -> None:
    model = load_model(model_repo / name / "1")
    assert model.format == "tensorflow" and model.default_signature == "serving_default"
    assert [(s.name, s.shape) for s in model.inputs] == [("transaction", (None, 29))]
    ref = np.load(Path(__file__).parent.parent / "assets" / "models" / name / "reference.npz")
    out = model.predict({"transaction": ref["transaction"]}, signature_name="")
    np.testing.assert_allclose(out["predictions"], ref["predictions"], atol=1e-5)


def test_input_errors_name_the_input_and_the_expectation(model_repo: Path) -> None:
    model = load_model(model_repo / "linear" / "1")
    cases = {
        "wrong name": {"Y": np.zeros((1, 4), np.float32)},
        "wrong shape": {"X": np.zeros((1, 5), np.float32)},
        "wrong rank": {"X": np.zeros(4, np.float32)},
        "wrong dtype": {"X": np.array([["a", "b", "c", "d"]])},
        "booleans": {"X": np.ones((1, 4), dtype=bool)},
        "complex": {"X": np.ones((1, 4), dtype=np.complex64)},
    }
    for case, inputs in cases.items():
        with pytest.raises(ModelInputError) as info:
            model.predict(inputs)
        assert info.value.input_name in ("X", "Y"), case
        assert "float32" in str(info.value), case
    with pytest.raises(UnknownSignatureError):
        model.predict({"X": np.zeros((1, 4), np.float32)}, signature_name="nope")
    # float64 and int inputs are cast, as TF Serving's JSON API does
    assert model.predict({"X": np.zeros((2, 4), np.int64)})["variable"].shape == (2, 1)


def test_unrecognised_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ModelLoadError, match=r"saved_model\.pb"):
        load_model(tmp_path)
    with pytest.raises(ModelLoadError, match="no such"):
        load_model(tmp_path / "missing")


def test_predict_is_thread_safe(model_repo: Path, linear_reference: LinearRegression) -> None:
    model = load_model(model_repo / "linear" / "2")
    rows = [np.full((1, 4), i, dtype=np.float32) for i in range(64)]
    with ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(lambda x: model.predict({"X": x})["variable"], rows))
    for x, out in zip(rows, outs, strict=True):
        np.testing.assert_allclose(out.reshape(-1), 2 * linear_reference.predict(x), rtol=1e-4)
