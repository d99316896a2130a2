"""The one value type that records, protocols and models share."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt


class TensorCodecError(ValueError):
    """A tensor could not be encoded or decoded; the message names the field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class DType(enum.Enum):
    """Tensor element types, named as in TensorFlow (the Avro enum's symbols and more)."""

    DT_FLOAT = "DT_FLOAT"
    DT_DOUBLE = "DT_DOUBLE"
    DT_INT64 = "DT_INT64"
    DT_INT32 = "DT_INT32"
    DT_STRING = "DT_STRING"
    DT_BOOL = "DT_BOOL"
    DT_COMPLEX64 = "DT_COMPLEX64"
    DT_COMPLEX128 = "DT_COMPLEX128"

    @property
    def numpy(self) -> np.dtype[Any]:
        return _TO_NUMPY[self]

    @classmethod
    def from_numpy(cls, dtype: npt.DTypeLike) -> DType:
        np_dtype = np.dtype(dtype)
        if np_dtype.kind in ("U", "S", "O"):
            return cls.DT_STRING
        try:
            return _FROM_NUMPY[np_dtype]
        except KeyError:
            raise TensorCodecError("dtype", f"numpy dtype {np_dtype} has no tensor type") from None


_TO_NUMPY: dict[DType, np.dtype[Any]] = {
    DType.DT_FLOAT: np.dtype(np.float32),
    DType.DT_DOUBLE: np.dtype(np.float64),
    DType.DT_INT64: np.dtype(np.int64),
    DType.DT_INT32: np.dtype(np.int32),
    DType.DT_STRING: np.dtype(object),  # elements are bytes
    DType.DT_BOOL: np.dtype(np.bool_),
    DType.DT_COMPLEX64: np.dtype(np.complex64),
    DType.DT_COMPLEX128: np.dtype(np.complex128),
}
_FROM_NUMPY: dict[np.dtype[Any], DType] = {v: k for k, v in _TO_NUMPY.items() if k is not DType.DT_STRING}


@dataclass(frozen=True, eq=False)
class Tensor:
    """A typed n-dimensional value: ``data`` is a numpy array whose shape is the tensor's shape.

    Strings are held as an object array of ``bytes``. ``dim_names`` keeps the per-dimension names
    that Avro and TensorProto carry (empty strings when unnamed).
    """

    dtype: DType
    data: npt.NDArray[Any]
    name: str = ""
    dim_names: tuple[str, ...] = field(default=())

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.data.shape)

    @classmethod
    def from_numpy(cls, array: npt.ArrayLike, name: str = "", dtype: DType | None = None) -> Tensor:
        arr = np.asarray(array)
        dt = dtype or DType.from_numpy(arr.dtype)
        if dt is DType.DT_STRING:
            flat = [x if isinstance(x, bytes) else str(x).encode() for x in arr.reshape(-1).tolist()]
            out = np.empty(len(flat), dtype=object)
            out[:] = flat
            arr = out.reshape(arr.shape)
        else:
            arr = arr.astype(dt.numpy, copy=False)
        return cls(dtype=dt, data=arr, name=name)

    def numpy(self) -> npt.NDArray[Any]:
        return self.data

    def equals(self, other: Tensor) -> bool:
        """Exact equality of type, shape and values (NaN equals NaN)."""
        if self.dtype is not other.dtype or self.shape != other.shape:
            return False
        if self.dtype is DType.DT_STRING:
            return bool(self.data.reshape(-1).tolist() == other.data.reshape(-1).tolist())
        return bool(np.array_equal(self.data, other.data, equal_nan=self.data.dtype.kind in "fc"))
