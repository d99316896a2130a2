"""Hypothesis strategies for the protobuf/JSON codec tests: tensors of every dtype and shape."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from inferstream.tensors import DType, Tensor

ALL_DTYPES = list(DType)
REAL_DTYPES = [d for d in DType if d not in (DType.DT_COMPLEX64, DType.DT_COMPLEX128)]
# Lean and deterministic enough for a shared 2-core CI machine.
CODEC_SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)

ANY_SHAPE = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
# JSON nests lists, so it cannot show a shape past its first zero-sized dimension ([[], []] is
# (2, 0), but [] could be (0,) or (0, 3)): JSON round trips use shapes zero only in the last dim.
JSON_SHAPE = ANY_SHAPE.filter(lambda s: 0 not in s[:-1])
# Row format needs a batch dimension.
ROW_SHAPE = JSON_SHAPE.filter(lambda s: len(s) >= 1)


def _strings(shape: tuple[int, ...], utf8_only: bool) -> st.SearchStrategy[np.ndarray[Any, Any]]:
    item = st.text(max_size=5).map(str.encode) if utf8_only else st.binary(max_size=5)
    count = math.prod(shape)

    def to_array(items: list[bytes]) -> np.ndarray[Any, Any]:
        out = np.empty(len(items), dtype=object)
        out[:] = items
        return out.reshape(shape)

    return st.lists(item, min_size=count, max_size=count).map(to_array)


@st.composite
def tensors(
    draw: st.DrawFn,
    dtypes: list[DType] = ALL_DTYPES,
    shapes: st.SearchStrategy[tuple[int, ...]] = ANY_SHAPE,
    utf8_only: bool = False,
) -> Tensor:
    dtype = draw(st.sampled_from(dtypes))
    shape = draw(shapes)
    if dtype is DType.DT_STRING:
        data = draw(_strings(shape, utf8_only))
    else:
        # hypothesis' float strategies include NaN and ±inf by default.
        data = draw(hnp.arrays(dtype.numpy, shape))
    return Tensor(dtype, data)


def assert_same(actual: Tensor, expected: Tensor) -> None:
    assert actual.dtype is expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.equals(expected), (actual.data, expected.data)
