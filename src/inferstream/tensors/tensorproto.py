"""TensorFlow ``TensorProto`` (protobuf) to and from ``Tensor``.

Reading accepts both forms a server may send: raw little-endian ``tensor_content`` (also the
length-prefixed string list TensorFlow writes for DT_STRING) and the typed ``*_val`` fields,
including TensorFlow's convention that a single typed value fills the whole shape. Writing uses
``tensor_content`` (one memory copy, the fast form) or, with ``typed_fields=True``, the typed
fields; strings always go to ``string_val``, as ``tf.make_tensor_proto`` writes them.

Unlike TensorFlow, which pads a short typed field with its last value, a typed field whose
length is neither 1 nor the element count is rejected: that is how truncation shows up.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError

from inferstream.protos import tensor_pb2, types_pb2
from inferstream.tensors.conversions import (
    DEFAULT_MAX_TENSOR_BYTES,
    Array,
    check_shape,
    check_string_bytes,
    itemsize,
    numbers_from_bytes,
    numbers_to_bytes,
    object_array,
    shaped,
)
from inferstream.tensors.packed import Wire, read_packed, read_varint, write_packed
from inferstream.tensors.tensor import DType, Tensor, TensorCodecError

# Tensor type <-> tensorflow.DataType enum number (tensorflow/core/framework/types.proto).
TF_DATATYPE: dict[DType, int] = {
    DType.DT_FLOAT: types_pb2.DT_FLOAT,
    DType.DT_DOUBLE: types_pb2.DT_DOUBLE,
    DType.DT_INT32: types_pb2.DT_INT32,
    DType.DT_STRING: types_pb2.DT_STRING,
    DType.DT_COMPLEX64: types_pb2.DT_COMPLEX64,
    DType.DT_INT64: types_pb2.DT_INT64,
    DType.DT_BOOL: types_pb2.DT_BOOL,
    DType.DT_COMPLEX128: types_pb2.DT_COMPLEX128,
}
_FROM_TF_DATATYPE: dict[int, DType] = {number: dtype for dtype, number in TF_DATATYPE.items()}
# numpy types of the DataType names (as metadata answers spell them) that no tensor type holds.
_OTHER_TF_NUMPY: dict[str, np.dtype[Any]] = {
    "DT_HALF": np.dtype(np.float16), "DT_INT8": np.dtype(np.int8), "DT_INT16": np.dtype(np.int16),
    "DT_UINT8": np.dtype(np.uint8), "DT_UINT16": np.dtype(np.uint16), "DT_UINT32": np.dtype(np.uint32),
    "DT_UINT64": np.dtype(np.uint64),
}  # fmt: skip
_TF_NUMPY = {**{d.value: d.numpy for d in TF_DATATYPE}, **_OTHER_TF_NUMPY}

# The typed field of each tensor type; complex values are stored as (real, imaginary) pairs.
TYPED_FIELD: dict[DType, str] = {
    DType.DT_FLOAT: "float_val",
    DType.DT_DOUBLE: "double_val",
    DType.DT_INT32: "int_val",
    DType.DT_STRING: "string_val",
    DType.DT_COMPLEX64: "scomplex_val",
    DType.DT_INT64: "int64_val",
    DType.DT_BOOL: "bool_val",
    DType.DT_COMPLEX128: "dcomplex_val",
}
# How each typed field is laid out on the wire (see packed.py).
_WIRE: dict[DType, Wire] = {
    DType.DT_FLOAT: "<f4",
    DType.DT_DOUBLE: "<f8",
    DType.DT_INT32: "int32",
    DType.DT_INT64: "int64",
    DType.DT_BOOL: "bool",
    DType.DT_COMPLEX64: "<f4",
    DType.DT_COMPLEX128: "<f8",
}
_PAIRED: dict[DType, np.dtype[Any]] = {
    DType.DT_COMPLEX64: np.dtype(np.float32),
    DType.DT_COMPLEX128: np.dtype(np.float64),
}
_DATA_FIELDS = {
    "tensor_content", "half_val", "float_val", "double_val", "int_val", "string_val", "scomplex_val",
    "int64_val", "bool_val", "dcomplex_val", "resource_handle_val", "variant_val", "uint32_val",
    "uint64_val", "float8_val",
}  # fmt: skip


def tensor_dtype_from_tf(number: int, field: str = "dtype") -> DType:
    """The tensor type of a ``tensorflow.DataType`` enum number; unknown or unsupported is an error."""
    dtype = _FROM_TF_DATATYPE.get(number)
    if dtype is None:
        names = types_pb2.DataType.DESCRIPTOR.values_by_number
        what = f"DataType {names[number].name}" if number in names else f"unknown DataType {number}"
        raise TensorCodecError(field, f"{what} is not supported (supported: {sorted(_names())})")
    return dtype


def numpy_dtype_of_tf_name(name: str) -> np.dtype[Any]:
    """The numpy dtype of a DataType name such as ``DT_HALF``; unknown types read as ``object``."""
    return _TF_NUMPY.get(name, np.dtype(object))


def _names() -> list[str]:
    return [d.value for d in TF_DATATYPE]


def tensor_to_proto(tensor: Tensor, *, typed_fields: bool = False, into: Any = None) -> Any:
    """A ``tensorflow.TensorProto`` of ``tensor`` (written into ``into`` when given, e.g. a map entry)."""
    proto = into if into is not None else tensor_pb2.TensorProto()
    proto.dtype = TF_DATATYPE[tensor.dtype]
    names = tensor.dim_names if len(tensor.dim_names) == tensor.data.ndim else ()
    for i, size in enumerate(tensor.data.shape):
        dim = proto.tensor_shape.dim.add()
        dim.size = size
        if names and names[i]:
            dim.name = names[i]
    flat = tensor.data.reshape(-1)
    if tensor.dtype is DType.DT_STRING:
        proto.string_val.extend(flat.tolist())
    elif not typed_fields:
        proto.tensor_content = numbers_to_bytes(tensor)
    else:
        values = flat.view(_PAIRED[tensor.dtype]) if tensor.dtype in _PAIRED else flat
        write_packed(proto, TYPED_FIELD[tensor.dtype], values, _WIRE[tensor.dtype])
    return proto


def encode_tensor_proto(tensor: Tensor, *, typed_fields: bool = False) -> bytes:
    """The serialized ``TensorProto`` of ``tensor``."""
    return bytes(tensor_to_proto(tensor, typed_fields=typed_fields).SerializeToString())


def decode_tensor_proto(
    payload: bytes, field: str = "TensorProto", max_bytes: int = DEFAULT_MAX_TENSOR_BYTES
) -> Tensor:
    """The tensor in serialized ``TensorProto`` bytes; truncated or malformed bytes are an error."""
    try:
        proto = tensor_pb2.TensorProto.FromString(payload)
    except DecodeError as exc:
        raise TensorCodecError(field, f"truncated or malformed protobuf: {exc}") from None
    return tensor_from_proto(proto, field, max_bytes)


def tensor_from_proto(
    proto: Any, field: str = "TensorProto", max_bytes: int = DEFAULT_MAX_TENSOR_BYTES, name: str = ""
) -> Tensor:
    """The tensor a ``TensorProto`` holds, from ``tensor_content`` or its typed field."""
    dtype = tensor_dtype_from_tf(proto.dtype, f"{field}.dtype")
    if proto.tensor_shape.unknown_rank:
        raise TensorCodecError(f"{field}.tensor_shape", "unknown rank: a value needs a known shape")
    dims = proto.tensor_shape.dim
    shape = check_shape(f"{field}.tensor_shape.dim", [d.size for d in dims], itemsize(dtype), max_bytes)
    dim_names = tuple(d.name for d in dims)
    present = {f.name for f, _ in proto.ListFields()} & _DATA_FIELDS
    typed = TYPED_FIELD[dtype]
    stray = present - {"tensor_content", typed}
    if stray:
        raise TensorCodecError(f"{field}.{min(stray)}", f"data field does not match dtype {dtype.value}")
    if "tensor_content" in present and typed in present:
        raise TensorCodecError(f"{field}.tensor_content", f"set together with {typed}")
    if "tensor_content" in present:
        data = _from_content(proto.tensor_content, dtype, shape, f"{field}.tensor_content", max_bytes)
    else:
        data = _from_typed(proto, dtype, shape, f"{field}.{typed}", max_bytes)
    return Tensor(dtype, data, name, dim_names if any(dim_names) else ())


def _from_content(content: bytes, dtype: DType, shape: tuple[int, ...], field: str, max_bytes: int) -> Array:
    count = math.prod(shape)
    if dtype is DType.DT_STRING:
        return _string_list(content, count, field, max_bytes).reshape(shape)
    return numbers_from_bytes(field, content, dtype, shape)


def _from_typed(proto: Any, dtype: DType, shape: tuple[int, ...], field: str, max_bytes: int) -> Array:
    count = math.prod(shape)
    name = TYPED_FIELD[dtype]
    if dtype is DType.DT_STRING:
        values = getattr(proto, name)
        check_string_bytes(field, values, max_bytes)
        flat = object_array(list(values))
    else:
        parts = read_packed(proto, name, _WIRE[dtype], field)
        if parts is None:
            values = getattr(proto, name)
            parts = np.fromiter(values, dtype=_PAIRED.get(dtype, dtype.numpy), count=len(values))
        if dtype in _PAIRED:
            if parts.size % 2:
                raise TensorCodecError(field, f"{parts.size} parts: complex values need (real, imag) pairs")
            parts = parts.astype(_PAIRED[dtype], copy=False).view(dtype.numpy)
        flat = parts.astype(dtype.numpy, copy=False)
    if flat.size == 1 and count > 1:
        # TensorFlow's convention: a single value fills the whole shape.
        return np.full(shape, flat[0], dtype=flat.dtype)
    if flat.size == 0 and count:
        raise TensorCodecError(
            field, f"no data: neither {TYPED_FIELD[dtype]} nor tensor_content holds the {count} values"
        )
    return shaped(field, flat, shape)


def _string_list(content: bytes, count: int, field: str, max_bytes: int) -> Array:
    """TensorFlow's DT_STRING ``tensor_content``: ``count`` varint lengths, then the bytes."""
    lengths: list[int] = []
    pos = 0
    for _ in range(count):
        length, pos = read_varint(content, pos, field)
        lengths.append(length)
    if pos + sum(lengths) != len(content):
        raise TensorCodecError(
            field, f"string lengths sum to {sum(lengths)} but {len(content) - pos} bytes follow"
        )
    check_string_bytes(field, [content[pos:]], max_bytes)
    items: list[bytes] = []
    for length in lengths:
        items.append(content[pos : pos + length])
        pos += length
    return object_array(items)
