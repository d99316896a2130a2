"""Batch decoding on the fast path: uniform templates, then ragged ones, then learning.

1. Uniform: payloads of one length are checked against the templates learned for that length
   (an [N, length] byte comparison; numbers read with one view).
2. Ragged: what is left is walked at once through the ragged templates (records whose leading
   dims differ, e.g. recommender [n, 1] tensors).
3. Learning: the first record still left is decoded generically and both kinds of template are
   learned from it (a few times per call); then steps 1–2 repeat for the rest.
Whatever no template matches comes back as leftover indices for the generic codec. Learned
templates live in small bounded caches shared by all calls.
"""

from __future__ import annotations

import dataclasses
import io
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import fastavro
import numpy as np
import numpy.typing as npt

from inferstream.tensors.avro import generic
from inferstream.tensors.avro.grouping import BoundedCache, split_by
from inferstream.tensors.avro.ragged import Leading, RaggedMatch, RaggedTemplate, map_parts
from inferstream.tensors.avro.records import ModelResultMetadata, ServingResult, SourceRequest, TensorSpec
from inferstream.tensors.avro.stacked import (
    Int64Array,
    RecordFailure,
    ServingResultGroup,
    SourceRequestGroup,
    StackedTensor,
)
from inferstream.tensors.avro.templates import (
    FIXED_WIDTH,
    Gap,
    NotTemplatable,
    Slot,
    SlotKey,
    StringSlot,
    Template,
    avro_string,
    map_segments,
    utf8_or_none,
    varint,
)
from inferstream.tensors.tensor import Tensor, TensorCodecError

MAX_LEARN_PER_CALL = 4  # records decoded to learn templates from, per call (corrupt ones do not count)
MAX_TEMPLATES = 256  # payload lengths with uniform templates; a full cache is emptied
MAX_TEMPLATES_PER_LENGTH = 8
MAX_RAGGED = 16  # ragged templates, most recently learned first
MAX_TAILS = 4096

U8 = npt.NDArray[np.uint8]
DATATYPE: SlotKey = ("", "datatype")
R = TypeVar("R", SourceRequest, ServingResult)
G = TypeVar("G", SourceRequestGroup, ServingResultGroup)


@dataclass
class Uniform:
    template: Template
    constants: Any  # what the constant bytes decode to (e.g. expected outputs and datatype)
    tensor_bytes: int  # the largest tensor (or announced output) of a record, against the size limit


@dataclass
class Ragged:
    template: RaggedTemplate
    constants: Any


@dataclass
class Caches:
    uniform: BoundedCache[int, list[Uniform]]
    ragged: list[Ragged]

    def remember(self, length: int, uniform: Uniform | None, ragged: Ragged | None) -> None:
        if uniform is not None:
            same_length = self.uniform.get(length) or self.uniform.put(length, [])
            same_length.insert(0, uniform)
            del same_length[MAX_TEMPLATES_PER_LENGTH:]
        if ragged is not None:
            self.ragged.insert(0, ragged)
            del self.ragged[MAX_RAGGED:]


@dataclass
class Kind(Generic[R, G]):
    """How one record type is learned and emitted."""

    caches: Caches
    learn: Callable[[bytes, int], tuple[Uniform | None, Ragged | None, R | TensorCodecError]]
    # (template, payload indices, [N, length] rows, payloads) -> (group or None, indices it gave back)
    emit_uniform: Callable[[Uniform, Int64Array, U8, Sequence[bytes]], tuple[G | None, Int64Array]]
    # (template, payload indices, flat buffer, walk, hits: positions in the walk, walk starts, payloads)
    emit_ragged: Callable[
        [Ragged, Int64Array, U8, RaggedMatch, Int64Array, Int64Array, Sequence[bytes]],
        tuple[G | None, Int64Array],
    ]
    whole: bool  # the layout covers the whole record (no tail)


@dataclass
class Outcome(Generic[R, G]):
    groups: list[G]
    decoded: list[tuple[int, R]]  # decoded generically while learning
    failures: list[RecordFailure]
    leftover: list[int]  # for the generic codec


