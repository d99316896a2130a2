"""V2 (Open Inference Protocol) gRPC messages to and from tensors.

``inference.ModelInferRequest`` / ``ModelInferResponse`` carry tensors in the typed ``contents``
or in ``raw_input_contents`` / ``raw_output_contents`` (little-endian; BYTES as a 4-byte
little-endian length before each element). Readers accept both; writers use raw bytes by
default (``raw=False`` for typed contents).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from inferstream.protos import v2_pb2
from inferstream.tensors.conversions import (
    DEFAULT_MAX_TENSOR_BYTES,
    Array,
    cast_numbers,
    check_shape,
    check_string_bytes,
    itemsize,
    numbers_from_bytes,
    numbers_to_bytes,
    object_array,
    shaped,
)
from inferstream.tensors.numpy_codec import tensor_from_numpy
from inferstream.tensors.packed import read_packed, write_packed
from inferstream.tensors.tensor import DType, Tensor, TensorCodecError
from inferstream.tensors.v2.datatypes import (
    CONTENTS_FIELD,
    DATATYPE,
    FROM_DATATYPE,
    OTHER_CONTENTS_FIELD,
    WIRE,
    InferBody,
    Parameters,
    Tensors,
    datatype_of,
    dtype_from_datatype,
    named_tensors,
    numpy_of_datatype,
)


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
    return _read_arrays(response, RAW_FIELD["outputs"], "outputs", max_bytes)


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
        write_packed(contents, CONTENTS_FIELD[tensor.dtype], flat, WIRE[tensor.dtype])


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
        parts = read_packed(contents, expected, WIRE[dtype], f"{field}.{expected}")
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
        name: Tensor(FROM_DATATYPE[datatype], data, name)
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
        if tensors_only or entry.datatype in FROM_DATATYPE:
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
    name = OTHER_CONTENTS_FIELD.get(entry.datatype)
    if name is None:
        raise TensorCodecError(f"{field}.contents", f"{entry.datatype} travels in {raw_field} only")
    values = getattr(entry.contents, name)
    flat = cast_numbers(f"{field}.contents.{name}", np.array(values), dtype, entry.datatype)
    return shaped(f"{field}.contents.{name}", flat, shape)


#: Where each side of an inference carries raw tensor contents.
RAW_FIELD = {"inputs": "raw_input_contents", "outputs": "raw_output_contents"}


def _message(
    message_class: Any,
    what: str,
    model_name: str,
    tensors: Tensors,
    model_version: str,
    id: str,
    parameters: Parameters | None,
    raw: bool,
) -> Any:
    """A request (``what="inputs"``) or response (``"outputs"``) message holding ``tensors``."""
    message = message_class(model_name=model_name, model_version=model_version, id=id)
    _set_parameters(message.parameters, parameters)
    _fill(message, named_tensors(tensors), RAW_FIELD[what], raw, what)
    return message


def _body(message: Any, what: str, max_bytes: int, requested_outputs: tuple[str, ...] = ()) -> InferBody:
    """The tensors of a request's ``inputs`` or a response's ``outputs``, and what travels with them."""
    return InferBody(
        tensors=_read(message, RAW_FIELD[what], what, max_bytes),
        model_name=message.model_name,
        model_version=message.model_version,
        id=message.id,
        parameters=_get_parameters(message.parameters),
        requested_outputs=requested_outputs,
    )


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
    request = _message(
        v2_pb2.ModelInferRequest, "inputs", model_name, inputs, model_version, id, parameters, raw
    )
    for name in outputs:
        request.outputs.add().name = name
    return request


def parse_infer_request_proto(request: Any, *, max_bytes: int = DEFAULT_MAX_TENSOR_BYTES) -> InferBody:
    """The inputs of an ``inference.ModelInferRequest``, and the outputs it asks for."""
    return _body(request, "inputs", max_bytes, tuple(o.name for o in request.outputs))


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
    return _message(
        v2_pb2.ModelInferResponse, "outputs", model_name, outputs, model_version, id, parameters, raw
    )


def parse_infer_response_proto(response: Any, *, max_bytes: int = DEFAULT_MAX_TENSOR_BYTES) -> InferBody:
    """The outputs of an ``inference.ModelInferResponse``."""
    return _body(response, "outputs", max_bytes)
