"""Ragged templates: one layout for records whose tensors differ in their leading dim.

A recommender record carries [n, 1] tensors with n varying per record, so its bytes differ from
record to record in more than the numbers: the varints of n (a dim size, an array count) and the
length of the data. A ``RaggedTemplate`` keeps those as per-record fields and walks a whole
batch at once with numpy: constant bytes are compared at per-record offsets, varints are read in
[N, 10] windows, data is gathered with one index array. A record matches only if every constant
byte agrees, every varint is minimal, every data tensor has n ≥ 1 rows (an empty array is encoded
differently) and the record ends exactly where the layout does; anything else goes elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from inferstream.tensors.avro.convert import DATA_FIELDS, WIRE
from inferstream.tensors.avro.stacked import Int64Array, StackedTensor
from inferstream.tensors.avro.templates import (
    FIXED_WIDTH,
    SYMBOL_INDEX,
    NotTemplatable,
    SlotKey,
    TensorLike,
    avro_string,
    varint,
    varint_widths,
)
from inferstream.tensors.tensor import DType

U8 = npt.NDArray[np.uint8]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Leading:
    """The varint of a tensor's leading dim: ≥ 1 for data tensors, ≥ -1 (unknown) for shape-only specs.

    ``row_bytes`` is what one row weighs against the size limit (as the generic codec counts it).
    """

    key: SlotKey
    spec: bool
    row_bytes: int


@dataclass(frozen=True)
class Count:
    """An array's item count: must be rows × ``per_row`` of the tensor ``key``."""

    key: SlotKey
    per_row: int


@dataclass(frozen=True)
class Data:
    """A tensor's values: rows × ``row_bytes`` bytes (scalars: one row of one value)."""

    key: SlotKey
    dtype: DType
    trailing: tuple[int, ...]
    dim_names: tuple[str, ...]
    scalar: bool

    @property
    def row_bytes(self) -> int:
        return math.prod(self.trailing) * FIXED_WIDTH[self.dtype].itemsize


Part = bytes | Leading | Count | Data


def tensor_parts(key: SlotKey, t: TensorLike, with_data: bool) -> list[Part]:
    """An Avro ``Tensor`` whose leading dim is a per-record field."""
    symbol, data_field = WIRE[t.dtype]
    if with_data and t.dtype not in FIXED_WIDTH:
        raise NotTemplatable(f"{t.dtype.value} values are varints or strings")
    shape = tuple(t.shape)
    names = t.dim_names if len(t.dim_names) == len(shape) else ("",) * len(shape)
    parts: list[Part] = [varint(SYMBOL_INDEX[symbol])]
    if shape:
        if with_data and shape[0] < 1:
            raise NotTemplatable("no rows to learn the layout from")
        row_bytes = math.prod(shape[1:]) * max(t.dtype.numpy.itemsize, 1)
        parts += [varint(len(shape)), Leading(key, not with_data, row_bytes), avro_string(names[0])]
        parts += [varint(size) + avro_string(name) for size, name in zip(shape[1:], names[1:], strict=True)]
    parts.append(b"\x00")
    data = Data(key, t.dtype, shape[1:], tuple(t.dim_names), scalar=not shape)
    per_row = math.prod(shape[1:])
    for field in DATA_FIELDS:
        if not (with_data and field == data_field):
            parts.append(b"\x00")
        elif per_row == 0:
            parts += [b"\x02\x00", data]  # always an empty array, however many rows
        else:
            parts += [b"\x02", Count(key, per_row), data, b"\x00"]
    return parts


def map_parts(section: str, tensors: Mapping[str, TensorLike], with_data: bool) -> list[Part]:
    if not tensors:
        return [b"\x00"]
    parts: list[Part] = [varint(len(tensors))]
    for name, t in tensors.items():
        parts.append(avro_string(name))
        parts += tensor_parts((section, name), t, with_data)
    parts.append(b"\x00")
    return parts


T = TypeVar("T")


def merge_parts(parts: Sequence[T]) -> list[T]:
    """Adjacent constant bytes joined into one part, empty ones dropped."""
    merged: list[Any] = []
    for p in parts:
        if isinstance(p, bytes):
            if not p:
                continue
            if merged and isinstance(merged[-1], bytes):
                merged[-1] += p
                continue
        merged.append(p)
    return merged


_WINDOW = np.arange(10)
_SHIFTS = (np.arange(10) * 7).astype(np.uint64)


