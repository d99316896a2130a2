"""Byte templates: the fast path of the batch codecs.

Records of one stream share one byte layout except for their numbers: the same map keys, dtypes,
shapes and strings, then a fixed-width run of little-endian floats. A ``Template`` is that layout
learned once: constant bytes with gaps (``Slot``s) for the numbers. Decoding checks a whole batch
against it with one byte comparison per constant span and reads every slot with one numpy view;
encoding broadcasts the constant bytes into an [N, length] array and copies the numbers in.

Only fixed-width tensors (float, double, bool, complex) have slots; a layout with int or string
data is not templatable (ints are zigzag varints) and goes through the generic codec.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from inferstream.tensors.avro.convert import DATA_FIELDS, WIRE
from inferstream.tensors.avro.stacked import StackedTensor
from inferstream.tensors.tensor import DType

# Avro encodes these as fixed-width little-endian values: numpy can move them in bulk.
FIXED_WIDTH: dict[DType, np.dtype[Any]] = {
    DType.DT_FLOAT: np.dtype("<f4"),
    DType.DT_DOUBLE: np.dtype("<f8"),
    DType.DT_BOOL: np.dtype(np.uint8),
    DType.DT_COMPLEX64: np.dtype("<c8"),  # an Avro {real, imaginary} pair has numpy's complex layout
    DType.DT_COMPLEX128: np.dtype("<c16"),
}
SYMBOL_INDEX = {"DT_FLOAT": 0, "DT_DOUBLE": 1, "DT_INT64": 2, "DT_INT32": 3, "DT_STRING": 4, "DT_BOOL": 5}

SlotKey = tuple[str, str]  # (section, tensor name), e.g. ("inputs", "transaction")


class NotTemplatable(Exception):
    """The record holds data the template fast path does not move (ints, strings)."""


class TensorLike(Protocol):
    @property
    def dtype(self) -> DType: ...
    @property
    def shape(self) -> tuple[int, ...]: ...
    @property
    def dim_names(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class TensorInfo:
    """dtype, shape and dim names of one record's tensor: all a layout needs."""

    dtype: DType
    shape: tuple[int, ...]
    dim_names: tuple[str, ...] = ()


def varint(n: int) -> bytes:
    """Avro long/int: zigzag, then base-128 varint."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def avro_string(s: str) -> bytes:
    raw = s.encode("utf-8")
    return varint(len(raw)) + raw


@dataclass(frozen=True)
class Slot:
    """A gap in a template: one record's values of one tensor, fixed width."""

    key: SlotKey
    info: TensorInfo

    @cached_property  # read per slot on every decoded batch: computed once per template
    def count(self) -> int:
        return int(np.prod(self.info.shape, dtype=np.int64))

    @cached_property
    def nbytes(self) -> int:
        return self.count * FIXED_WIDTH[self.info.dtype].itemsize

    @property
    def scalar(self) -> bool:
        return not self.info.shape

    @property
    def rows(self) -> int:
        return self.info.shape[0] if self.info.shape else 1


@dataclass(frozen=True)
class VarintSlot:
    """A gap for an Avro long of a known encoded width (encoding only): e.g. startTime, duration."""

    key: SlotKey
    nbytes: int


@dataclass(frozen=True)
class StringSlot:
    """A gap for the UTF-8 bytes of an Avro string of a known byte length (its length prefix stays
    constant): a per-record text such as a sequence-tagged ``datatype`` then costs no template miss."""

    key: SlotKey
    nbytes: int


Gap = Slot | VarintSlot | StringSlot


_VARINT_LIMITS = np.array([1 << (7 * k) for k in range(1, 10)], dtype=np.uint64)