def decode(kind: Kind[R, G], payloads: Sequence[bytes], max_bytes: int) -> Outcome[R, G]:
    """Uniform pass, ragged pass, then learn from what is left (see the module docstring)."""
    n = len(payloads)
    lengths = np.fromiter(map(len, payloads), dtype=np.int64, count=n)
    out: Outcome[R, G] = Outcome([], [], [], [])
    rest = _uniform_pass(kind, payloads, lengths, np.arange(n, dtype=np.int64), max_bytes, out, None)
    rest = _ragged_pass(kind, payloads, lengths, rest, max_bytes, out, kind.caches.ragged)
    budget = MAX_LEARN_PER_CALL
    while rest.size and budget:
        first = int(rest[0])
        uniform, ragged, value = kind.learn(payloads[first], max_bytes)
        if isinstance(value, TensorCodecError):
            out.failures.append(RecordFailure(first, value))
            rest = rest[1:]
            continue
        budget -= 1
        kind.caches.remember(len(payloads[first]), uniform, ragged)
        if uniform is not None:
            rest = _uniform_pass(kind, payloads, lengths, rest, max_bytes, out, [uniform])
        if ragged is not None:
            rest = _ragged_pass(kind, payloads, lengths, rest, max_bytes, out, [ragged])
        if rest.size and rest[0] == first:  # no template took it: the generic result stands
            out.decoded.append((first, value))
            rest = rest[1:]
    out.leftover = rest.tolist()
    return out


def _uniform_pass(
    kind: Kind[R, G],
    payloads: Sequence[bytes],
    lengths: Int64Array,
    indices: Int64Array,
    max_bytes: int,
    out: Outcome[R, G],
    only: list[Uniform] | None,
) -> Int64Array:
    """Match ``indices`` against uniform templates (``only`` these, else the cached ones per length)."""
    left: list[Int64Array] = []
    # a length shared by few records of a ragged stream is cheaper in the one ragged walk
    small = len(indices) // 4 if only is None and kind.caches.ragged else 0
    for part in split_by(lengths[indices]):
        idx = indices[part]
        length = int(lengths[idx[0]])
        if len(idx) < small:
            left.append(idx)
            continue
        templates = only if only is not None else kind.caches.uniform.get(length, [])
        candidates = [t for t in templates if t.tensor_bytes <= max_bytes and _fits(kind, t.template, length)]
        if not candidates:
            left.append(idx)
            continue
        chosen = payloads if len(idx) == len(payloads) else [payloads[i] for i in idx.tolist()]
        rows = np.frombuffer(b"".join(chosen), dtype=np.uint8).reshape(len(idx), length)
        pending = np.arange(len(idx))
        for learned in candidates:
            view = rows if len(pending) == len(idx) else rows[pending]
            ok = learned.template.matches(view[:, : learned.template.length])
            if ok.any():
                group, unmatched = kind.emit_uniform(learned, idx[pending[ok]], view[ok], payloads)
                if group is not None:
                    out.groups.append(group)
                left.append(unmatched)
                pending = pending[~ok]
            if not pending.size:
                break
        left.append(idx[pending])
    return np.sort(np.concatenate(left)) if left else np.zeros(0, dtype=np.int64)


def _fits(kind: Kind[R, G], template: Template, length: int) -> bool:
    """A whole-record template has the payload's length; a prefix leaves room for the tail."""
    return template.length == length if kind.whole else template.length < length


def _ragged_pass(
    kind: Kind[R, G],
    payloads: Sequence[bytes],
    lengths: Int64Array,
    indices: Int64Array,
    max_bytes: int,
    out: Outcome[R, G],
    templates: list[Ragged],
) -> Int64Array:
    """Walk ``indices`` through ragged templates, all records at once per template."""
    if not indices.size or not templates:
        return indices
    buf = np.frombuffer(b"".join([payloads[i] for i in indices.tolist()]), dtype=np.uint8)
    ends = np.cumsum(lengths[indices])
    starts = ends - lengths[indices]
    pending = np.arange(len(indices))
    left: list[Int64Array] = []
    for learned in list(templates):
        match = learned.template.walk(buf, starts[pending], ends[pending], max_bytes, kind.whole)
        hits = np.flatnonzero(match.ok)
        if hits.size:
            walked = starts[pending]
            group, unmatched = kind.emit_ragged(
                learned, indices[pending[hits]], buf, match, hits, walked, payloads
            )
            if group is not None:
                out.groups.append(group)
            left.append(unmatched)
            pending = pending[~match.ok]
        if not pending.size:
            break
    left.append(indices[pending])
    return np.sort(np.concatenate(left))


