"""Open Inference Protocol (V2: MLServer, KServe, Triton) requests and responses to and from tensors.

JSON: ``{"inputs": [{"name", "shape", "datatype", "data"}], ...}`` with ``data`` flat or nested.
gRPC: ``inference.ModelInferRequest`` / ``ModelInferResponse`` with tensors in the typed
``contents`` or in ``raw_input_contents`` / ``raw_output_contents`` (little-endian; BYTES as a
4-byte little-endian length before each element). Readers accept both; writers use raw bytes by
default (``raw=False`` for typed contents).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from inferstream.protos import v2_pb2
from inferstream.tensors.conversions import (
    DEFAULT_MAX_TENSOR_BYTES,
    Array,
    array_from_json,
    array_to_json,
    cast_numbers,
    check_shape,
    check_string_bytes,
    itemsize,
    numbers_from_bytes,
    numbers_to_bytes,
    object_array,
    shaped,
)
from inferstream.tensors.numpy_codec import as_tensor, tensor_from_numpy
from inferstream.tensors.packed import Wire, read_packed, write_packed
from inferstream.tensors.tensor import DType, Tensor, TensorCodecError

DATATYPE: dict[DType, str] = {
    DType.DT_BOOL: "BOOL",
    DType.DT_INT32: "INT32",
    DType.DT_INT64: "INT64",
    DType.DT_FLOAT: "FP32",
    DType.DT_DOUBLE: "FP64",
    DType.DT_STRING: "BYTES",
}
_FROM_DATATYPE = {name: dtype for dtype, name in DATATYPE.items()}
# Every V2 datatype numpy can hold (BF16 it cannot): the array-level readers and writers below
# take these too, for clients and servers whose models use types a Tensor does not have.
NUMPY_OF_DATATYPE: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_), "UINT8": np.dtype(np.uint8), "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32), "UINT64": np.dtype(np.uint64), "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16), "INT32": np.dtype(np.int32), "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16), "FP32": np.dtype(np.float32), "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}  # fmt: skip
_DATATYPE_OF_NUMPY = {dtype: name for name, dtype in NUMPY_OF_DATATYPE.items()}
_KNOWN = (*NUMPY_OF_DATATYPE, "BF16")
# Typed ``contents`` fields of the datatypes no tensor type holds (FP16 travels raw only).
_OTHER_CONTENTS_FIELD = {
    "INT8": "int_contents", "INT16": "int_contents", "UINT8": "uint_contents",
    "UINT16": "uint_contents", "UINT32": "uint_contents", "UINT64": "uint64_contents",
}  # fmt: skip
CONTENTS_FIELD: dict[DType, str] = {
    DType.DT_BOOL: "bool_contents",
    DType.DT_INT32: "int_contents",
    DType.DT_INT64: "int64_contents",
    DType.DT_FLOAT: "fp32_contents",
    DType.DT_DOUBLE: "fp64_contents",
    DType.DT_STRING: "bytes_contents",
}

_WIRE: dict[DType, Wire] = {
    DType.DT_BOOL: "bool",
    DType.DT_INT32: "int32",
    DType.DT_INT64: "int64",
    DType.DT_FLOAT: "<f4",
    DType.DT_DOUBLE: "<f8",
}

Tensors = Mapping[str, Tensor | npt.ArrayLike]
Parameters = Mapping[str, bool | int | float | str]


@dataclass(frozen=True)
class InferBody:
    """A parsed request or response: tensors by name, in order, and what travels with them."""

    tensors: dict[str, Tensor]
    model_name: str = ""
    model_version: str = ""
    id: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    requested_outputs: tuple[str, ...] = ()


def dtype_from_datatype(datatype: Any, field: str = "datatype") -> DType:
    """The tensor type of a V2 datatype name; unknown or unsupported names are an error."""
    dtype = _FROM_DATATYPE.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        what = "is not supported" if datatype in _KNOWN else "is not a V2 datatype"
        raise TensorCodecError(field, f"{datatype!r} {what} (supported: {', '.join(_FROM_DATATYPE)})")
    return dtype


def datatype_of(tensor: Tensor, field: str = "datatype") -> str:
    try:
        return DATATYPE[tensor.dtype]
    except KeyError:
        raise TensorCodecError(field, f"V2 has no datatype for {tensor.dtype.value}") from None


def datatype_of_numpy(dtype: np.dtype[Any]) -> str | None:
    """The V2 datatype of a numpy dtype (strings and objects are BYTES); None when V2 has none."""
    return "BYTES" if dtype.kind in "USO" else _DATATYPE_OF_NUMPY.get(dtype)


def numpy_of_datatype(datatype: Any, field: str = "datatype") -> np.dtype[Any]:
    """The numpy dtype of any V2 datatype numpy holds; unknown names (and BF16) are an error."""
    dtype = NUMPY_OF_DATATYPE.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        what = "is not supported" if datatype in _KNOWN else "is not a V2 datatype"
        raise TensorCodecError(field, f"{datatype!r} {what} (supported: {', '.join(NUMPY_OF_DATATYPE)})")
    return dtype


def _named_tensors(values: Tensors) -> list[Tensor]:
    return [as_tensor(value, name) for name, value in values.items()]


# --- JSON ---------------------------------------------------------------------------------------


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
    if not isinstance(obj, dict) or obj.get("datatype") in _FROM_DATATYPE or "data" not in obj:
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
    body: dict[str, Any] = {"inputs": [tensor_to_json(t) for t in _named_tensors(inputs)]}
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
    body["outputs"] = [tensor_to_json(t) for t in _named_tensors(outputs)]
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


# --- gRPC (protobuf) ----------------------------------------------------------------------------


def raw_bytes(tensor: Tensor) -> bytes:
    """The raw contents of a tensor: little-endian values, or length-prefixed BYTES elements."""
    if tensor.dtype is DType.DT_STRING:
        return _length_prefixed(tensor.data.reshape(-1).tolist())
    return numbers_to_bytes(tensor)


def array_raw_bytes(array: Array, field: str = "array") -> bytes:
    """``raw_bytes`` of a numpy array of any V2 type; str elements go as UTF-8."""
    if array.dtype.kind in "USO":
        return _length_prefixed(tensor_from_numpy(array, field=field).data.reshape(-1).tolist())
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


def _length_prefixed(items: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(s)) + s for s in items)


def arrays_from_infer_response_proto(
    response: Any, *, max_bytes: int = DEFAULT_MAX_TENSOR_BYTES
) -> dict[str, Array]:
    """The outputs of a ``ModelInferResponse`` as arrays, of any datatype numpy holds."""
    return _read_arrays(response, "raw_output_contents", "outputs", max_bytes)


def _from_raw(raw: bytes, dtype: DType, shape: tuple[int, ...], field: str, max_bytes: int) -> Array:
    count = math.prod(shape)
    if dtype is DType.DT_STRING:
        return _bytes_elements(raw, count, field, max_bytes).reshape(shape)
    return numbers_from_bytes(field, raw, dtype, shape)


def _bytes_elements(raw: bytes, count: int, field: str, max_bytes: int) -> Array:
    check_string_bytes(field, [raw], max_bytes)
    items: list[bytes] = []
    pos = 0
    for i in range(count):
        if pos + 4 > len(raw):
            raise TensorCodecError(field, f"truncated: element {i} of {count} has no length prefix")
        (length,) = struct.unpack_from("<I", raw, pos)
        pos += 4
        if pos + length > len(raw):
            raise TensorCodecError(field, f"truncated: element {i} needs {length} bytes")
        items.append(raw[pos : pos + length])
        pos += length
    if pos != len(raw):
        raise TensorCodecError(field, f"{len(raw) - pos} bytes left after {count} elements")
    return object_array(items)


def _write_contents(contents: Any, tensor: Tensor) -> None:
    flat = tensor.data.reshape(-1)
    if tensor.dtype is DType.DT_STRING:
        contents.bytes_contents.extend(flat.tolist())
    else:
        write_packed(contents, CONTENTS_FIELD[tensor.dtype], flat, _WIRE[tensor.dtype])


def _from_contents(contents: Any, dtype: DType, shape: tuple[int, ...], field: str, max_bytes: int) -> Array:
    present = {f.name for f, _ in contents.ListFields()}
    expected = CONTENTS_FIELD[dtype]
    stray = present - {expected}
    if stray:
        raise TensorCodecError(f"{field}.{min(stray)}", f"does not match datatype {DATATYPE[dtype]}")
    values = getattr(contents, expected)
    if dtype is DType.DT_STRING:
        check_string_bytes(f"{field}.{expected}", values, max_bytes)
        flat = object_array(list(values))
    else:
        parts = read_packed(contents, expected, _WIRE[dtype], f"{field}.{expected}")
        if parts is None:
            parts = np.fromiter(values, dtype=dtype.numpy, count=len(values))
        flat = parts.astype(dtype.numpy, copy=False)
    return shaped(f"{field}.{expected}", flat, shape)


def _set_parameters(target: Any, parameters: Parameters | None) -> None:
    for key, value in (parameters or {}).items():
        param = target[key]
        if isinstance(value, bool):
            param.bool_param = value
        elif isinstance(value, int):
            param.int64_param = value
        elif isinstance(value, float):
            param.double_param = value
        else:
            param.string_param = str(value)


def _get_parameters(source: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, param in source.items():
        choice = param.WhichOneof("parameter_choice")
        out[key] = getattr(param, choice) if choice else None
    return out


def _fill(message: Any, tensors: list[Tensor], raw_field: str, raw: bool, what: str) -> None:
    entries = getattr(message, what)
    for tensor in tensors:
        entry = entries.add()
        entry.name = tensor.name
        entry.datatype = datatype_of(tensor, f"{what}[{tensor.name}].datatype")
        entry.shape.extend(tensor.shape)
        if not raw:
            _write_contents(entry.contents, tensor)
    if raw:
        getattr(message, raw_field).extend(raw_bytes(t) for t in tensors)


def _read(message: Any, raw_field: str, what: str, max_bytes: int) -> dict[str, Tensor]:
    return {
        name: Tensor(_FROM_DATATYPE[datatype], data, name)
        for name, (datatype, data) in _read_entries(message, raw_field, what, max_bytes, True).items()
    }


def _read_arrays(message: Any, raw_field: str, what: str, max_bytes: int) -> dict[str, Array]:
    return {
        name: data for name, (_, data) in _read_entries(message, raw_field, what, max_bytes, False).items()
    }


def _read_entries(
    message: Any, raw_field: str, what: str, max_bytes: int, tensors_only: bool
) -> dict[str, tuple[str, Array]]:
    """Each entry's datatype and values; ``tensors_only`` refuses datatypes no tensor type holds."""
    entries = getattr(message, what)
    raws = getattr(message, raw_field)
    if raws and len(raws) != len(entries):
        raise TensorCodecError(raw_field, f"{len(raws)} entries for {len(entries)} tensors")
    read: dict[str, tuple[str, Array]] = {}
    for i, entry in enumerate(entries):
        field_name = f"{what}[{i}]"
        if raws and entry.contents.ListFields():  # MLServer sends an empty one beside raw contents
            raise TensorCodecError(f"{field_name}.contents", f"set together with {raw_field}")
        raw = raws[i] if raws else None
        if tensors_only or entry.datatype in _FROM_DATATYPE:
            dtype = dtype_from_datatype(entry.datatype, f"{field_name}.datatype")
            data = _tensor_entry(entry, raw, dtype, field_name, f"{raw_field}[{i}]", max_bytes)
        else:
            data = _other_entry(entry, raw, field_name, f"{raw_field}[{i}]", max_bytes)
        if entry.name in read:
            raise TensorCodecError(f"{field_name}.name", f"duplicate tensor name {entry.name!r}")
        read[entry.name] = (entry.datatype, data)
    return read


