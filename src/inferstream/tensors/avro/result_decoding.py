"""ServingResults on the fast path: how their templates are learned and their groups emitted.

ServingResults end in metadata whose startTime/duration vary from call to call, so templates
cover the tensors only (a prefix) and the tail is decoded once per distinct tail.
"""

from __future__ import annotations

import dataclasses
import io
import struct
from collections.abc import Mapping, Sequence

import fastavro
import numpy as np
import numpy.typing as npt

from inferstream.tensors.avro import generic
from inferstream.tensors.avro.grouping import BoundedCache
from inferstream.tensors.avro.ragged import RaggedMatch, RaggedTemplate, map_parts
from inferstream.tensors.avro.records import ModelResultMetadata, ServingResult
from inferstream.tensors.avro.stacked import Int64Array, ServingResultGroup, StackedTensor
from inferstream.tensors.avro.template_decoding import (
    MAX_TEMPLATES,
    U8,
    Caches,
    Kind,
    Ragged,
    Uniform,
    keyed,
    learner,
    render_one,
    sections,
)
from inferstream.tensors.avro.templates import (
    SlotKey,
    Template,
    avro_string,
    map_segments,
    utf8_or_none,
    varint,
)

MAX_TAILS = 4096

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


def _result_uniform(result: ServingResult, payload: bytes) -> Uniform | None:
    template = Template.compile(
        [*map_segments("inputs", result.inputs, True), *map_segments("outputs", result.outputs, True)]
    )
    prefix = render_one(template, keyed(result.inputs, result.outputs))
    return Uniform(template, None, template.max_tensor_bytes) if payload[: len(prefix)] == prefix else None


def _result_ragged(result: ServingResult) -> Ragged:
    parts = [*map_parts("inputs", result.inputs, True), *map_parts("outputs", result.outputs, True)]
    return Ragged(RaggedTemplate.compile(parts), None)


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
        sections(stacks, "inputs"),
        sections(stacks, "outputs"),
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
    if bool((rows == rows[:1]).all()):  # one model call's records: one tail (the usual case)
        return [first] * n
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
    learner(generic.decode_serving_result, _result_uniform, _result_ragged),
    _emit_result_uniform,
    _emit_result_ragged,
    whole=False,
)