def _render_one(template: Template, tensors: Mapping[SlotKey, Tensor], text: bytes = b"") -> bytes:
    def fill(slot: Gap) -> U8:
        if not isinstance(slot, Slot):  # the datatype's StringSlot (VarintSlots are not decoded)
            return np.frombuffer(text, dtype=np.uint8).reshape(1, -1)
        tensor = tensors[slot.key]
        wire = np.ascontiguousarray(tensor.data, dtype=FIXED_WIDTH[tensor.dtype])
        return wire.view(np.uint8).reshape(1, -1)

    return template.render(1, fill)[0]


def _keyed(inputs: Mapping[str, Tensor], outputs: Mapping[str, Tensor]) -> dict[SlotKey, Tensor]:
    return {
        **{("inputs", k): v for k, v in inputs.items()},
        **{("outputs", k): v for k, v in outputs.items()},
    }


def _sections(stacks: Mapping[SlotKey, StackedTensor], section: str) -> dict[str, StackedTensor]:
    return {name: s for (sec, name), s in stacks.items() if sec == section}


# --- SourceRequest ------------------------------------------------------------------------------


def _learn_request(
    payload: bytes, max_bytes: int
) -> tuple[Uniform | None, Ragged | None, SourceRequest | TensorCodecError]:
    try:
        request = generic.decode_source_request(payload, max_bytes)
    except TensorCodecError as exc:
        return None, None, exc
    constants = (request.expected_outputs, request.datatype)
    uniform = ragged = None
    text = request.datatype.encode("utf-8")
    try:
        template = Template.compile(
            [
                *map_segments("inputs", request.inputs, True),
                *map_segments("outputs", request.expected_outputs, False),
                # a slot: streams may tag each record's datatype (e.g. with a sequence number)
                varint(len(text)),
                StringSlot(DATATYPE, len(text)),
            ]
        )
        # a payload written differently (e.g. arrays in several blocks) is valid but not templatable
        if _render_one(template, _keyed(request.inputs, {}), text) == payload:
            specs = request.expected_outputs.values()
            spec_bytes = [max(s.size, 0) * max(s.dtype.numpy.itemsize, 1) for s in specs]
            uniform = Uniform(template, constants, max([template.max_tensor_bytes, *spec_bytes]))
            ragged_parts = [
                *map_parts("inputs", request.inputs, True),
                *map_parts("outputs", request.expected_outputs, False),
                avro_string(request.datatype),
            ]
            ragged = Ragged(RaggedTemplate.compile(ragged_parts), constants)
    except NotTemplatable:
        pass
    return uniform, ragged, request


def _emit_request_uniform(
    learned: Uniform, indices: Int64Array, rows: U8, payloads: Sequence[bytes]
) -> tuple[SourceRequestGroup | None, Int64Array]:
    expected, _ = learned.constants
    texts = learned.template.texts(rows)[DATATYPE]
    good = np.fromiter((t is not None for t in texts), dtype=bool, count=len(texts))
    datatypes = [t for t in texts if t is not None]
    if not datatypes:
        return None, indices
    if len(datatypes) < len(texts):  # not UTF-8: the generic codec reports those records
        rows = rows[good]
    inputs = _sections(learned.template.extract(rows), "inputs")
    group = SourceRequestGroup(indices[good], inputs, [expected] * len(datatypes), datatypes)
    return group, indices[~good]


def _emit_request_ragged(
    learned: Ragged,
    indices: Int64Array,
    buf: U8,
    match: RaggedMatch,
    hits: Int64Array,
    starts: Int64Array,
    payloads: Sequence[bytes],
) -> tuple[SourceRequestGroup, Int64Array]:
    expected, datatype = learned.constants
    inputs = _sections(learned.template.extract(buf, match, hits), "inputs")
    specs = _expected_per_record(learned, expected, match, hits)
    return SourceRequestGroup(indices, inputs, specs, [datatype] * len(hits)), indices[:0]


