"""The template fast path of the batch codecs, with bounded caches of learned layouts.

Decoding groups payloads by length, checks each length group against the templates learned so
far (learning a new one from the first unmatched record, a few times per call), and hands back
whatever did not match for the generic codec. Encoding groups records by everything that shapes
their bytes (rows per tensor, metadata, datatype) and renders each group from one template.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import fastavro
import numpy as np
import numpy.typing as npt

from inferstream.tensors.avro import generic
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
    NotTemplatable,
    Slot,
    SlotKey,
    Template,
    TensorInfo,
    VarintSlot,
    avro_string,
    map_segments,
    record_infos,
    slot_bytes,
    varint_bytes,
    varint_widths,
)
from inferstream.tensors.tensor import Tensor, TensorCodecError

MAX_LEARN_PER_LENGTH = 2  # new templates tried per payload length and call before going generic
MAX_TEMPLATES = 256  # per cache; a full cache is emptied (streams have few layouts)
MAX_TEMPLATES_PER_LENGTH = 8  # tried in most-recently-learned order
MAX_TAILS = 4096

Segments = Callable[[], list[bytes | Slot | VarintSlot]]
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(dict[K, V]):
    """A dict that empties itself when full: layouts of a stream are few, so this rarely fires."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: K, value: V) -> V:
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value


def split_by(keys: npt.NDArray[Any]) -> list[Int64Array]:
    """Positions of equal keys (rows of a [k, n] matrix or entries of a vector), first-seen order."""
    n = keys.shape[-1]
    if n == 0:
        return []
    if (keys == keys[..., :1]).all():
        return [np.arange(n, dtype=np.int64)]
    _, first, inverse = np.unique(keys, axis=-1, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse))[:-1]
    parts = np.split(order.astype(np.int64), bounds)
    return [parts[k] for k in np.argsort(first, kind="stable")]


def _codes(values: Sequence[Any]) -> Int64Array:
    """Equal values get equal codes (by identity first, so hashing runs once per distinct object)."""
    if not values or values.count(values[0]) == len(values):  # one shared value: a C-speed check
        return np.zeros(len(values), dtype=np.int64)
    by_id: dict[int, int] = {}
    by_value: dict[Any, int] = {}
    for v in values:
        if id(v) not in by_id:
            key = _freeze(v)
            by_id[id(v)] = by_value.setdefault(key, len(by_value))
    return np.fromiter((by_id[id(v)] for v in values), dtype=np.int64, count=len(values))


def _freeze(v: Any) -> Hashable:
    return tuple(v.items()) if isinstance(v, Mapping) else v


# --- decoding -----------------------------------------------------------------------------------


@dataclass
class _Learned:
    template: Template
    constants: Any  # what the constant bytes decode to (expected outputs + datatype, or None)
    tensor_bytes: int  # the largest tensor (or announced output) of a record: checked against the limit


def _length_groups(payloads: Sequence[bytes]) -> list[tuple[int, Int64Array]]:
    lengths = np.fromiter(map(len, payloads), dtype=np.int64, count=len(payloads))
    return [(int(lengths[idx[0]]), idx) for idx in split_by(lengths)]


