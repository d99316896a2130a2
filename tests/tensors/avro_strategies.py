"""Hypothesis strategies for Avro tensor tests: every dtype, 0-sized dims, scalars, NaN and ±inf."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from inferstream.tensors import DType, Tensor

SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
FIXED_WIDTH_DTYPES = [DType.DT_FLOAT, DType.DT_DOUBLE, DType.DT_BOOL, DType.DT_COMPLEX64, DType.DT_COMPLEX128]
ALL_DTYPES = [*FIXED_WIDTH_DTYPES, DType.DT_INT32, DType.DT_INT64, DType.DT_STRING]


def canonical_nans(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Replace NaN payloads by the one quiet NaN: the generic codec passes float32 through Python
    floats, which may quiet a signalling NaN, while the fast path copies bits exactly."""
    if arr.dtype.kind == "f":
        return np.where(np.isnan(arr), arr.dtype.type(np.nan), arr)
    if arr.dtype.kind == "c":
        real = canonical_nans(arr.real.copy())
        imag = canonical_nans(arr.imag.copy())
        out = np.empty_like(arr)
        out.real, out.imag = real, imag
        return out
    return arr


def values(dtype: DType, shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray[Any, Any]]:
    if dtype is DType.DT_STRING:
        texts = st.lists(st.text(max_size=6), min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))

        def to_array(items: list[str]) -> np.ndarray[Any, Any]:
            out = np.empty(len(items), dtype=object)
            out[:] = [s.encode("utf-8") for s in items]
            return out.reshape(shape)

        return texts.map(to_array)
    return hnp.arrays(dtype.numpy, shape).map(canonical_nans)


@st.composite
def tensors(draw: st.DrawFn, dtypes: list[DType] = ALL_DTYPES) -> Tensor:
    dtype = draw(st.sampled_from(dtypes))
    shape = draw(SHAPES)
    data = draw(values(dtype, shape))
    names = draw(st.one_of(st.just(()), st.tuples(*[st.sampled_from(["", "batch", "x"]) for _ in shape])))
    return Tensor(dtype, data, "", names if any(names) else ())
