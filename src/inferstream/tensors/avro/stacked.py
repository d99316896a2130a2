"""Batches of records as stacked numpy arrays: the model-serving hot path works on these.

A ``StackedTensor`` holds one named tensor of many records concatenated along axis 0, with row
splits saying which rows belong to which record (a fraud record's [1, 29] input gives rows of 29;
a recommender record's [n, 1] gives n rows). Records whose tensors cannot be concatenated (other
dtypes, ranks or trailing dims) land in different groups of a ``DecodedBatch``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from inferstream.tensors.avro.records import ModelResultMetadata, ServingResult, SourceRequest, TensorSpec
from inferstream.tensors.tensor import DType, Tensor, TensorCodecError

Int64Array = npt.NDArray[np.int64]


@dataclass
class StackedTensor:
    """Tensors of ``len(row_splits) - 1`` records concatenated along axis 0.

    Record ``i`` is ``values[row_splits[i]:row_splits[i + 1]]``. Rank-0 (scalar) records are
    stacked instead, one row each, and marked ``scalar`` so that they come back as scalars.
    """

    dtype: DType
    values: npt.NDArray[Any]
    row_splits: Int64Array
    scalar: bool = False
    dim_names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.row_splits) - 1

    @property
    def rows_per_record(self) -> Int64Array:
        return np.diff(self.row_splits)

    def record(self, i: int, name: str = "") -> Tensor:
        """Record ``i``'s tensor (a view into ``values``)."""
        start, end = int(self.row_splits[i]), int(self.row_splits[i + 1])
        data = self.values[start] if self.scalar else self.values[start:end]
        return Tensor(self.dtype, np.asarray(data), name, self.dim_names)

    def take(self, records: Int64Array) -> StackedTensor:
        """The given records (positions), in that order."""
        starts, ends = self.row_splits[records], self.row_splits[records + 1]
        counts = ends - starts
        splits = np.zeros(len(records) + 1, dtype=np.int64)
        np.cumsum(counts, out=splits[1:])
        # row i of the result comes from starts[record] + (i - splits[record])
        rows = np.repeat(starts - splits[:-1], counts) + np.arange(int(splits[-1]), dtype=np.int64)
        return StackedTensor(self.dtype, self.values[rows], splits, self.scalar, self.dim_names)

    @classmethod
    def uniform(
        cls, values: npt.ArrayLike, rows_per_record: int = 1, dtype: DType | None = None
    ) -> StackedTensor:
        """Records of ``rows_per_record`` rows each (e.g. a model's [N, 29] output for N fraud records)."""
        arr = np.asarray(values)
        dt = dtype or DType.from_numpy(arr.dtype)
        if dt is not DType.DT_STRING:
            arr = arr.astype(dt.numpy, copy=False)
        if rows_per_record <= 0 or len(arr) % rows_per_record:
            raise TensorCodecError(
                "values", f"{len(arr)} rows do not split into records of {rows_per_record}"
            )
        splits = np.arange(0, len(arr) + 1, rows_per_record, dtype=np.int64)
        return cls(dt, arr, splits)

    @classmethod
    def from_tensors(cls, tensors: Sequence[Tensor]) -> StackedTensor:
        """Concatenate records' tensors; they must share dtype, rank and trailing dims."""
        if not tensors:
            raise TensorCodecError("tensors", "cannot stack zero tensors (the dtype is unknown)")
        first = tensors[0]
        key = layout_key(first)
        for i, t in enumerate(tensors):
            if layout_key(t) != key:
                raise TensorCodecError(f"tensors[{i}]", f"layout {layout_key(t)} differs from {key}")
        scalar = first.data.ndim == 0
        if scalar:
            values = np.stack([t.data for t in tensors])
            splits = np.arange(len(tensors) + 1, dtype=np.int64)
        else:
            values = np.concatenate([t.data for t in tensors], axis=0)
            splits = np.zeros(len(tensors) + 1, dtype=np.int64)
            np.cumsum([t.data.shape[0] for t in tensors], out=splits[1:])
        return cls(first.dtype, values, splits, scalar, first.dim_names)

    @classmethod
    def concat(cls, parts: Sequence[StackedTensor]) -> StackedTensor:
        """Records of several stacks (of one layout) one after the other."""
        first = parts[0]
        if len(parts) == 1:
            return first
        values = np.concatenate([p.values for p in parts], axis=0)
        offsets = np.cumsum([0] + [int(p.row_splits[-1]) for p in parts[:-1]])
        splits = np.concatenate(
            [first.row_splits[:1]] + [p.row_splits[1:] + o for p, o in zip(parts, offsets, strict=True)]
        )
        return cls(first.dtype, values, splits.astype(np.int64), first.scalar, first.dim_names)


def layout_key(t: Tensor) -> tuple[Any, ...]:
    """What must agree for tensors of several records to be concatenated."""
    return (t.dtype, t.data.ndim, t.data.shape[1:], t.dim_names)