def _tensor_entry(
    entry: Any, raw: bytes | None, dtype: DType, field: str, raw_field: str, max_bytes: int
) -> Array:
    shape = check_shape(f"{field}.shape", list(entry.shape), itemsize(dtype), max_bytes)
    if raw is not None:
        return _from_raw(raw, dtype, shape, raw_field, max_bytes)
    return _from_contents(entry.contents, dtype, shape, f"{field}.contents", max_bytes)


def _other_entry(entry: Any, raw: bytes | None, field: str, raw_field: str, max_bytes: int) -> Array:
    """Values of a datatype numpy holds but no tensor type does (UINT8, INT16, FP16...)."""
    dtype = numpy_of_datatype(entry.datatype, f"{field}.datatype")
    shape = check_shape(f"{field}.shape", list(entry.shape), dtype.itemsize, max_bytes)
    if raw is not None:
        return numbers_from_bytes(raw_field, raw, dtype, shape, entry.datatype)
    name = _OTHER_CONTENTS_FIELD.get(entry.datatype)
    if name is None:
        raise TensorCodecError(f"{field}.contents", f"{entry.datatype} travels in {raw_field} only")
    values = getattr(entry.contents, name)
    flat = cast_numbers(f"{field}.contents.{name}", np.array(values), dtype, entry.datatype)
    return shaped(f"{field}.contents.{name}", flat, shape)


