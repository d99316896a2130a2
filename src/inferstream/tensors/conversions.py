"""Checks and conversions shared by the protobuf and JSON tensor codecs.

Everything that turns foreign data into a numpy array goes through here, so every codec rejects
the same bad input (ragged lists, wrong lengths, mixed types, oversize tensors) with the same
``TensorCodecError`` wording.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from inferstream.tensors.tensor import DType, Tensor, TensorCodecError

DEFAULT_MAX_TENSOR_BYTES = 64 * 1024 * 1024
"""Default limit on the decoded size of one tensor (64 MiB); every decoder takes ``max_bytes``."""

Array = npt.NDArray[Any]


def little_endian(dtype: DType) -> np.dtype[Any]:
    """The explicit little-endian numpy dtype of a numeric tensor type (wire byte order)."""
    return dtype.numpy.newbyteorder("<")


def check_shape(field: str, shape: Sequence[int], itemsize: int, max_bytes: int) -> tuple[int, ...]:
    """``shape`` as a tuple of sizes after checking each is >= 0 and the total fits ``max_bytes``."""
    dims = tuple(int(d) for d in shape)
    for i, size in enumerate(dims):
        if size < 0:
            raise TensorCodecError(f"{field}[{i}]", f"dimension size {size} is negative or unknown")
    nbytes = math.prod(dims) * itemsize
    if nbytes > max_bytes:
        raise TensorCodecError(
            field, f"shape {list(dims)} needs {nbytes} bytes, beyond the limit of {max_bytes} bytes"
        )
    return dims


def itemsize(dtype: DType) -> int:
    """Bytes per element for size limits (strings count one byte each; their bytes are checked apart)."""
    return 1 if dtype is DType.DT_STRING else dtype.numpy.itemsize


def shaped(field: str, flat: Array, shape: tuple[int, ...], what: str = "values") -> Array:
    """``flat`` reshaped to ``shape``; a length that does not fill the shape exactly is an error."""
    count = math.prod(shape)
    if flat.size != count:
        raise TensorCodecError(
            field, f"{flat.size} {what} do not fill shape {list(shape)} ({count} values)"
        )
    return flat.reshape(shape)


def object_array(items: Sequence[bytes]) -> Array:
    """A 1-d object array of ``bytes`` (how Tensor holds strings) without numpy guessing a shape."""
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def numbers_from_bytes(
    field: str, raw: bytes, dtype: DType | np.dtype[Any], shape: tuple[int, ...], label: str = ""
) -> Array:
    """A writable array of ``shape`` from raw little-endian bytes (bools one byte each).

    ``dtype`` may be a numpy dtype no tensor type holds (V2's UINT8, FP16...); ``label`` names it.
    """
    target = dtype.numpy if isinstance(dtype, DType) else np.dtype(dtype)
    label = label or (dtype.value if isinstance(dtype, DType) else str(target))
    wire = target.newbyteorder("<")
    needed = math.prod(shape) * wire.itemsize
    if len(raw) != needed:
        raise TensorCodecError(
            field, f"{len(raw)} bytes do not fill shape {list(shape)} of {label} ({needed} bytes)"
        )
    if target.kind == "b":
        array: Array = np.frombuffer(raw, dtype=np.uint8) != 0
    else:
        # Copy: the result must be writable and independent of the message it came from.
        array = np.frombuffer(raw, dtype=wire).astype(target, copy=True)
    return array.reshape(shape)


def numbers_to_bytes(tensor: Tensor) -> bytes:
    """The raw little-endian bytes of a numeric tensor, row-major."""
    return np.ascontiguousarray(tensor.data.reshape(-1), dtype=little_endian(tensor.dtype)).tobytes()


def check_string_bytes(field: str, items: Iterable[bytes], max_bytes: int) -> None:
    total = sum(len(s) for s in items)
    if total > max_bytes:
        raise TensorCodecError(field, f"strings of {total} bytes, beyond the limit of {max_bytes} bytes")


def cast_numbers(field: str, array: Array, target: np.dtype[Any], label: str) -> Array:
    """Cast a JSON-inferred array to ``target`` (named ``label``) without silently changing a value.

    Booleans only become booleans; numbers become any number type, integer types only from
    integral values in their range.
    """
    kinds = "b" if target.kind == "b" else "iuf"
    if array.size and array.dtype.kind not in kinds:
        raise TensorCodecError(field, f"{_kind_name(array)} values where {label} numbers are expected")
    if target.kind in "iu" and array.dtype.kind == "f" and not _integral(array):
        raise TensorCodecError(field, f"non-integral values where {label} integers are expected")
    if target.kind in "iu" and array.size:
        info = np.iinfo(target)
        if array.min() < info.min or array.max() > info.max:
            raise TensorCodecError(field, f"values out of range of {label}")
    return array.astype(target, copy=False)


def _cast(field: str, array: Array, dtype: DType) -> Array:
    return cast_numbers(field, array, dtype.numpy, dtype.value)


def _integral(array: Array) -> bool:
    return bool(np.all(np.isfinite(array)) and np.array_equal(array, np.trunc(array)))


def _kind_name(array: Array) -> str:
    return {"b": "boolean", "i": "integer", "u": "integer", "f": "floating-point", "U": "string"}.get(
        array.dtype.kind, "mixed or non-numeric"
    )


def infer_dtype(array: Array, default_float: DType = DType.DT_FLOAT) -> DType:
    """The tensor type of a JSON-inferred array: bool, int64, or ``default_float`` for numbers."""
    kind = array.dtype.kind
    if kind == "b":
        return DType.DT_BOOL
    if kind in "iu":
        return DType.DT_INT64
    if kind == "f" or array.size == 0:
        return default_float
    raise TensorCodecError("data", f"{_kind_name(array)} values cannot form a numeric tensor")


def _json_leaf_to_bytes(field: str, item: Any) -> bytes:
    if isinstance(item, str):
        return item.encode("utf-8")
    if isinstance(item, dict) and set(item) == {"b64"} and isinstance(item["b64"], str):
        try:
            return base64.b64decode(item["b64"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise TensorCodecError(field, f"invalid base64: {exc}") from None
    raise TensorCodecError(field, f"{type(item).__name__} value where a string is expected")


def _nested_array(field: str, value: Any, dtype: npt.DTypeLike | None = None) -> Array:
    try:
        return np.array(value, dtype=dtype)
    except (ValueError, TypeError) as exc:
        raise TensorCodecError(field, f"not a rectangular (non-ragged) array: {exc}") from None


def array_from_json(
    field: str,
    value: Any,
    dtype: DType | None = None,
    max_bytes: int = DEFAULT_MAX_TENSOR_BYTES,
    default_float: DType = DType.DT_FLOAT,
) -> Tensor:
    """A tensor from a JSON value: a scalar or nested lists of numbers, booleans or strings.

    ``dtype`` None infers it (bool, int64, ``default_float``; strings and ``{"b64": ...}`` are
    DT_STRING). Ragged lists, mixed types and values that do not fit ``dtype`` are errors.
    """
    if dtype is DType.DT_STRING or (dtype is None and _first_leaf_is_string(value)):
        return _strings_from_json(field, value, max_bytes)
    if dtype in (DType.DT_COMPLEX64, DType.DT_COMPLEX128):
        raise TensorCodecError(field, f"JSON cannot carry {dtype.value} values")
    array = _nested_array(field, value)
    floats = dtype in (None, DType.DT_FLOAT, DType.DT_DOUBLE)
    if array.dtype.kind == "O" and floats and _numbers_or_nulls(array):
        # orjson-based servers (MLServer among them) write NaN as null: read null as NaN.
        array = array.astype(np.float64)
        dtype = dtype or default_float
    if array.dtype.kind in "OUS":
        raise TensorCodecError(field, "mixed, non-numeric or out-of-range values (or a ragged array)")
    resolved = dtype or infer_dtype(array, default_float)
    check_shape(field, array.shape, itemsize(resolved), max_bytes)
    return Tensor(resolved, _cast(field, array, resolved))


def _numbers_or_nulls(array: Array) -> bool:
    """An object array of floats, ints and at least one None (and nothing else)."""
    items = array.reshape(-1).tolist()
    return None in items and all(
        item is None or (isinstance(item, (int, float)) and not isinstance(item, bool)) for item in items
    )


def _first_leaf_is_string(value: Any) -> bool:
    while isinstance(value, list) and value:
        value = value[0]
    return isinstance(value, str) or (isinstance(value, dict) and "b64" in value)


def _strings_from_json(field: str, value: Any, max_bytes: int) -> Tensor:
    if isinstance(value, (str, dict)):
        return Tensor(DType.DT_STRING, object_array([_json_leaf_to_bytes(field, value)]).reshape(()))
    # Object arrays keep dicts and strings as leaves; a leaf that is still a list means ragged.
    array = _nested_array(field, value, dtype=object)
    flat = [_json_leaf_to_bytes(field, item) for item in array.reshape(-1).tolist()]
    check_string_bytes(field, flat, max_bytes)
    return Tensor(DType.DT_STRING, object_array(flat).reshape(array.shape))


def array_to_json(field: str, tensor: Tensor, b64: bool | None = None) -> Any:
    """Nested lists (or a scalar) of a tensor's values, as JSON holds them.

    Strings become ``str`` when UTF-8 and ``b64`` is not True, else ``{"b64": ...}``; ``b64``
    False makes non-UTF-8 strings an error. NaN and ±inf stay floats (``json`` writes them as
    ``NaN``/``Infinity``, as TF Serving does).
    """
    if tensor.dtype in (DType.DT_COMPLEX64, DType.DT_COMPLEX128):
        raise TensorCodecError(field, f"JSON cannot carry {tensor.dtype.value} values")
    if tensor.dtype is not DType.DT_STRING:
        return tensor.data.tolist()
    leaves = [_bytes_to_json_leaf(field, s, b64) for s in tensor.data.reshape(-1).tolist()]
    if tensor.data.ndim == 0:
        return leaves[0]
    return object_array(leaves).reshape(tensor.data.shape).tolist() if leaves else tensor.data.tolist()


def _bytes_to_json_leaf(field: str, item: bytes, b64: bool | None) -> Any:
    if b64:
        return {"b64": base64.b64encode(item).decode("ascii")}
    try:
        return item.decode("utf-8")
    except UnicodeDecodeError:
        if b64 is False:
            raise TensorCodecError(field, "a string is not UTF-8 and base64 is disabled") from None
        return {"b64": base64.b64encode(item).decode("ascii")}
