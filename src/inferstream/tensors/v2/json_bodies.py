"""V2 (Open Inference Protocol) JSON bodies to and from tensors.

``{"inputs": [{"name", "shape", "datatype", "data"}], ...}`` with ``data`` flat or nested
(``POST /v2/models/<name>/infer``); writers write ``data`` flat, as the protocol's examples do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from inferstream.tensors.conversions import (
    DEFAULT_MAX_TENSOR_BYTES,
    Array,
    array_from_json,
    array_to_json,
    cast_numbers,
    check_shape,
    itemsize,
    shaped,
)
from inferstream.tensors.tensor import DType, Tensor, TensorCodecError
from inferstream.tensors.v2.datatypes import (
    FROM_DATATYPE,
    InferBody,
    Parameters,
    Tensors,
    datatype_of,
    dtype_from_datatype,
    named_tensors,
    numpy_of_datatype,
)


def tensor_to_json(tensor: Tensor, name: str | None = None) -> dict[str, Any]:
    """One V2 JSON tensor; ``data`` is flat (row-major), as the protocol's examples write it."""
    label = tensor.name if name is None else name
    datatype = datatype_of(tensor, f"{label}.datatype")
    flat = Tensor(tensor.dtype, tensor.data.reshape(-1))
    return {
        "name": label,
        "shape": list(tensor.shape),
        "datatype": datatype,
        "data": array_to_json(f"{label}.data", flat, b64=False),
    }


def tensor_from_json(obj: Any, field: str = "tensor", max_bytes: int = DEFAULT_MAX_TENSOR_BYTES) -> Tensor:
    """The tensor of one V2 JSON tensor object; data may be flat or nested, its size must fit shape."""
    if not isinstance(obj, dict):
        raise TensorCodecError(field, f"expected an object, got {type(obj).__name__}")
    for key in ("name", "shape", "datatype", "data"):
        if key not in obj:
            raise TensorCodecError(f"{field}.{key}", "missing")
    name = obj["name"]
    if not isinstance(name, str):
        raise TensorCodecError(f"{field}.name", "must be a string")
    dtype = dtype_from_datatype(obj["datatype"], f"{field}.datatype")
    shape = _shape(obj["shape"], f"{field}.shape", dtype, max_bytes)
    values = array_from_json(f"{field}.data", obj["data"], dtype, max_bytes)
    return Tensor(dtype, shaped(f"{field}.data", values.data.reshape(-1), shape), name)


def array_from_json_tensor(
    obj: Any, field: str = "tensor", max_bytes: int = DEFAULT_MAX_TENSOR_BYTES
) -> tuple[str, Array]:
    """(name, array) of one V2 JSON tensor of any datatype numpy holds (UINT8, FP16... too)."""
    if not isinstance(obj, dict) or obj.get("datatype") in FROM_DATATYPE or "data" not in obj:
        tensor = tensor_from_json(obj, field, max_bytes)  # also reports what is missing
        return tensor.name, tensor.data
    datatype = obj["datatype"]
    dtype = numpy_of_datatype(datatype, f"{field}.datatype")
    name = obj.get("name")
    if not isinstance(name, str):
        raise TensorCodecError(f"{field}.name", "missing or not a string")
    shape = _shape(obj.get("shape"), f"{field}.shape", dtype.itemsize, max_bytes)
    values = array_from_json(f"{field}.data", obj["data"], None, max_bytes)
    flat = cast_numbers(f"{field}.data", values.data.reshape(-1), dtype, datatype)
    return name, shaped(f"{field}.data", flat, shape)


def _shape(value: Any, field: str, dtype: DType | int, max_bytes: int) -> tuple[int, ...]:
    """The checked shape; ``dtype`` is the element type or its size in bytes."""
    if not isinstance(value, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in value):
        raise TensorCodecError(field, "must be a list of integers")
    return check_shape(field, value, dtype if isinstance(dtype, int) else itemsize(dtype), max_bytes)


def _tensor_list(obj: Any, key: str, max_bytes: int) -> dict[str, Tensor]:
    items = obj.get(key)
    if not isinstance(items, list):
        raise TensorCodecError(key, "missing or not a list of tensors")
    tensors: dict[str, Tensor] = {}
    for i, item in enumerate(items):
        tensor = tensor_from_json(item, f"{key}[{i}]", max_bytes)
        if tensor.name in tensors:
            raise TensorCodecError(f"{key}[{i}].name", f"duplicate tensor name {tensor.name!r}")
        tensors[tensor.name] = tensor
    return tensors


def _json_parameters(obj: Any, field: str) -> dict[str, Any]:
    value = obj.get("parameters") or {}
    if not isinstance(value, dict):
        raise TensorCodecError(field, "must be an object")
    return value


def infer_request_json(
    inputs: Tensors,
    *,
    id: str | None = None,
    outputs: Sequence[str] = (),
    parameters: Parameters | None = None,
) -> dict[str, Any]:
    """A V2 inference request body (``POST /v2/models/<name>/infer``)."""
    body: dict[str, Any] = {"inputs": [tensor_to_json(t) for t in named_tensors(inputs)]}
    if id:
        body["id"] = id
    if parameters:
        body["parameters"] = dict(parameters)
    if outputs:
        body["outputs"] = [{"name": name} for name in outputs]
    return body


def parse_infer_request_json(body: Any, *, max_bytes: int = DEFAULT_MAX_TENSOR_BYTES) -> InferBody:
    if not isinstance(body, dict):
        raise TensorCodecError("body", f"expected a JSON object, got {type(body).__name__}")
    requested = body.get("outputs") or []
    if not isinstance(requested, list) or not all(isinstance(o, dict) and "name" in o for o in requested):
        raise TensorCodecError("outputs", "must be a list of {\"name\": ...} objects")
    return InferBody(
        tensors=_tensor_list(body, "inputs", max_bytes),
        id=str(body.get("id") or ""),
        parameters=_json_parameters(body, "parameters"),
        requested_outputs=tuple(str(o["name"]) for o in requested),
    )


def infer_response_json(
    model_name: str,
    outputs: Tensors,
    *,
    model_version: str | None = None,
    id: str | None = None,
    parameters: Parameters | None = None,
) -> dict[str, Any]:
    """A V2 inference response body."""
    body: dict[str, Any] = {"model_name": model_name}
    if model_version:
        body["model_version"] = model_version
    if id:
        body["id"] = id
    if parameters:
        body["parameters"] = dict(parameters)
    body["outputs"] = [tensor_to_json(t) for t in named_tensors(outputs)]
    return body


def parse_infer_response_json(body: Any, *, max_bytes: int = DEFAULT_MAX_TENSOR_BYTES) -> InferBody:
    """The outputs of a V2 response body; ``{"error": "..."}`` raises with field ``error``."""
    if not isinstance(body, dict):
        raise TensorCodecError("body", f"expected a JSON object, got {type(body).__name__}")
    if "error" in body:
        raise TensorCodecError("error", str(body["error"]))
    return InferBody(
        tensors=_tensor_list(body, "outputs", max_bytes),
        model_name=str(body.get("model_name") or ""),
        model_version=str(body.get("model_version") or ""),
        id=str(body.get("id") or ""),
        parameters=_json_parameters(body, "parameters"),
    )