def _match_templates(
    payloads: Sequence[bytes],
    max_bytes: int,
    templates_for: Callable[[int], list[_Learned]],
    learn: Callable[[bytes], tuple[_Learned | None, Any]],
    emit: Callable[[_Learned, Int64Array, npt.NDArray[np.uint8]], None],
) -> tuple[list[tuple[int, Any]], list[int]]:
    """Run every payload against templates; returns (records decoded while learning, leftovers)."""
    decoded: list[tuple[int, Any]] = []
    leftover: list[int] = []
    for length, idx in _length_groups(payloads):
        chosen = payloads if len(idx) == len(payloads) else [payloads[i] for i in idx.tolist()]
        rows = np.frombuffer(b"".join(chosen), dtype=np.uint8).reshape(len(idx), length)
        pending = np.arange(len(idx))
        learned_here = 0
        candidates = [t for t in templates_for(length) if t.tensor_bytes <= max_bytes]
        while pending.size:
            if not candidates:
                if learned_here >= MAX_LEARN_PER_LENGTH:
                    break
                first = int(idx[pending[0]])
                template, value = learn(payloads[first])
                if not isinstance(value, TensorCodecError):  # a corrupt record costs no template
                    learned_here += 1
                if template is None:  # not templatable (or bad): the generic result stands
                    decoded.append((first, value))
                    pending = pending[1:]
                    continue
                candidates = [template]
            learned = candidates.pop(0)
            view = rows if len(pending) == len(idx) else rows[pending]
            ok = learned.template.matches(view[:, : learned.template.length])
            if ok.any():
                emit(learned, idx[pending[ok]], view[ok])
                pending = pending[~ok]
        leftover.extend(int(i) for i in idx[pending])
    return decoded, leftover


_REQUEST_TEMPLATES: BoundedCache[int, list[_Learned]] = BoundedCache(MAX_TEMPLATES)


def _request_segments(request: SourceRequest) -> list[bytes | Slot]:
    return [
        *map_segments("inputs", request.inputs, True),
        *map_segments("outputs", request.expected_outputs, False),
        avro_string(request.datatype),
    ]


def _learn_request(payload: bytes, max_bytes: int) -> tuple[_Learned | None, Any]:
    try:
        request = generic.decode_source_request(payload, max_bytes)
    except TensorCodecError as exc:
        return None, exc
    try:
        template = Template.compile(_request_segments(request))
    except NotTemplatable:
        return None, request
    if _render_one(template, request.inputs, {}) != payload:
        return None, request  # written differently (e.g. blocked arrays): valid, but not ours to template
    specs = request.expected_outputs.values()
    spec_bytes = [max(s.size, 0) * max(s.dtype.numpy.itemsize, 1) for s in specs]
    constants = (request.expected_outputs, request.datatype)
    learned = _Learned(template, constants, max([template.max_tensor_bytes, *spec_bytes]))
    _remember(_REQUEST_TEMPLATES, len(payload), learned)
    return learned, request


def _remember(cache: BoundedCache[int, list[_Learned]], length: int, learned: _Learned) -> None:
    """Most recently learned first; a few per payload length."""
    same_length = cache.get(length) or cache.put(length, [])
    same_length.insert(0, learned)
    del same_length[MAX_TEMPLATES_PER_LENGTH:]


def _render_one(template: Template, inputs: Mapping[str, Tensor], outputs: Mapping[str, Tensor]) -> bytes:
    def fill(slot: Slot | VarintSlot) -> npt.NDArray[np.uint8]:
        section, name = slot.key
        tensor = (inputs if section == "inputs" else outputs)[name]
        wire = np.ascontiguousarray(tensor.data, dtype=FIXED_WIDTH[tensor.dtype])
        return wire.view(np.uint8).reshape(1, -1)

    return template.render(1, fill)[0]


def decode_source_requests(
    payloads: Sequence[bytes], max_bytes: int
) -> tuple[list[SourceRequestGroup], list[tuple[int, SourceRequest]], list[RecordFailure], list[int]]:
    """(template groups, records decoded generically while learning, failures, leftover indices)."""
    groups: list[SourceRequestGroup] = []

    def emit(learned: _Learned, indices: Int64Array, rows: npt.NDArray[np.uint8]) -> None:
        stacks = learned.template.extract(rows)
        expected, datatype = learned.constants
        inputs = {name: s for (section, name), s in stacks.items() if section == "inputs"}
        n = len(indices)
        groups.append(SourceRequestGroup(indices, inputs, [expected] * n, [datatype] * n))

    decoded, leftover = _match_templates(
        payloads,
        max_bytes,
        lambda length: list(_REQUEST_TEMPLATES.get(length, [])),
        lambda payload: _learn_request(payload, max_bytes),
        emit,
    )
    ok = [(i, r) for i, r in decoded if isinstance(r, SourceRequest)]
    failures = [RecordFailure(i, e) for i, e in decoded if isinstance(e, TensorCodecError)]
    return groups, ok, failures, leftover