def _expected_per_record(
    learned: Ragged, expected: dict[str, TensorSpec], match: RaggedMatch, hits: Int64Array
) -> list[dict[str, TensorSpec]]:
    """Expected outputs whose leading dim is per record (a recommender announces [n, 1])."""
    keys = [p.key for p in learned.template.parts if isinstance(p, Leading) and p.spec]
    if not keys:
        return [expected] * len(hits)
    dims = np.stack([match.rows[k][hits] for k in keys])
    per_record: list[dict[str, TensorSpec]] = [expected] * len(hits)
    for part in split_by(dims):
        column = dims[:, part[0]].tolist()
        specs = dict(expected)
        for (_, name), size in zip(keys, column, strict=True):
            specs[name] = dataclasses.replace(expected[name], shape=(size, *expected[name].shape[1:]))
        for k in part.tolist():
            per_record[k] = specs
    return per_record


REQUESTS: Kind[SourceRequest, SourceRequestGroup] = Kind(
    Caches(BoundedCache(MAX_TEMPLATES), []),
    _learn_request,
    _emit_request_uniform,
    _emit_request_ragged,
    whole=True,
)


# --- ServingResult ------------------------------------------------------------------------------
# ServingResults end in metadata whose startTime/duration vary from call to call, so templates
# cover the tensors only (a prefix) and the tail is decoded once per distinct tail.

_TAILS: BoundedCache[bytes, tuple[ModelResultMetadata, str]] = BoundedCache(MAX_TAILS)
_TAIL_SCHEMA = fastavro.parse_schema(
    {
        "type": "record",
        "name": "ServingResultTail",
        "fields": [
            {"name": "errors", "type": "string"},
            {"name": "modelName", "type": "string"},
            {"name": "source", "type": "string"},
            {"name": "startTime", "type": "long"},
            {"name": "duration", "type": "long"},
            {"name": "datatype", "type": "string"},
        ],
    }
)


def _tail(tail: bytes) -> tuple[ModelResultMetadata, str] | None:
    known = _TAILS.get(tail)
    if known is not None:
        return known
    stream = io.BytesIO(tail)
    try:
        r = fastavro.schemaless_reader(stream, _TAIL_SCHEMA, None)
    except Exception:  # any malformed tail: the generic codec will say precisely why
        return None
    if stream.tell() != len(tail) or not isinstance(r, dict):
        return None
    meta = ModelResultMetadata(r["errors"], r["modelName"], r["source"], r["startTime"], r["duration"])
    return _TAILS.put(tail, (meta, r["datatype"]))


def _learn_result(
    payload: bytes, max_bytes: int
) -> tuple[Uniform | None, Ragged | None, ServingResult | TensorCodecError]:
    try:
        result = generic.decode_serving_result(payload, max_bytes)
    except TensorCodecError as exc:
        return None, None, exc
    uniform = ragged = None
    try:
        template = Template.compile(
            [*map_segments("inputs", result.inputs, True), *map_segments("outputs", result.outputs, True)]
        )
        prefix = _render_one(template, _keyed(result.inputs, result.outputs))
        if payload[: len(prefix)] == prefix:
            uniform = Uniform(template, None, template.max_tensor_bytes)
            parts = [*map_parts("inputs", result.inputs, True), *map_parts("outputs", result.outputs, True)]
            ragged = Ragged(RaggedTemplate.compile(parts), None)
    except NotTemplatable:
        pass
    return uniform, ragged, result


def _result_group(
    indices: Int64Array,
    stacks: Mapping[SlotKey, StackedTensor],
    tails: list[tuple[ModelResultMetadata, str] | None],
) -> tuple[ServingResultGroup | None, Int64Array]:
    """The group, minus records whose tail does not parse (returned for the generic codec)."""
    good = np.fromiter((t is not None for t in tails), dtype=bool, count=len(tails))
    known = [t for t in tails if t is not None]
    if not good.all():
        keep = np.flatnonzero(good)
        stacks = {key: s.take(keep) for key, s in stacks.items()}
        if not keep.size:
            return None, indices
    group = ServingResultGroup(
        indices[good],
        _sections(stacks, "inputs"),
        _sections(stacks, "outputs"),
        [m for m, _ in known],
        [d for _, d in known],
    )
    return group, indices[~good]


