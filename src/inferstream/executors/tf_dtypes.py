"""TensorFlow ``DataType`` names → numpy dtypes, as metadata answers name them."""

from __future__ import annotations

from typing import Any

import numpy as np

_TF_TO_NUMPY: dict[str, np.dtype[Any]] = {
    "DT_FLOAT": np.dtype(np.float32),
    "DT_DOUBLE": np.dtype(np.float64),
    "DT_HALF": np.dtype(np.float16),
    "DT_INT8": np.dtype(np.int8),
    "DT_INT16": np.dtype(np.int16),
    "DT_INT32": np.dtype(np.int32),
    "DT_INT64": np.dtype(np.int64),
    "DT_UINT8": np.dtype(np.uint8),
    "DT_UINT16": np.dtype(np.uint16),
    "DT_UINT32": np.dtype(np.uint32),
    "DT_UINT64": np.dtype(np.uint64),
    "DT_BOOL": np.dtype(np.bool_),
    "DT_STRING": np.dtype(object),
    "DT_COMPLEX64": np.dtype(np.complex64),
    "DT_COMPLEX128": np.dtype(np.complex128),
}


def tf_dtype_to_numpy(name: str) -> np.dtype[Any]:
    """numpy dtype of a TF DataType name; unknown types read as ``object`` rather than failing."""
    return _TF_TO_NUMPY.get(name, np.dtype(object))
