"""Export a trained :class:`FraudAutoencoder` as ONE ONNX graph that takes raw transactions.

Graph: ``transaction`` [?, 29] raw → Amount standardised by the converted, fitted scaler → the
converted MLP → outputs ``predictions`` [?, 29] (the reconstruction in raw units) and
``reconstruction_error`` [?, 1] (MSE in the model's feature space). Every constant comes from the
fitted estimators at export time, so the served model can never drift from the trained one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from inferstream.apps.fraud.data import N_FEATURES

# onnx, skl2onnx and scikit-learn (via the model) are imported where used: the fraud-decider
# streamlet imports this module for THRESHOLD_FILE/ThresholdInfo in every pipeline process.
if TYPE_CHECKING:
    import onnx

    from inferstream.apps.fraud.model import FraudAutoencoder

OPSET = 18
ML_OPSET = 3
INPUT = "transaction"
PREDICTIONS = "predictions"
ERROR_OUTPUT = "reconstruction_error"
THRESHOLD_FILE = "threshold.json"


@dataclass(frozen=True)
class ThresholdInfo:
    """The decision threshold saved beside a model: error ≥ threshold means fraud."""

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


def to_onnx(model: FraudAutoencoder, threshold: ThresholdInfo | None = None) -> onnx.ModelProto:
    """Compose the scaler and network conversions with the glue nodes into one checked model."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from inferstream.apps.fraud.model import AMOUNT_COLUMN

    scaler = onnx.compose.add_prefix(
        _convert(model.preprocess.named_transformers_["amount"], "amount", 1), "scaler/"
    )
    network = onnx.compose.add_prefix(
        _drop_output_reshape(_convert(model.network, "features", N_FEATURES)), "mlp/"
    )
    # Inverse of the Amount scaling, for predictions in raw units (identity for V1..V28).
    scale = np.ones(N_FEATURES, np.float32)
    scale[AMOUNT_COLUMN] = model.amount_scale
    offset = np.zeros(N_FEATURES, np.float32)
    offset[AMOUNT_COLUMN] = model.amount_mean
    constants = [
        numpy_helper.from_array(np.array([0], np.int64), "zero"),
        numpy_helper.from_array(np.array([1], np.int64), "one"),
        numpy_helper.from_array(np.array([AMOUNT_COLUMN], np.int64), "amount_index"),
        numpy_helper.from_array(np.array([N_FEATURES], np.int64), "n_features"),
        numpy_helper.from_array(scale, "amount_scale"),
        numpy_helper.from_array(offset, "amount_mean"),
    ]
    n = helper.make_node
    nodes = [
        n("Slice", [INPUT, "zero", "amount_index", "one"], ["components"]),
        n("Slice", [INPUT, "amount_index", "n_features", "one"], ["scaler/amount"]),
        *scaler.graph.node,
        n("Concat", ["components", "scaler/variable"], ["mlp/features"], axis=1),
        *network.graph.node,
        n("Sub", ["mlp/features", "mlp/variable"], ["difference"]),
        n("Mul", ["difference", "difference"], ["squared"]),
        n("ReduceMean", ["squared", "one"], [ERROR_OUTPUT], keepdims=1),
        n("Mul", ["mlp/variable", "amount_scale"], ["rescaled"]),
        n("Add", ["rescaled", "amount_mean"], [PREDICTIONS]),
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
    if threshold is not None:
        helper.set_model_props(result, {"threshold": repr(threshold.threshold), "error_output": ERROR_OUTPUT})
    onnx.checker.check_model(result, full_check=True)
    return result


def save(model: FraudAutoencoder, version_dir: Path, threshold: ThresholdInfo) -> Path:
    """Write ``model.onnx`` and ``threshold.json`` into a version folder; returns the model path."""
    import onnx

    path = version_dir / "model.onnx"
    onnx.save_model(to_onnx(model, threshold), path)
    (version_dir / THRESHOLD_FILE).write_text(threshold.to_json() + "\n")
    return path


def _convert(estimator: object, input_name: str, width: int) -> onnx.ModelProto:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    converted: onnx.ModelProto = convert_sklearn(
        estimator,
        initial_types=[(input_name, FloatTensorType([None, width]))],
        target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
    )
    return converted


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