def _emit_result_uniform(
    learned: Uniform, indices: Int64Array, rows: U8, payloads: Sequence[bytes]
) -> tuple[ServingResultGroup | None, Int64Array]:
    tails = _uniform_tails(rows[:, learned.template.length :])
    return _result_group(indices, learned.template.extract(rows), tails)


def _varints(block: U8) -> tuple[Int64Array, npt.NDArray[np.bool_]]:
    """Avro longs of one encoded width (at most 9 bytes), one per row, and which rows are varints."""
    valid = (block[:, :-1] >= 0x80).all(axis=1) & (block[:, -1] < 0x80)
    z = np.zeros(len(block), dtype=np.uint64)
    for j in range(block.shape[1]):
        z |= (block[:, j] & 0x7F).astype(np.uint64) << np.uint64(7 * j)
    values: Int64Array = (z >> np.uint64(1)).astype(np.int64) ^ -(z & np.uint64(1)).astype(np.int64)
    return values, valid


def _uniform_tails(rows: U8) -> list[tuple[ModelResultMetadata, str] | None]:
    """Tails of equal length, read at once when they differ from the first only in startTime,
    duration and the datatype's text (e.g. a per-record sequence tag); the others one by one."""
    n, length = rows.shape
    first = _tail(rows[0].tobytes()) if n else None
    if first is None or n < 2:
        return [_tail(r.tobytes()) for r in rows]
    meta, datatype = first
    head = avro_string(meta.errors) + avro_string(meta.model_name) + avro_string(meta.source)
    text = datatype.encode("utf-8")
    p, sw, dw = len(head), len(varint(meta.start_time)), len(varint(meta.duration))
    tw = len(varint(len(text)))
    q = p + sw + dw
    if q + tw + len(text) != length or max(sw, dw) > 9:
        return [_tail(r.tobytes()) for r in rows]
    starts, ok = _varints(rows[:, p : p + sw])
    durations, ok_duration = _varints(rows[:, p + sw : q])
    ok &= ok_duration
    ok &= (rows[:, :p] == np.frombuffer(head, dtype=np.uint8)).all(axis=1)
    ok &= (rows[:, q : q + tw] == np.frombuffer(varint(len(text)), dtype=np.uint8)).all(axis=1)
    block = rows[:, q + tw :]
    if bool((block == block[:1]).all()):
        texts: list[str | None] = [datatype] * n
    else:
        raw = struct.unpack(f"{len(text)}s" * n, np.ascontiguousarray(block).tobytes())
        texts = [utf8_or_none(b) for b in raw]
    metas: dict[tuple[int, int], ModelResultMetadata] = {}
    out: list[tuple[ModelResultMetadata, str] | None] = []
    for k, (good, start, duration, dt) in enumerate(
        zip(ok.tolist(), starts.tolist(), durations.tolist(), texts, strict=True)
    ):
        if not good or dt is None:
            out.append(_tail(rows[k].tobytes()))
            continue
        m = metas.get((start, duration))
        if m is None:
            m = metas[start, duration] = dataclasses.replace(meta, start_time=start, duration=duration)
        out.append((m, dt))
    return out


def _emit_result_ragged(
    learned: Ragged,
    indices: Int64Array,
    buf: U8,
    match: RaggedMatch,
    hits: Int64Array,
    starts: Int64Array,
    payloads: Sequence[bytes],
) -> tuple[ServingResultGroup | None, Int64Array]:
    prefix = (match.ends[hits] - starts[hits]).tolist()
    tails = [_tail(bytes(payloads[i][p:])) for i, p in zip(indices.tolist(), prefix, strict=True)]
    return _result_group(indices, learned.template.extract(buf, match, hits), tails)


RESULTS: Kind[ServingResult, ServingResultGroup] = Kind(
    Caches(BoundedCache(MAX_TEMPLATES), []),
    _learn_result,
    _emit_result_uniform,
    _emit_result_ragged,
    whole=False,
)


def decode_source_requests(
    payloads: Sequence[bytes], max_bytes: int
) -> Outcome[SourceRequest, SourceRequestGroup]:
    return decode(REQUESTS, payloads, max_bytes)


def decode_serving_results(
    payloads: Sequence[bytes], max_bytes: int
) -> Outcome[ServingResult, ServingResultGroup]:
    return decode(RESULTS, payloads, max_bytes)