def infer_request_proto(
    model_name: str,
    inputs: Tensors,
    *,
    model_version: str = "",
    id: str = "",
    outputs: Sequence[str] = (),
    parameters: Parameters | None = None,
    raw: bool = True,
) -> Any:
    """An ``inference.ModelInferRequest`` (raw_input_contents unless ``raw=False``)."""
    request = v2_pb2.ModelInferRequest(model_name=model_name, model_version=model_version, id=id)
    _set_parameters(request.parameters, parameters)
    _fill(request, _named_tensors(inputs), "raw_input_contents", raw, "inputs")
    for name in outputs:
        request.outputs.add().name = name
    return request


def parse_infer_request_proto(request: Any, *, max_bytes: int = DEFAULT_MAX_TENSOR_BYTES) -> InferBody:
    return InferBody(
        tensors=_read(request, "raw_input_contents", "inputs", max_bytes),
        model_name=request.model_name,
        model_version=request.model_version,
        id=request.id,
        parameters=_get_parameters(request.parameters),
        requested_outputs=tuple(o.name for o in request.outputs),
    )


def infer_response_proto(
    model_name: str,
    outputs: Tensors,
    *,
    model_version: str = "",
    id: str = "",
    parameters: Parameters | None = None,
    raw: bool = True,
) -> Any:
    """An ``inference.ModelInferResponse`` (raw_output_contents unless ``raw=False``)."""
    response = v2_pb2.ModelInferResponse(model_name=model_name, model_version=model_version, id=id)
    _set_parameters(response.parameters, parameters)
    _fill(response, _named_tensors(outputs), "raw_output_contents", raw, "outputs")
    return response


def parse_infer_response_proto(response: Any, *, max_bytes: int = DEFAULT_MAX_TENSOR_BYTES) -> InferBody:
    return InferBody(
        tensors=_read(response, "raw_output_contents", "outputs", max_bytes),
        model_name=response.model_name,
        model_version=response.model_version,
        id=response.id,
        parameters=_get_parameters(response.parameters),
    )