# ServingResults end in metadata whose startTime/duration vary from call to call, so their
# templates cover the tensors only (a prefix; still filed by whole payload length) and the tail
# is decoded once per distinct tail.
_RESULT_TEMPLATES: BoundedCache[int, list[_Learned]] = BoundedCache(MAX_TEMPLATES)  # by payload length
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


def _result_prefix(result: ServingResult) -> list[bytes | Slot]:
    return [*map_segments("inputs", result.inputs, True), *map_segments("outputs", result.outputs, True)]


def _learn_result(payload: bytes, max_bytes: int) -> tuple[_Learned | None, Any]:
    try:
        result = generic.decode_serving_result(payload, max_bytes)
    except TensorCodecError as exc:
        return None, exc
    try:
        template = Template.compile(_result_prefix(result))
    except NotTemplatable:
        return None, result
    if not payload.startswith(_render_one(template, result.inputs, result.outputs)):
        return None, result
    learned = _Learned(template, None, template.max_tensor_bytes)
    _remember(_RESULT_TEMPLATES, len(payload), learned)
    return learned, result


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


def decode_serving_results(
    payloads: Sequence[bytes], max_bytes: int
) -> tuple[list[ServingResultGroup], list[tuple[int, ServingResult]], list[RecordFailure], list[int]]:
    """(template groups, records decoded generically while learning, failures, leftover indices)."""
    groups: list[ServingResultGroup] = []
    bad_tails: list[int] = []

    def emit(learned: _Learned, indices: Int64Array, rows: npt.NDArray[np.uint8]) -> None:
        start = learned.template.length
        tails = [_tail(payloads[i][start:]) for i in indices.tolist()]
        good = np.fromiter((t is not None for t in tails), dtype=bool, count=len(tails))
        if not good.all():
            bad_tails.extend(int(i) for i in indices[~good])
            indices, rows = indices[good], rows[good]
        if not len(indices):
            return
        known = [t for t in tails if t is not None]
        stacks = learned.template.extract(rows)
        groups.append(
            ServingResultGroup(
                indices,
                inputs={name: s for (section, name), s in stacks.items() if section == "inputs"},
                outputs={name: s for (section, name), s in stacks.items() if section == "outputs"},
                metadata=[m for m, _ in known],
                datatypes=[d for _, d in known],
            )
        )

    decoded, leftover = _match_templates(
        payloads,
        max_bytes,
        lambda length: list(_RESULT_TEMPLATES.get(length, [])),
        lambda payload: _learn_result(payload, max_bytes),
        emit,
    )
    ok = [(i, r) for i, r in decoded if isinstance(r, ServingResult)]
    failures = [RecordFailure(i, e) for i, e in decoded if isinstance(e, TensorCodecError)]
    return groups, ok, failures, leftover + bad_tails


# --- encoding -----------------------------------------------------------------------------------

_ENCODE_TEMPLATES: BoundedCache[Hashable, Template] = BoundedCache(MAX_TEMPLATES)


