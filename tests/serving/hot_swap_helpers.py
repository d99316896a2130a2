"""Shared by the hot-swap tests: scaled doubler models, the blueprint, and reading results back."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from inferstream.runtime.codecs import AvroCodec
from inferstream.schemas import SERVING_RESULT

REPO = Path(__file__).resolve().parents[2]

BLUEPRINT = """
name: {app}
streamlets:
  card-ingress:
    class: inferstream.apps.fraud.ingress:CardIngress
    config: {{data: {data}, rate: {rate}, max-records: {records}, batch-size: 50, loop: true}}
  model-serving:
    class: inferstream.serving:HotSwapServing
    config: {{protocol: embedded, model-path: {model}, model: scaler, max-batch-size: 64}}
topics:
  {app}-requests: {{producers: [card-ingress.out], consumers: [model-serving.in]}}
  {app}-updates: {{producers: [], consumers: [model-serving.updates], partitions: 1}}
  {app}-results: {{producers: [model-serving.out], consumers: [], partitions: 1}}
  {app}-update-errors: {{producers: [model-serving.errors], consumers: [], partitions: 1}}
"""


def scaler_model(folder: Path, factor: float, features: int = 29) -> Path:
    """``folder/model.onnx``: input ``transaction`` [?, features] -> ``predictions`` = factor * x."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LinearRegression

    x = np.random.default_rng(0).normal(size=(200, features)).astype(np.float32)
    model = LinearRegression().fit(x, factor * x)
    onnx_model = to_onnx(model, initial_types=[("transaction", FloatTensorType([None, features]))],
                         final_types=[("predictions", FloatTensorType([None, features]))], target_opset=17)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(onnx_model.SerializeToString())
    return folder


def zipped(folder: Path) -> bytes:
    """A model folder as zip bytes (the descriptor's ``modelcontent``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def check_results(payloads: list[bytes], factors: dict[str, float]) -> list[str]:
    """Each result's model label, in topic order, after checking the label's model really scored it."""
    records, failures = AvroCodec(SERVING_RESULT).decode(payloads)
    assert not failures
    labels = []
    for record in records:
        meta: dict[str, Any] = record["modelResultMetadata"]
        assert meta["errors"] == "", meta
        label = meta["modelName"]
        x = np.asarray(record["inputRecord"]["inputs"]["transaction"]["float_data"])
        y = np.asarray(record["modelResult"]["outputs"]["predictions"]["float_data"])
        np.testing.assert_allclose(y, factors[label] * x, rtol=1e-2, atol=0.05)
        labels.append(label)
    return labels


def never_backwards(labels: list[str]) -> None:
    versions = [int(label.rpartition(":")[2]) for label in labels]
    assert versions == sorted(versions), "a result scored by an older model after a newer one"
