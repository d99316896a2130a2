"""TF Serving's Classify, Regress and MultiInference over the DataPlane (gRPC, and REST's
``:classify`` / ``:regress`` with ``{"context": {...}, "examples": [{feature: value(s)}]}``).

Inputs are ``tf.Example``s: each model input is the feature of the same name (float or int64
values, one row per example). Outputs: *regress* takes the first float output with one value per row
(a score), or column 1 of a two-column output (a binary probability); *classify* takes the first
output with two or more values per row as the scores of classes ``"0"``, ``"1"``, … (a single
score in [0, 1] becomes the two classes ``"0"`` / ``"1"``). A model with no such output answers
INVALID_ARGUMENT saying so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from inferstream.server.dataplane import DataPlane, PredictResult
from inferstream.server.errors import invalid


def rows_of_examples(examples: list[dict[str, list[float]]], names: list[str]) -> dict[str, npt.NDArray[Any]]:
    """``{input: [rows, n]}`` from examples given as ``{feature: values}``."""
    if not examples:
        raise invalid("no examples given")
    inputs = {}
    for name in names:
        rows = []
        for i, example in enumerate(examples):
            if name not in example:
                has = sorted(example)
                raise invalid(f"example {i} lacks feature {name!r} (the model's input; it has {has})")
            rows.append(example[name])
        if len({len(r) for r in rows}) != 1:
            raise invalid(f"feature {name!r} has different lengths across examples")
        inputs[name] = np.asarray(rows)
    return inputs


def proto_examples(input_proto: Any) -> list[dict[str, list[float]]]:
    kind = input_proto.WhichOneof("kind")
    if kind is None:
        raise invalid("input has neither example_list nor example_list_with_context")
    listed = getattr(input_proto, kind)
    context = dict(listed.context.features.feature) if kind == "example_list_with_context" else {}
    out = []
    for example in listed.examples:
        features = {**context, **dict(example.features.feature)}
        out.append({name: _values(f) for name, f in features.items()})
    return out


def _values(feature: Any) -> list[float]:
    kind = feature.WhichOneof("kind")
    if kind == "float_list":
        return list(feature.float_list.value)
    if kind == "int64_list":
        return [float(v) for v in feature.int64_list.value]
    raise invalid(f"feature of kind {kind} is not numeric")


async def predict_examples(dataplane: DataPlane, name: str, version: int | None,
                           examples: list[dict[str, list[float]]], protocol: str) -> PredictResult:
    entry = dataplane.resolve(name, version)
    signature = dataplane.signature(entry)
    inputs = rows_of_examples(examples, [s.name for s in signature.inputs])
    typed = {s.name: inputs[s.name].astype(s.dtype) for s in signature.inputs}
    return await dataplane.predict(name, typed, version, protocol=protocol)


def scores(result: PredictResult) -> npt.NDArray[Any]:
    """One regression value per row."""
    for array in result.outputs.values():
        flat = array.reshape(array.shape[0], -1) if array.ndim else array.reshape(1, 1)
        if flat.shape[1] == 1 and array.dtype.kind == "f":
            return flat[:, 0].astype(np.float64)
    for array in result.outputs.values():
        flat = array.reshape(array.shape[0], -1)
        if flat.shape[1] == 2 and array.dtype.kind == "f":
            return flat[:, 1].astype(np.float64)
    raise invalid("the model has no regression output (one value per row, or a two-column probability)")


def class_scores(result: PredictResult) -> npt.NDArray[Any]:
    """Scores per row and class: [rows, classes]."""
    for array in result.outputs.values():
        flat = array.reshape(array.shape[0], -1)
        if flat.shape[1] >= 2 and array.dtype.kind == "f":
            return flat.astype(np.float64)
    for array in result.outputs.values():
        flat = array.reshape(array.shape[0], -1)
        if flat.shape[1] == 1 and array.dtype.kind == "f" and ((flat >= 0) & (flat <= 1)).all():
            return np.hstack([1 - flat, flat]).astype(np.float64)
    raise invalid("the model has no classification output (class scores or one probability per row)")


def rest_examples(body: Any) -> list[dict[str, list[float]]]:
    """TF Serving REST's ``{"context": {...}, "examples": [{feature: number or [numbers]}]}``."""
    if not isinstance(body, dict) or not isinstance(body.get("examples"), list):
        raise invalid('expected {"examples": [{feature: value, ...}, ...]}')
    context = body.get("context") or {}
    out = []
    for i, example in enumerate(body["examples"]):
        if not isinstance(example, dict) or not isinstance(context, dict):
            raise invalid(f"examples[{i}] must be an object of features")
        merged = {**context, **example}
        try:
            out.append({k: [float(v) for v in (val if isinstance(val, list) else [val])]
                        for k, val in merged.items()})
        except (TypeError, ValueError):
            raise invalid(f"examples[{i}]: feature values must be numbers") from None
    return out


def classify_json(result: PredictResult) -> dict[str, Any]:
    return {"results": [[[str(c), float(s)] for c, s in enumerate(row)] for row in class_scores(result)]}


def regress_json(result: PredictResult) -> dict[str, Any]:
    return {"results": [float(v) for v in scores(result)]}
