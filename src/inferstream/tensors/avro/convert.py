"""Tensor and TensorSpec to and from the dict form of ``tensorflow.support.avro.Tensor``.

The Avro ``DataType`` enum has no complex symbols: a complex64 tensor is written as ``DT_FLOAT``
with ``complex_float_data`` set, complex128 as ``DT_DOUBLE`` with ``complex_double_data`` (the
data field decides; readers of the original schema can still decode it). A shape-only spec of a
complex type therefore reads back as its real counterpart.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from inferstream.tensors.avro.records import TensorSpec
from inferstream.tensors.conversions import (
    DEFAULT_MAX_TENSOR_BYTES as DEFAULT_MAX_TENSOR_BYTES,  # re-exported
)
from inferstream.tensors.tensor import DType, Tensor, TensorCodecError

# The Avro enum's symbols, in schema order (the index is what goes on the wire).
AVRO_SYMBOLS: tuple[str, ...] = ("DT_FLOAT", "DT_DOUBLE", "DT_INT64", "DT_INT32", "DT_STRING", "DT_BOOL")
DATA_FIELDS: tuple[str, ...] = (
    "float_data",
    "double_data",
    "long_data",
    "int_data",
    "string_data",
    "boolean_data",
    "complex_float_data",
    "complex_double_data",
)
# dtype -> (Avro enum symbol, data field)
WIRE: dict[DType, tuple[str, str]] = {
    DType.DT_FLOAT: ("DT_FLOAT", "float_data"),
    DType.DT_DOUBLE: ("DT_DOUBLE", "double_data"),
    DType.DT_INT64: ("DT_INT64", "long_data"),
    DType.DT_INT32: ("DT_INT32", "int_data"),
    DType.DT_STRING: ("DT_STRING", "string_data"),
    DType.DT_BOOL: ("DT_BOOL", "boolean_data"),
    DType.DT_COMPLEX64: ("DT_FLOAT", "complex_float_data"),
    DType.DT_COMPLEX128: ("DT_DOUBLE", "complex_double_data"),
}
_FROM_FIELD: dict[str, DType] = {data_field: dtype for dtype, (_, data_field) in WIRE.items()}


def _shape_to_avro(shape: tuple[int, ...], dim_names: tuple[str, ...]) -> dict[str, Any]:
    names = dim_names if len(dim_names) == len(shape) else ("",) * len(shape)
    return {"dim": [{"size": int(size), "name": name} for size, name in zip(shape, names, strict=True)]}


def _values_to_avro(tensor: Tensor, field: str) -> list[Any]:
    flat = tensor.data.reshape(-1)
    if tensor.dtype is DType.DT_STRING:
        try:
            return [x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in flat.tolist()]
        except UnicodeDecodeError as exc:
            raise TensorCodecError(field, f"Avro strings must be UTF-8: {exc}") from None
    if tensor.dtype in (DType.DT_COMPLEX64, DType.DT_COMPLEX128):
        return [{"real": z.real, "imaginary": z.imag} for z in flat.tolist()]
    return list(flat.tolist())


def tensor_to_avro(tensor: Tensor | TensorSpec, field: str = "tensor") -> dict[str, Any]:
    """The fastavro dict of a tensor (values set) or of a spec (shape only, no data field)."""
    symbol, data_field = WIRE[tensor.dtype]
    shape = tensor.shape
    record: dict[str, Any] = {
        "dtype": symbol,
        "tensorshape": _shape_to_avro(shape, tensor.dim_names),
    }
    for name in DATA_FIELDS:
        record[name] = None
    if isinstance(tensor, Tensor):
        record[data_field] = _values_to_avro(tensor, f"{field}.{data_field}")
    return record


def _check_size(field: str, shape: tuple[int, ...], itemsize: int, max_bytes: int) -> None:
    nbytes = math.prod(shape) * itemsize
    if nbytes > max_bytes:
        raise TensorCodecError(
            f"{field}.tensorshape",
            f"shape {list(shape)} needs {nbytes} bytes, beyond the limit of {max_bytes} bytes",
        )


def _shape_from_avro(
    record: dict[str, Any], field: str, allow_unknown: bool
) -> tuple[tuple[int, ...], tuple[str, ...]]:
    dims = record["tensorshape"]["dim"]
    shape = tuple(int(d["size"]) for d in dims)
    for i, size in enumerate(shape):
        if size < 0 and not (allow_unknown and size == -1):
            raise TensorCodecError(f"{field}.tensorshape.dim[{i}].size", f"negative size {size}")
    names = tuple(str(d["name"]) for d in dims)
    return shape, names if any(names) else ()


def _values_from_avro(values: list[Any], dtype: DType, field: str) -> np.ndarray[Any, Any]:
    if dtype is DType.DT_STRING:
        out = np.empty(len(values), dtype=object)
        out[:] = [s.encode("utf-8") for s in values]
        return out
    if dtype in (DType.DT_COMPLEX64, DType.DT_COMPLEX128):
        pairs = np.array([(c["real"], c["imaginary"]) for c in values], dtype=np.float64).reshape(-1, 2)
        return _complex(pairs, dtype)
    try:
        return np.array(values, dtype=dtype.numpy)
    except OverflowError as exc:
        raise TensorCodecError(field, f"value out of range for {dtype.value}: {exc}") from None


def _complex(pairs: np.ndarray[Any, Any], dtype: DType) -> np.ndarray[Any, Any]:
    # Build from the two parts without arithmetic, so NaN/inf parts stay exactly as written.
    real_dtype = np.float32 if dtype is DType.DT_COMPLEX64 else np.float64
    out = np.empty(len(pairs), dtype=dtype.numpy)
    out.real = pairs[:, 0].astype(real_dtype)
    out.imag = pairs[:, 1].astype(real_dtype)
    return out


def tensor_from_avro(
    record: dict[str, Any], field: str = "tensor", max_bytes: int = DEFAULT_MAX_TENSOR_BYTES
) -> Tensor | TensorSpec:
    """A Tensor when a data field is set, else a TensorSpec; TensorCodecError on anything inconsistent."""
    symbol = record["dtype"]
    if symbol not in AVRO_SYMBOLS:
        raise TensorCodecError(f"{field}.dtype", f"unknown DataType symbol {symbol!r}")
    present = [name for name in DATA_FIELDS if record.get(name) is not None]
    if len(present) > 1:
        raise TensorCodecError(f"{field}.{present[1]}", f"more than one data field set: {present}")
    if not present:
        shape, names = _shape_from_avro(record, field, allow_unknown=True)
        dtype = DType(symbol)
        _check_size(field, tuple(max(d, 0) for d in shape), max(dtype.numpy.itemsize, 1), max_bytes)
        return TensorSpec(dtype, shape, dim_names=names)
    data_field = present[0]
    dtype = _FROM_FIELD[data_field]
    if WIRE[dtype][0] != symbol:
        raise TensorCodecError(f"{field}.{data_field}", f"data field does not match dtype {symbol}")
    shape, names = _shape_from_avro(record, field, allow_unknown=False)
    itemsize = 1 if dtype is DType.DT_STRING else dtype.numpy.itemsize
    _check_size(field, shape, itemsize, max_bytes)
    values = record[data_field]
    if len(values) != math.prod(shape):
        raise TensorCodecError(
            f"{field}.{data_field}",
            f"{len(values)} values do not fill shape {list(shape)} ({math.prod(shape)} values)",
        )
    if dtype is DType.DT_STRING and sum(len(s) for s in values) > max_bytes:
        raise TensorCodecError(f"{field}.{data_field}", f"strings beyond the limit of {max_bytes} bytes")
    data = _values_from_avro(values, dtype, f"{field}.{data_field}").reshape(shape)
    return Tensor(dtype=dtype, data=data, dim_names=names)


def require_tensor(value: Tensor | TensorSpec, field: str, name: str) -> Tensor:
    """``value`` as a Tensor named ``name``: an empty spec is an empty tensor, any other spec an error."""
    if isinstance(value, Tensor):
        return Tensor(value.dtype, value.data, name, value.dim_names)
    if value.size == 0 and all(d >= 0 for d in value.shape):
        return Tensor(value.dtype, np.empty(value.shape, dtype=value.dtype.numpy), name, value.dim_names)
    raise TensorCodecError(
        f"{field}.{WIRE[value.dtype][1]}",
        f"dtype {value.dtype.value} has no data field set (shape {list(value.shape)})",
    )


def as_spec(value: Tensor | TensorSpec, name: str) -> TensorSpec:
    """An expected output: only dtype and shape count (values sent along are not kept)."""
    if isinstance(value, Tensor):
        return TensorSpec(value.dtype, value.shape, name, value.dim_names)
    return TensorSpec(value.dtype, value.shape, name, value.dim_names)
