"""Inputs a model accepts, made from its metadata: every input at several batch sizes, and wrong ones."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from inferstream.executors.base import ModelMetadata, TensorSpec

#: Batch sizes each infer check sends (first dimension of batched inputs).
BATCH_SIZES = (1, 4, 16)
#: A free dimension beyond the batch gets this size.
FREE_DIM = 2


def sample_shape(spec: TensorSpec, batch: int) -> tuple[int, ...]:
    if spec.shape is None:
        return (batch, FREE_DIM)
    return tuple(batch if i == 0 and d is None else (FREE_DIM if d is None else d)
                 for i, d in enumerate(spec.shape))


def sample_array(spec: TensorSpec, shape: tuple[int, ...], seed: int = 0) -> npt.NDArray[Any]:
    rng = np.random.default_rng(seed)
    kind = spec.dtype.kind
    if kind == "f":
        return rng.normal(size=shape).astype(spec.dtype)
    if kind in "iu":
        return rng.integers(0, 8, size=shape).astype(spec.dtype)
    if kind == "b":
        return rng.integers(0, 2, size=shape).astype(bool)
    values = np.empty(shape, dtype=object)
    values.reshape(-1)[:] = [b"conformance"] * int(np.prod(shape))
    return values


def sample_inputs(metadata: ModelMetadata, batch: int) -> dict[str, npt.NDArray[Any]]:
    return {s.name: sample_array(s, sample_shape(s, batch), seed=batch) for s in metadata.inputs}


def fixed_dimension(spec: TensorSpec) -> int | None:
    """Index of a fixed dimension past the batch (a wrong size there must be refused), if any."""
    for i, d in enumerate(spec.shape or ()):
        if i > 0 and d is not None and d > 0:
            return i
    return None


def wrong_shape(spec: TensorSpec) -> tuple[int, ...] | None:
    index = fixed_dimension(spec)
    if index is None:
        return None
    shape = list(sample_shape(spec, 1))
    shape[index] += 1
    return tuple(shape)


def batch_sizes(metadata: ModelMetadata) -> tuple[int, ...]:
    """Several batch sizes when every input is batched (first dimension free), else one call of 1."""
    batched = all(s.batched for s in metadata.inputs) and bool(metadata.inputs)
    return BATCH_SIZES if batched else (1,)


def parse_input_spec(text: str) -> TensorSpec:
    """``NAME:DATATYPE:DIMS`` (``transaction:FP32:-1,29``; -1 is a free dimension) → a TensorSpec."""
    from inferstream.tensors.v2 import NUMPY_OF_DATATYPE

    parts = text.split(":")
    if len(parts) != 3 or not parts[0]:
        raise ValueError(f"{text!r}: write NAME:DATATYPE:DIMS, e.g. transaction:FP32:-1,29")
    name, datatype, dims = parts
    if datatype.upper() not in NUMPY_OF_DATATYPE:
        raise ValueError(f"{text!r}: datatype {datatype!r} is not one of {sorted(NUMPY_OF_DATATYPE)}")
    try:
        shape = tuple(None if int(d) < 0 else int(d) for d in dims.split(",") if d.strip())
    except ValueError:
        raise ValueError(f"{text!r}: dimensions are integers separated by commas (-1: free)") from None
    return TensorSpec(name, NUMPY_OF_DATATYPE[datatype.upper()], shape)