def _gather(buf: U8, pos: Int64Array, width: int) -> U8:
    if not len(buf):  # only empty payloads: nothing to read (they fail the walk, not the batch)
        return np.zeros((len(pos), width), dtype=np.uint8)
    idx = pos[:, None] + np.arange(width)
    np.clip(idx, 0, len(buf) - 1, out=idx)  # records already failing may point anywhere
    out: U8 = buf[idx]
    return out


def read_varints(buf: U8, pos: Int64Array) -> tuple[Int64Array, Int64Array, Bools]:
    """(values, widths, ok) of the Avro longs at ``pos``; ok is False for overlong or non-minimal ones."""
    window = _gather(buf, pos, 10)
    more = window >= 0x80
    ok: Bools = np.logical_not(more.all(axis=1))
    widths: Int64Array = np.argmin(more, axis=1).astype(np.int64) + 1
    groups = (window & 0x7F).astype(np.uint64) << _SHIFTS
    groups[_WINDOW[None, :] >= widths[:, None]] = 0
    z = np.bitwise_or.reduce(groups, axis=1)
    values: Int64Array = (z >> np.uint64(1)).astype(np.int64) ^ -(z & np.uint64(1)).astype(np.int64)
    ok &= varint_widths(values) == widths
    return values, widths, ok


@dataclass
class RaggedMatch:
    """What a batch walk found: which records match, and per record its fields."""

    ok: Bools
    ends: Int64Array  # where each record's layout ends (a ServingResult's tail starts there)
    rows: dict[SlotKey, Int64Array]  # leading dims (data tensors and specs)
    offsets: dict[SlotKey, Int64Array]  # where each data tensor's values start


@dataclass
class RaggedTemplate:
    parts: list[Part]

    @classmethod
    def compile(cls, parts: Sequence[Part]) -> RaggedTemplate:
        return cls(merge_parts(parts))

    @property
    def data(self) -> list[Data]:
        return [p for p in self.parts if isinstance(p, Data)]

    def walk(self, buf: U8, starts: Int64Array, ends: Int64Array, max_bytes: int, whole: bool) -> RaggedMatch:
        """Walk every record (``buf[starts[i]:ends[i]]``) through the layout at once.

        ``whole``: the layout must end exactly at the record's end (else a tail may follow).
        """
        pos = starts.copy()
        ok = np.ones(len(starts), dtype=bool)
        rows: dict[SlotKey, Int64Array] = {}
        offsets: dict[SlotKey, Int64Array] = {}
        for part in self.parts:
            if isinstance(part, bytes):
                ok &= (_gather(buf, pos, len(part)) == np.frombuffer(part, dtype=np.uint8)).all(axis=1)
                pos += len(part)
            elif isinstance(part, Leading):
                values, widths, good = read_varints(buf, pos)
                ok &= good & (values >= (-1 if part.spec else 1)) & (values <= max_bytes)
                ok &= np.maximum(values, 0) * part.row_bytes <= max_bytes
                rows[part.key] = np.where(ok, values, 1)
                pos += widths
            elif isinstance(part, Count):
                values, widths, good = read_varints(buf, pos)
                n = rows.get(part.key, 1)  # a scalar has no leading dim: one row
                ok &= good & (values == n * part.per_row)
                pos += widths
            else:
                nbytes = rows.get(part.key, 1) * part.row_bytes
                ok &= nbytes <= max_bytes
                offsets[part.key] = pos.copy()
                pos += np.where(ok, nbytes, 0)
            ok &= pos <= ends
        ok &= (pos == ends) if whole else (pos < ends)
        return RaggedMatch(ok, pos, rows, offsets)

    def extract(self, buf: U8, match: RaggedMatch, records: Int64Array) -> dict[SlotKey, StackedTensor]:
        """Stacked values of the matched ``records`` (positions into the walked batch)."""
        out: dict[SlotKey, StackedTensor] = {}
        for part in self.data:
            n = match.rows[part.key][records] if part.key in match.rows else np.ones(len(records), np.int64)
            splits = np.zeros(len(records) + 1, dtype=np.int64)
            np.cumsum(n, out=splits[1:])
            nbytes = n * part.row_bytes
            total = int(nbytes.sum())
            starts_out = np.cumsum(nbytes) - nbytes
            idx = np.repeat(match.offsets[part.key][records] - starts_out, nbytes) + np.arange(total)
            wire = FIXED_WIDTH[part.dtype]
            values: npt.NDArray[Any] = buf[idx].view(wire).astype(part.dtype.numpy, copy=False)
            values = values.reshape((len(records),) if part.scalar else (int(splits[-1]), *part.trailing))
            out[part.key] = StackedTensor(part.dtype, values, splits, part.scalar, part.dim_names)
        return out