def _render_groups(
    n: int,
    stacks: Mapping[str, Mapping[str, StackedTensor]],
    per_record_keys: Sequence[Int64Array],
    layout: Callable[[int, dict[str, dict[str, TensorInfo]]], tuple[Hashable, Segments]],
    longs: Mapping[SlotKey, Int64Array] | None = None,
) -> list[bytes] | None:
    """Render ``n`` records, one template per group of records with equal keys; None if not templatable.

    ``longs`` are per-record Avro longs written through VarintSlots; records are grouped by their
    encoded widths, which ``layout`` reads back with ``varint_width(key, record)``.
    """
    sections = [(section, name, s) for section, m in stacks.items() for name, s in m.items()]
    if any(s.dtype not in FIXED_WIDTH for _, _, s in sections):
        return None
    rows = {(section, name): np.diff(s.row_splits) for section, name, s in sections}
    widths = [varint_widths(v) for v in (longs or {}).values()]
    keys = np.stack([*rows.values(), *per_record_keys, *widths]) if n else np.zeros((1, 0))
    out: list[bytes] = [b""] * n
    for records in split_by(keys):
        first = int(records[0])
        infos: dict[str, dict[str, TensorInfo]] = {}
        for section, m in stacks.items():
            infos[section] = record_infos(m, [int(rows[section, name][first]) for name in m])
        cache_key, segments = layout(first, infos)
        template = _ENCODE_TEMPLATES.get(cache_key)
        if template is None:
            try:
                template = _ENCODE_TEMPLATES.put(cache_key, Template.compile(segments()))
            except NotTemplatable:
                return None

        def fill(slot: Slot | VarintSlot, records: Int64Array = records) -> npt.NDArray[np.uint8]:
            if isinstance(slot, VarintSlot):
                return varint_bytes((longs or {})[slot.key][records], slot.nbytes)
            section, name = slot.key
            return slot_bytes(stacks[section][name], records, slot.rows)

        rendered = template.render(len(records), fill)
        if len(records) == n:
            return rendered
        for i, payload in zip(records.tolist(), rendered, strict=True):
            out[i] = payload
    return out


START, DURATION = ("metadata", "startTime"), ("metadata", "duration")


def encode_serving_results(
    inputs: Mapping[str, StackedTensor],
    outputs: Mapping[str, StackedTensor],
    metas: Sequence[ModelResultMetadata],
    kinds: Sequence[str],
) -> list[bytes] | None:
    n = len(metas)
    shared = n == 0 or metas.count(metas[0]) == n
    texts = (
        [(metas[0].errors, metas[0].model_name, metas[0].source)] * n
        if shared
        else [(m.errors, m.model_name, m.source) for m in metas]
    )
    try:  # startTime/duration vary per call: written through varint slots, not baked into templates
        longs = {
            START: np.fromiter((m.start_time for m in metas), dtype=np.int64, count=n),
            DURATION: np.fromiter((m.duration for m in metas), dtype=np.int64, count=n),
        }
    except OverflowError:  # beyond an Avro long: the generic codec reports it
        return None
    width_of = {key: varint_widths(v) for key, v in longs.items()}

    def layout(first: int, infos: dict[str, dict[str, TensorInfo]]) -> tuple[Hashable, Segments]:
        (errors, model, source), kind = texts[first], kinds[first]
        outs = {} if errors else infos["outputs"]
        start_width, duration_width = int(width_of[START][first]), int(width_of[DURATION][first])
        key = ("result", tuple(infos["inputs"].items()), tuple(outs.items()), texts[first], kind)
        return (*key, start_width, duration_width), lambda: [
            *map_segments("inputs", infos["inputs"], True),
            *map_segments("outputs", outs, True),
            avro_string(errors) + avro_string(model) + avro_string(source),
            VarintSlot(START, start_width),
            VarintSlot(DURATION, duration_width),
            avro_string(kind),
        ]

    stacks = {"inputs": inputs, "outputs": outputs}
    return _render_groups(n, stacks, [_codes(texts), _codes(kinds)], layout, longs)


def encode_source_requests(
    inputs: Mapping[str, StackedTensor],
    specs: Sequence[Mapping[str, TensorSpec]],
    kinds: Sequence[str],
) -> list[bytes] | None:
    n = len(kinds)

    def layout(first: int, infos: dict[str, dict[str, TensorInfo]]) -> tuple[Hashable, Segments]:
        expected, kind = specs[first], kinds[first]
        key = ("request", tuple(infos["inputs"].items()), tuple(expected.items()), kind)
        return key, lambda: [
            *map_segments("inputs", infos["inputs"], True),
            *map_segments("outputs", expected, False),
            avro_string(kind),
        ]

    return _render_groups(n, {"inputs": inputs}, [_codes(specs), _codes(kinds)], layout)
