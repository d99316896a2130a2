"""numpy arrays to and from ``Tensor``, strictly: nothing is converted silently.

``Tensor.from_numpy`` is the permissive constructor; these are the checked edges every protocol
codec goes through when handed user arrays: unsupported element types (float16, uint8, dates...)
and object arrays holding anything but ``bytes``/``str`` are a ``TensorCodecError``, unicode
arrays become UTF-8 ``bytes``, and a requested ``dtype`` only casts within the same kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from inferstream.tensors.conversions import Array, object_array
from inferstream.tensors.tensor import DType, Tensor, TensorCodecError


def tensor_from_numpy(
    array: npt.ArrayLike, name: str = "", dtype: DType | None = None, field: str = "array"
) -> Tensor:
    """A Tensor of ``array`` (a numpy array or anything numpy makes one of)."""
    try:
        arr = np.asarray(array)
    except (ValueError, TypeError) as exc:
        raise TensorCodecError(field, f"not a rectangular array: {exc}") from None
    if dtype is DType.DT_STRING or (dtype is None and arr.dtype.kind in "USO"):
        return Tensor(DType.DT_STRING, _strings(arr, field), name)
    if arr.dtype.kind in "USO" and dtype is not None:
        raise TensorCodecError(field, f"{arr.dtype} values cannot form a {dtype.value} tensor")
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if dtype is None:
        if arr.dtype not in _SUPPORTED:
            raise TensorCodecError(
                field, f"numpy dtype {arr.dtype} has no tensor type (supported: {_SUPPORTED_NAMES}, strings)"
            )
        return Tensor(DType.from_numpy(arr.dtype), arr, name)
    try:
        return Tensor(dtype, arr.astype(dtype.numpy, casting="same_kind", copy=False), name)
    except TypeError:
        raise TensorCodecError(field, f"cannot cast {arr.dtype} values to {dtype.value}") from None


_SUPPORTED = {d.numpy for d in DType if d is not DType.DT_STRING}
_SUPPORTED_NAMES = ", ".join(sorted(str(d) for d in _SUPPORTED))


def _strings(arr: Array, field: str) -> Array:
    flat = arr.reshape(-1).tolist()
    if arr.dtype.kind == "U":
        items = [s.encode("utf-8") for s in flat]
    elif arr.dtype.kind == "S":
        items = flat
    else:
        bad = next((x for x in flat if not isinstance(x, (bytes, str))), None)
        if bad is not None:
            raise TensorCodecError(field, f"{type(bad).__name__} value in a string array")
        items = [x.encode("utf-8") if isinstance(x, str) else x for x in flat]
    return object_array(items).reshape(arr.shape)


def tensor_to_numpy(tensor: Tensor, strings: Literal["bytes", "str"] = "bytes") -> Array:
    """The tensor's array; with ``strings="str"`` DT_STRING comes back as a unicode array."""
    if tensor.dtype is not DType.DT_STRING or strings == "bytes":
        return tensor.data
    try:
        texts = [s.decode("utf-8") for s in tensor.data.reshape(-1).tolist()]
    except UnicodeDecodeError as exc:
        raise TensorCodecError(tensor.name or "tensor", f"a string is not UTF-8: {exc}") from None
    return np.array(texts, dtype=str).reshape(tensor.data.shape)


def as_tensor(value: Tensor | npt.ArrayLike, name: str = "") -> Tensor:
    """``value`` as a Tensor named ``name`` when it has no name of its own."""
    if isinstance(value, Tensor):
        return value if value.name or not name else Tensor(value.dtype, value.data, name, value.dim_names)
    return tensor_from_numpy(value, name, field=name or "array")


def tensors_from_arrays(arrays: Mapping[str, Tensor | npt.ArrayLike]) -> dict[str, Tensor]:
    """Named tensors from named arrays (as executors and servers hold model inputs and outputs)."""
    return {name: as_tensor(value, name) for name, value in arrays.items()}


def arrays_from_tensors(tensors: Mapping[str, Tensor]) -> dict[str, Any]:
    """Named arrays from named tensors."""
    return {name: tensor.data for name, tensor in tensors.items()}