def tensors_key(tensors: dict[str, Tensor]) -> tuple[Any, ...]:
    return tuple((name, *layout_key(t)) for name, t in sorted(tensors.items()))


def stacks_key(stacks: dict[str, StackedTensor]) -> tuple[Any, ...]:
    """``tensors_key`` of any one record of these stacks."""
    return tuple(
        (name, s.dtype, 0, (), s.dim_names)
        if s.scalar
        else (name, s.dtype, s.values.ndim, s.values.shape[1:], s.dim_names)
        for name, s in sorted(stacks.items())
    )


@dataclass
class RecordFailure:
    """A payload that could not be decoded: its position in the batch and why."""

    index: int
    error: TensorCodecError


@dataclass
class SourceRequestGroup:
    """Decoded SourceRequests of one layout, stacked per input name.

    ``indices[k]`` is the position in the decoded payload list of the group's k-th record.
    ``expected_outputs`` and ``datatypes`` are per record (records of one template share objects).
    """

    indices: Int64Array
    inputs: dict[str, StackedTensor]
    expected_outputs: list[dict[str, TensorSpec]]
    datatypes: list[str]

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def row_splits(self) -> Int64Array:
        """The row splits all inputs share; TensorCodecError when their leading dims differ."""
        return common_row_splits(self.inputs, "inputs", len(self))

    def layout_key(self) -> tuple[Any, ...]:
        return stacks_key(self.inputs)

    @classmethod
    def concat(cls, parts: Sequence[SourceRequestGroup]) -> SourceRequestGroup:
        """The records of several groups of one layout, one after the other."""
        return cls(
            np.concatenate([p.indices for p in parts]),
            {n: StackedTensor.concat([p.inputs[n] for p in parts]) for n in parts[0].inputs},
            [e for p in parts for e in p.expected_outputs],
            [d for p in parts for d in p.datatypes],
        )

    def take(self, order: Int64Array) -> SourceRequestGroup:
        """The group's records at positions ``order``, in that order."""
        return SourceRequestGroup(
            self.indices[order],
            {n: s.take(order) for n, s in self.inputs.items()},
            [self.expected_outputs[k] for k in order.tolist()],
            [self.datatypes[k] for k in order.tolist()],
        )

    def request(self, k: int) -> SourceRequest:
        inputs = {name: s.record(k, name) for name, s in self.inputs.items()}
        return SourceRequest(inputs, dict(self.expected_outputs[k]), self.datatypes[k])


@dataclass
class ServingResultGroup:
    """Decoded ServingResults of one layout; error records (empty outputs) form their own groups."""

    indices: Int64Array
    inputs: dict[str, StackedTensor]
    outputs: dict[str, StackedTensor]
    metadata: list[ModelResultMetadata]
    datatypes: list[str]

    def __len__(self) -> int:
        return len(self.indices)

    def layout_key(self) -> tuple[Any, ...]:
        return (stacks_key(self.inputs), stacks_key(self.outputs))

    @classmethod
    def concat(cls, parts: Sequence[ServingResultGroup]) -> ServingResultGroup:
        """The records of several groups of one layout, one after the other."""
        return cls(
            np.concatenate([p.indices for p in parts]),
            {n: StackedTensor.concat([p.inputs[n] for p in parts]) for n in parts[0].inputs},
            {n: StackedTensor.concat([p.outputs[n] for p in parts]) for n in parts[0].outputs},
            [m for p in parts for m in p.metadata],
            [d for p in parts for d in p.datatypes],
        )

    def take(self, order: Int64Array) -> ServingResultGroup:
        """The group's records at positions ``order``, in that order."""
        return ServingResultGroup(
            self.indices[order],
            {n: s.take(order) for n, s in self.inputs.items()},
            {n: s.take(order) for n, s in self.outputs.items()},
            [self.metadata[k] for k in order.tolist()],
            [self.datatypes[k] for k in order.tolist()],
        )

    def result(self, k: int) -> ServingResult:
        return ServingResult(
            inputs={name: s.record(k, name) for name, s in self.inputs.items()},
            outputs={name: s.record(k, name) for name, s in self.outputs.items()},
            metadata=self.metadata[k],
            datatype=self.datatypes[k],
        )


G = TypeVar("G", SourceRequestGroup, ServingResultGroup)


@dataclass
class DecodedBatch(Generic[G]):
    """All payloads of one call: every index is in exactly one group or in ``failures``."""

    size: int
    groups: list[G]
    failures: list[RecordFailure]

    def records(self) -> int:
        return sum(len(g) for g in self.groups)


def common_row_splits(stacks: dict[str, StackedTensor], field: str, n: int) -> Int64Array:
    splits: Int64Array | None = None
    for name, s in stacks.items():
        if splits is None:
            splits = s.row_splits
        elif not np.array_equal(splits, s.row_splits):
            raise TensorCodecError(
                f"{field}[{name}]", "leading dims differ from the other tensors' per record"
            )
    return splits if splits is not None else np.zeros(n + 1, dtype=np.int64)
