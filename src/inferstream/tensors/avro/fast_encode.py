"""Batch encoding on the fast path: one byte template per group of records of one layout.

Records are grouped by everything that shapes their bytes (rows per tensor, the metadata's
strings, the datatype, the encoded widths of startTime/duration); each group is rendered from one
template into an [N, length] byte array and cut into payloads. Ints and strings (varints and
variable-length values) are not templatable: those batches go to the generic codec.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from inferstream.tensors.avro.grouping import BoundedCache, codes, split_by
from inferstream.tensors.avro.records import ModelResultMetadata, TensorSpec
from inferstream.tensors.avro.stacked import Int64Array, StackedTensor
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

MAX_TEMPLATES = 256  # a full cache is emptied (streams have few layouts)

Segments = Callable[[], list[bytes | Slot | VarintSlot]]


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
    return _render_groups(n, stacks, [codes(texts), codes(kinds)], layout, longs)


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

    return _render_groups(n, {"inputs": inputs}, [codes(specs), codes(kinds)], layout)
