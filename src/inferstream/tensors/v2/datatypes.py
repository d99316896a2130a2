"""V2 (Open Inference Protocol) datatypes and the parsed body shared by its JSON and gRPC codecs.

``DATATYPE`` maps the tensor types to V2 names; ``NUMPY_OF_DATATYPE`` every V2 datatype numpy can
hold (BF16 it cannot), for clients and servers whose models use types a Tensor does not have.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from inferstream.tensors.numpy_codec import as_tensor
from inferstream.tensors.packed import Wire
from inferstream.tensors.tensor import DType, Tensor, TensorCodecError

DATATYPE: dict[DType, str] = {
    DType.DT_BOOL: "BOOL",
    DType.DT_INT32: "INT32",
    DType.DT_INT64: "INT64",
    DType.DT_FLOAT: "FP32",
    DType.DT_DOUBLE: "FP64",
    DType.DT_STRING: "BYTES",
}
FROM_DATATYPE = {name: dtype for dtype, name in DATATYPE.items()}
# Every V2 datatype numpy can hold (BF16 it cannot): the array-level readers and writers below
# take these too, for clients and servers whose models use types a Tensor does not have.
NUMPY_OF_DATATYPE: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_), "UINT8": np.dtype(np.uint8), "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32), "UINT64": np.dtype(np.uint64), "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16), "INT32": np.dtype(np.int32), "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16), "FP32": np.dtype(np.float32), "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}  # fmt: skip
DATATYPE_OF_NUMPY = {dtype: name for name, dtype in NUMPY_OF_DATATYPE.items()}
KNOWN = (*NUMPY_OF_DATATYPE, "BF16")
# Typed ``contents`` fields of the datatypes no tensor type holds (FP16 travels raw only).
OTHER_CONTENTS_FIELD = {
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

WIRE: dict[DType, Wire] = {
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
    dtype = FROM_DATATYPE.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        what = "is not supported" if datatype in KNOWN else "is not a V2 datatype"
        raise TensorCodecError(field, f"{datatype!r} {what} (supported: {', '.join(FROM_DATATYPE)})")
    return dtype


def datatype_of(tensor: Tensor, field: str = "datatype") -> str:
    try:
        return DATATYPE[tensor.dtype]
    except KeyError:
        raise TensorCodecError(field, f"V2 has no datatype for {tensor.dtype.value}") from None


def datatype_of_numpy(dtype: np.dtype[Any]) -> str | None:
    """The V2 datatype of a numpy dtype (strings and objects are BYTES); None when V2 has none."""
    return "BYTES" if dtype.kind in "USO" else DATATYPE_OF_NUMPY.get(dtype)


def numpy_of_datatype(datatype: Any, field: str = "datatype") -> np.dtype[Any]:
    """The numpy dtype of any V2 datatype numpy holds; unknown names (and BF16) are an error."""
    dtype = NUMPY_OF_DATATYPE.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        what = "is not supported" if datatype in KNOWN else "is not a V2 datatype"
        raise TensorCodecError(field, f"{datatype!r} {what} (supported: {', '.join(NUMPY_OF_DATATYPE)})")
    return dtype


def named_tensors(values: Tensors) -> list[Tensor]:
    """Tensors (or array-likes) by name -> Tensors carrying their names."""
    return [as_tensor(value, name) for name, value in values.items()]
