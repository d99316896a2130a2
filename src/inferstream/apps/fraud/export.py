"""Export a trained fraud model as ONE ONNX graph that takes raw transactions, and write a model
version folder atomically.

Classifiers (``gbt``, ``logreg``): ``transaction`` [?, 29] → the converted estimator (any scaling
included), switched to output its margin (log-odds) → Platt calibration as graph nodes →
``score`` [?, 1], a probability of fraud, and ``log_odds`` [?, 1] (its logit).
Autoencoder: ``transaction`` → the converted scaler → the converted MLP → ``reconstruction_error``
[?, 1] (MSE in the scaled space) and ``predictions`` [?, 29] (the reconstruction in raw units).
Every constant comes from the fitted estimators at export time, and :func:`check_parity` compares
the graph with the in-memory model before anything is written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from inferstream.apps.common.model_folders import versions
from inferstream.apps.fraud.data import N_FEATURES

# onnx, skl2onnx and scikit-learn are imported where used: the fraud-decider streamlet imports
# this module for THRESHOLD_FILE/ThresholdInfo in every pipeline process.
if TYPE_CHECKING:
    import onnx

    from inferstream.apps.fraud.autoencoder import FraudAutoencoder
    from inferstream.apps.fraud.classifiers import FraudClassifier

OPSET = 18
ML_OPSET = 3
INPUT = "transaction"
PREDICTIONS = "predictions"
ERROR_OUTPUT = "reconstruction_error"
SCORE_OUTPUT = "score"
# A second output keeps every protocol's answer *named*: TF Serving REST returns a model's only
# output unnamed (as "predictions"), which the decider would then read as a reconstruction.
LOG_ODDS_OUTPUT = "log_odds"
THRESHOLD_FILE = "threshold.json"
MARGIN_OPS = ("TreeEnsembleClassifier", "LinearClassifier")
PARITY_TOLERANCE = 1e-5  # relative to max(1, |score|): float32 graph against float64 scikit-learn


class ExportError(RuntimeError):
    """The ONNX graph does not reproduce the in-memory model."""


@dataclass(frozen=True)
class ThresholdInfo:
    """The decision threshold saved beside a model: ``error_output`` ≥ threshold means fraud."""

    threshold: float
    error_output: str | None
    chosen_by: str

    def to_json(self) -> str:
        return json.dumps(
            {"threshold": self.threshold, "error_output": self.error_output, "chosen_by": self.chosen_by},
            indent=2,
        )

    @classmethod
    def read(cls, version_dir: Path) -> ThresholdInfo:
        """Read ``threshold.json`` from a model version folder."""
        path = version_dir / THRESHOLD_FILE
        try:
            raw: dict[str, Any] = json.loads(path.read_text())
            return cls(float(raw["threshold"]), raw.get("error_output"), str(raw.get("chosen_by", "")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"{path}: cannot read the threshold ({exc}); train with `inferstream train fraud`"
            ) from exc


def to_onnx(model: FraudClassifier | FraudAutoencoder) -> onnx.ModelProto:
    from inferstream.apps.fraud.autoencoder import FraudAutoencoder

    return _autoencoder_onnx(model) if isinstance(model, FraudAutoencoder) else _classifier_onnx(model)


def output_name(model: FraudClassifier | FraudAutoencoder) -> str:
    from inferstream.apps.fraud.autoencoder import FraudAutoencoder

    return ERROR_OUTPUT if isinstance(model, FraudAutoencoder) else SCORE_OUTPUT


def onnx_scores(
    graph: onnx.ModelProto, rows: npt.NDArray[np.floating], output: str
) -> npt.NDArray[np.float64]:
    import onnxruntime

    session = onnxruntime.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    (result,) = session.run([output], {INPUT: np.asarray(rows, dtype=np.float32)})
    return np.asarray(result, dtype=np.float64).reshape(-1)


def check_parity(
    model: FraudClassifier | FraudAutoencoder, graph: onnx.ModelProto, rows: npt.NDArray[np.floating]
) -> float:
    """The largest relative gap between the graph's and the model's scores; raises above tolerance."""
    expected = model.scores(rows)
    got = onnx_scores(graph, rows, output_name(model))
    gap = float(np.max(np.abs(got - expected) / np.maximum(1.0, np.abs(expected)))) if rows.size else 0.0
    if not gap <= PARITY_TOLERANCE:
        raise ExportError(
            f"the ONNX graph differs from the trained model by {gap:.3g} (> {PARITY_TOLERANCE})"
        )
    return gap


def write_version(model_dir: Path, fill: Callable[[Path], None]) -> Path:
    """Fill a hidden staging folder, then rename it to the next free version: a version appears
    whole or not at all, and an existing version is never touched."""
    model_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".incomplete-", dir=model_dir))
    try:
        fill(staging)
        staging.chmod(0o755)
        while True:
            existing = versions(model_dir)
            target = model_dir / str((existing[-1] if existing else 0) + 1)
            if target.exists():  # made meanwhile (e.g. a non-numeric-sorting leftover): try the next
                continue
            try:
                os.rename(staging, target)
            except OSError:
                if target.exists():
                    continue
                raise
            return target
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def save_model(graph: onnx.ModelProto, folder: Path, threshold: ThresholdInfo) -> Path:
    """Write ``model.onnx`` (threshold in its metadata) and ``threshold.json`` into ``folder``."""
    import onnx
    from onnx import helper

    helper.set_model_props(
        graph, {"threshold": repr(threshold.threshold), "error_output": threshold.error_output or ""}
    )
    path = folder / "model.onnx"
    onnx.save_model(graph, path)
    (folder / THRESHOLD_FILE).write_text(threshold.to_json() + "\n")
    return path


def _classifier_onnx(model: FraudClassifier) -> onnx.ModelProto:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    converted = _convert(model.estimator, INPUT, N_FEATURES, {"zipmap": False})
    heads = [n for n in converted.graph.node if n.op_type in MARGIN_OPS]
    if len(heads) != 1:
        raise ExportError(f"expected one classifier node in the converted {model.kind}, found {len(heads)}")
    for attribute in heads[0].attribute:
        if attribute.name == "post_transform":
            attribute.s = b"NONE"  # column 1 becomes the margin, exactly decision_function
    probabilities = next(o.name for o in converted.graph.output if o.name != "label")
    constants = [
        numpy_helper.from_array(np.array([1], np.int64), "calib/one_i"),
        numpy_helper.from_array(np.array([2], np.int64), "calib/two_i"),
        numpy_helper.from_array(np.array(model.calibration.slope, np.float32), "calib/slope"),
        numpy_helper.from_array(np.array(model.calibration.intercept, np.float32), "calib/intercept"),
    ]
    n = helper.make_node
    nodes = [
        n("Slice", [probabilities, "calib/one_i", "calib/two_i", "calib/one_i"], ["calib/margin"]),
        n("Mul", ["calib/margin", "calib/slope"], ["calib/scaled"]),
        n("Add", ["calib/scaled", "calib/intercept"], [LOG_ODDS_OUTPUT]),
        n("Sigmoid", [LOG_ODDS_OUTPUT], [SCORE_OUTPUT]),
    ]
    graph = converted.graph
    graph.node.extend(nodes)
    graph.initializer.extend(constants)
    del graph.output[:]
    graph.output.extend(
        helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, 1])
        for name in (SCORE_OUTPUT, LOG_ODDS_OUTPUT)
    )
    converted.producer_name = "inferstream"
    converted.doc_string = (
        f"Fraud {model.kind}: raw transaction [?, 29] → score [?, 1] (calibrated probability)"
    )
    onnx.checker.check_model(converted, full_check=True)
    return converted


def _autoencoder_onnx(model: FraudAutoencoder) -> onnx.ModelProto:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    scaler = onnx.compose.add_prefix(_convert(model.scaler, "raw", N_FEATURES), "scaler/")
    network = onnx.compose.add_prefix(
        _drop_output_reshape(_convert(model.network, "features", N_FEATURES)), "mlp/"
    )
    constants = [
        numpy_helper.from_array(np.array([1], np.int64), "one"),
        numpy_helper.from_array(np.asarray(model.scaler.scale_, np.float32), "feature_scale"),
        numpy_helper.from_array(np.asarray(model.scaler.mean_, np.float32), "feature_mean"),
    ]
    n = helper.make_node
    nodes = [
        n("Identity", [INPUT], ["scaler/raw"]),
        *scaler.graph.node,
        n("Identity", ["scaler/variable"], ["mlp/features"]),
        *network.graph.node,
        n("Sub", ["mlp/features", "mlp/variable"], ["difference"]),
        n("Mul", ["difference", "difference"], ["squared"]),
        n("ReduceMean", ["squared", "one"], [ERROR_OUTPUT], keepdims=1),
        n("Mul", ["mlp/variable", "feature_scale"], ["rescaled"]),
        n("Add", ["rescaled", "feature_mean"], [PREDICTIONS]),
    ]
    graph = helper.make_graph(
        nodes,
        "fraud_autoencoder",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [None, N_FEATURES])],
        [
            helper.make_tensor_value_info(PREDICTIONS, TensorProto.FLOAT, [None, N_FEATURES]),
            helper.make_tensor_value_info(ERROR_OUTPUT, TensorProto.FLOAT, [None, 1]),
        ],
        initializer=[*constants, *scaler.graph.initializer, *network.graph.initializer],
    )
    result = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)],
        producer_name="inferstream",
        doc_string="Fraud autoencoder: raw transaction [?, 29] → predictions [?, 29], "
        "reconstruction_error [?, 1]",
    )
    result.ir_version = network.ir_version
    onnx.checker.check_model(result, full_check=True)
    return result


def _convert(
    estimator: object, input_name: str, width: int, options: dict[str, Any] | None = None
) -> onnx.ModelProto:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    converted: onnx.ModelProto = convert_sklearn(
        estimator,
        initial_types=[(input_name, FloatTensorType([None, width]))],
        target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
        options={id(_final_step(estimator)): options} if options else None,
    )
    return converted


def _final_step(estimator: object) -> object:
    steps = getattr(estimator, "steps", None)  # a Pipeline: options belong to its classifier
    return steps[-1][1] if steps else estimator


def _drop_output_reshape(model: onnx.ModelProto) -> onnx.ModelProto:
    # skl2onnx's MLPRegressor converter ends with Reshape(-1, 1), which is only right for one output;
    # our network has 29, so we drop that node and let the last Add produce the output directly.
    graph = model.graph
    output = graph.output[0].name
    last = graph.node[-1]
    if last.op_type != "Reshape" or last.output[0] != output:
        return model
    for node in graph.node:
        for i, name in enumerate(node.output):
            if name == last.input[0]:
                node.output[i] = output
    graph.node.remove(last)
    unused = [t for t in graph.initializer if t.name == last.input[1]]
    for tensor in unused:
        graph.initializer.remove(tensor)
    return model