def zigzag(values: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
    v = values.astype(np.int64, copy=False)
    return ((v << 1) ^ (v >> 63)).view(np.uint64)


def varint_widths(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Bytes each long takes as an Avro varint (1 to 10)."""
    z = zigzag(values)
    widths: npt.NDArray[np.int64] = 1 + (z[:, None] >= _VARINT_LIMITS[None, :]).sum(axis=1, dtype=np.int64)
    return widths


def varint_bytes(values: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.uint8]:
    """[N, width] Avro varints of longs that all take ``width`` bytes."""
    z = zigzag(values)
    out = np.empty((len(z), width), dtype=np.uint8)
    for j in range(width):
        group = ((z >> np.uint64(7 * j)) & np.uint64(0x7F)).astype(np.uint8)
        out[:, j] = group | 0x80 if j < width - 1 else group
    return out


def tensor_segments(key: SlotKey, t: TensorLike, with_data: bool) -> list[bytes | Slot]:
    """The Avro ``Tensor`` record as constant bytes and (when ``with_data``) one Slot."""
    symbol, data_field = WIRE[t.dtype]
    if with_data and t.dtype not in FIXED_WIDTH:
        raise NotTemplatable(f"{t.dtype.value} values are varints or strings")
    shape = tuple(t.shape)
    names = t.dim_names if len(t.dim_names) == len(shape) else ("",) * len(shape)
    head = bytearray(varint(SYMBOL_INDEX[symbol]))
    if shape:
        head += varint(len(shape))
        for size, name in zip(shape, names, strict=True):
            head += varint(size) + avro_string(name)
    head += b"\x00"
    segments: list[bytes | Slot] = [bytes(head)]
    slot = Slot(key, TensorInfo(t.dtype, shape, tuple(t.dim_names)))
    for field in DATA_FIELDS:
        if not (with_data and field == data_field):
            segments.append(b"\x00")  # union branch 0: null
        elif slot.count:
            segments += [b"\x02" + varint(slot.count), slot, b"\x00"]
        else:
            segments += [b"\x02\x00", slot]  # an empty array; the slot is zero bytes wide
    return segments


def map_segments(section: str, tensors: Mapping[str, TensorLike], with_data: bool) -> list[bytes | Slot]:
    """An Avro map of tensors, written as fastavro does: one block, then the end marker."""
    if not tensors:
        return [b"\x00"]
    segments: list[bytes | Slot] = [varint(len(tensors))]
    for name, t in tensors.items():
        segments.append(avro_string(name))
        segments += tensor_segments((section, name), t, with_data)
    segments.append(b"\x00")
    return segments


@dataclass
class Template:
    """A compiled layout: ``length`` bytes, constant except at the slots."""

    length: int
    const: npt.NDArray[np.uint8]
    spans: list[tuple[int, int]]  # constant byte ranges
    slots: list[tuple[Slot, int]]  # slot and its byte offset
    varints: list[tuple[VarintSlot, int]]
    strings: list[tuple[StringSlot, int]]

    @classmethod
    def compile(cls, segments: Iterable[bytes | Gap]) -> Template:
        const = bytearray()
        spans: list[tuple[int, int]] = []
        slots: list[tuple[Slot, int]] = []
        varints: list[tuple[VarintSlot, int]] = []
        strings: list[tuple[StringSlot, int]] = []
        for seg in segments:
            start = len(const)
            if isinstance(seg, VarintSlot):
                varints.append((seg, start))
                const += bytes(seg.nbytes)
                continue
            if isinstance(seg, StringSlot):
                strings.append((seg, start))
                const += bytes(seg.nbytes)
                continue
            if isinstance(seg, Slot):
                slots.append((seg, start))
                const += bytes(seg.nbytes)
                continue
            const += seg
            if spans and spans[-1][1] == start:
                spans[-1] = (spans[-1][0], len(const))
            elif seg:
                spans.append((start, len(const)))
        return cls(
            len(const), np.frombuffer(bytes(const), dtype=np.uint8), spans, slots, varints, strings
        )

    @property
    def max_tensor_bytes(self) -> int:
        return max((slot.nbytes for slot, _ in self.slots), default=0)

    def matches(self, rows: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
        """Which rows of an [N, length] byte array have this layout (bools must be 0 or 1)."""
        ok = np.ones(len(rows), dtype=bool)
        for start, end in self.spans:
            ok &= (rows[:, start:end] == self.const[start:end]).all(axis=1)
        for slot, offset in self.slots:
            if slot.info.dtype is DType.DT_BOOL and slot.nbytes:
                ok &= (rows[:, offset : offset + slot.nbytes] <= 1).all(axis=1)
        return ok

    def extract(self, rows: npt.NDArray[np.uint8]) -> dict[SlotKey, StackedTensor]:
        """The numbers of matching rows, stacked per slot."""
        n = len(rows)
        out: dict[SlotKey, StackedTensor] = {}
        for slot, offset in self.slots:
            info = slot.info
            raw = np.ascontiguousarray(rows[:, offset : offset + slot.nbytes])
            values = raw.view(FIXED_WIDTH[info.dtype]).astype(info.dtype.numpy, copy=False)
            values = values.reshape((n * slot.rows, *info.shape[1:]) if info.shape else (n,))
            splits = np.arange(n + 1, dtype=np.int64) * slot.rows
            out[slot.key] = StackedTensor(info.dtype, values, splits, slot.scalar, info.dim_names)
        return out

    def texts(self, rows: npt.NDArray[np.uint8]) -> dict[SlotKey, list[str | None]]:
        """The strings of the string slots of matching rows; None where the bytes are not UTF-8."""
        n = len(rows)
        out: dict[SlotKey, list[str | None]] = {}
        for slot, offset in self.strings:
            block = rows[:, offset : offset + slot.nbytes]
            if n and bool((block == block[:1]).all()):  # one text for all (the usual untagged stream)
                out[slot.key] = [utf8_or_none(bytes(block[0]))] * n
                continue
            raw = np.ascontiguousarray(block).tobytes()
            out[slot.key] = [utf8_or_none(b) for b in struct.unpack(f"{slot.nbytes}s" * n, raw)]
        return out

    def render(self, n: int, fill: Callable[[Gap], npt.NDArray[np.uint8]]) -> list[bytes]:
        """``n`` records: the constant bytes, with ``fill(slot)`` ([n, slot.nbytes]) in each slot."""
        rows = np.empty((n, self.length), dtype=np.uint8)
        for start, end in self.spans:  # spans and slots cover every byte exactly once
            rows[:, start:end] = self.const[start:end]
        gaps: list[tuple[Gap, int]] = [*self.slots, *self.varints, *self.strings]
        for slot, offset in gaps:
            if slot.nbytes:
                rows[:, offset : offset + slot.nbytes] = fill(slot)
        # one C call cuts the buffer into n bytes objects (faster than n Python slices)
        return list(struct.unpack(f"{self.length}s" * n, rows.tobytes())) if n else []


def utf8_or_none(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def slot_bytes(stack: StackedTensor, records: npt.NDArray[np.int64], rows: int) -> npt.NDArray[np.uint8]:
    """The values of ``records`` (each ``rows`` rows) as an [len(records), bytes] array of wire bytes."""
    wire = FIXED_WIDTH[stack.dtype]
    values = stack.values
    n_all = len(stack)
    whole = len(records) == n_all and stack.row_splits[0] == 0 and len(values) == n_all * rows
    if whole and (n_all < 2 or bool((records[1:] > records[:-1]).all())):
        picked = values  # every record, in order, all of ``rows`` rows: no gather needed
    else:
        starts = stack.row_splits[records]
        picked = values[(starts[:, None] + np.arange(rows)).reshape(-1)]
    wire_values = np.ascontiguousarray(picked, dtype=wire) if wire.kind != "u" else picked.astype(np.uint8)
    return wire_values.view(np.uint8).reshape(len(records), -1)


def slot_bytes_ragged(stack: StackedTensor, records: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
    """The wire bytes of ``records``' rows, one record after the other (rows may differ per record)."""
    wire = FIXED_WIDTH[stack.dtype]
    n_all = len(stack)
    if (
        len(records) == n_all
        and (n_all < 2 or bool((np.diff(records) == 1).all()))
        and stack.row_splits[0] == 0
    ):
        picked = stack.values[: int(stack.row_splits[-1])]
    else:
        starts, counts = stack.row_splits[records], np.diff(stack.row_splits)[records]
        ends = np.cumsum(counts)
        picked = stack.values[
            np.repeat(starts - (ends - counts), counts) + np.arange(int(ends[-1]) if len(ends) else 0)
        ]
    wire_values = np.ascontiguousarray(picked, dtype=wire) if wire.kind != "u" else picked.astype(np.uint8)
    return wire_values.view(np.uint8).reshape(-1)


def record_infos(stacks: Mapping[str, StackedTensor], rows: Sequence[int]) -> dict[str, TensorInfo]:
    """Per-record tensor shapes of stacks whose records have ``rows`` rows each."""
    infos = {}
    for (name, s), r in zip(stacks.items(), rows, strict=True):
        shape = () if s.scalar else (int(r), *s.values.shape[1:])
        infos[name] = TensorInfo(s.dtype, shape, s.dim_names)
    return infos
