"""Batch encoding on the fast path: one byte template per group of records of one layout.

Records are grouped by everything that shapes their bytes (rows per tensor, the metadata's
strings, the byte length of the datatype, the encoded widths of startTime/duration); each group
is rendered from one template into an [N, length] byte array and cut into payloads. Int and
string tensors (varints and variable-length values) are not templatable: those batches go to the
generic codec.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from inferstream.tensors.avro.grouping import BoundedCache, codes, split_by
from inferstream.tensors.avro.ragged import Count, Data, Leading, Part, map_parts, merge_parts
from inferstream.tensors.avro.records import ModelResultMetadata, TensorSpec
from inferstream.tensors.avro.stacked import Int64Array, StackedTensor
from inferstream.tensors.avro.templates import (
    FIXED_WIDTH,
    Gap,
    NotTemplatable,
    SlotKey,
    StringSlot,
    Template,
    TensorInfo,
    VarintSlot,
    avro_string,
    map_segments,
    record_infos,
    slot_bytes,
    slot_bytes_ragged,
    varint,
    varint_bytes,
    varint_widths,
)

MAX_TEMPLATES = 256  # a full cache is emptied (streams have few layouts)

Segments = Callable[[], list[bytes | Gap]]
DATATYPE: SlotKey = ("", "datatype")


class Texts:
    """Per-record strings (e.g. datatypes) as UTF-8, copied into StringSlots of one width.

    A stream may tag each record's datatype (the benchmark harness writes a sequence number there):
    the text is a slot, so records differing only in it share one template.
    """

    def __init__(self, values: Sequence[str]) -> None:
        n = len(values)
        self.shared = n == 0 or values.count(values[0]) == n
        self.encoded = [values[0].encode()] if self.shared and n else [v.encode() for v in values]
        if self.shared:
            self.widths = np.full(n, len(self.encoded[0]) if n else 0, dtype=np.int64)
        else:
            self.widths = np.fromiter(map(len, self.encoded), dtype=np.int64, count=n)

    def rows(self, records: Int64Array, width: int) -> npt.NDArray[np.uint8]:
        """[len(records), width] bytes of ``records``' strings (all ``width`` bytes long)."""
        if self.shared:
            one = np.frombuffer(self.encoded[0], dtype=np.uint8)
            return np.broadcast_to(one, (len(records), width))
        joined = (
            b"".join(self.encoded)
            if len(records) == len(self.encoded)
            else b"".join([self.encoded[i] for i in records.tolist()])
        )
        return np.frombuffer(joined, dtype=np.uint8).reshape(len(records), width)


_ENCODE_TEMPLATES: BoundedCache[Hashable, Template] = BoundedCache(MAX_TEMPLATES)


def _render_groups(
    n: int,
    stacks: Mapping[str, Mapping[str, StackedTensor]],
    per_record_keys: Sequence[Int64Array],
    layout: Callable[[int, dict[str, dict[str, TensorInfo]]], tuple[Hashable, Segments]],
    longs: Mapping[SlotKey, Int64Array] | None = None,
    subset: Int64Array | None = None,
    texts: Mapping[SlotKey, Texts] | None = None,
) -> list[bytes] | None:
    """Render ``n`` records (or only ``subset``), one template per group of records with equal keys
    (rows per tensor, ``per_record_keys``, encoded widths of ``longs``); None if not templatable.

    ``longs`` are per-record Avro longs written through VarintSlots. Records outside ``subset``
    come back as empty payloads.
    """
    sections = [(section, name, s) for section, m in stacks.items() for name, s in m.items()]
    if any(s.dtype not in FIXED_WIDTH for _, _, s in sections):
        return None
    rows = {(section, name): np.diff(s.row_splits) for section, name, s in sections}
    widths = [varint_widths(v) for v in (longs or {}).values()]
    keys = np.stack([*rows.values(), *per_record_keys, *widths]) if n else np.zeros((1, 0))
    out: list[bytes] = [b""] * n
    for part in split_by(keys if subset is None else keys[:, subset]):
        records = part if subset is None else subset[part]
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

        def fill(slot: Gap, records: Int64Array = records) -> npt.NDArray[np.uint8]:
            if isinstance(slot, StringSlot):
                return (texts or {})[slot.key].rows(records, slot.nbytes)
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
RAGGED_FROM = 4  # distinct row-count combinations in a batch from which one ragged template pays


def _render_ragged(
    parts: Sequence[Part | VarintSlot],
    records: Int64Array,
    stacks: Mapping[SlotKey, StackedTensor],
    longs: Mapping[SlotKey, Int64Array],
) -> list[bytes]:
    """Render records whose tensors differ in their leading dims from one ragged layout."""
    rows = {key: np.diff(s.row_splits)[records] for key, s in stacks.items()}
    ones = np.ones(len(records), dtype=np.int64)
    sizes = []
    for part in parts:
        if isinstance(part, bytes):
            sizes.append(np.full(len(records), len(part), dtype=np.int64))
        elif isinstance(part, Leading):
            sizes.append(varint_widths(rows[part.key]))
        elif isinstance(part, Count):
            sizes.append(varint_widths(rows.get(part.key, ones) * part.per_row))
        elif isinstance(part, VarintSlot):
            sizes.append(varint_widths(longs[part.key][records]))
        else:
            sizes.append(rows.get(part.key, ones) * part.row_bytes)
    size = np.stack(sizes)
    lengths = size.sum(axis=0)
    ends = np.cumsum(lengths)
    offsets = (ends - lengths)[None, :] + np.cumsum(size, axis=0) - size
    out = np.empty(int(ends[-1]) if len(ends) else 0, dtype=np.uint8)
    for part, where, width in zip(parts, offsets, size, strict=True):
        if isinstance(part, bytes):
            out[where[:, None] + np.arange(len(part))] = np.frombuffer(part, dtype=np.uint8)
        elif isinstance(part, Data):
            src = slot_bytes_ragged(stacks[part.key], records).reshape(-1)
            out[np.repeat(where - (np.cumsum(width) - width), width) + np.arange(len(src))] = src
        else:
            if isinstance(part, Leading):
                values = rows[part.key]
            elif isinstance(part, Count):
                values = rows.get(part.key, ones) * part.per_row
            else:
                values = longs[part.key][records]
            for w in np.unique(width).tolist():
                sel = width == w
                out[where[sel][:, None] + np.arange(w)] = varint_bytes(values[sel], w)
    data = out.tobytes()
    return [data[e - k : e] for e, k in zip(ends.tolist(), lengths.tolist(), strict=True)]


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
    datatypes = Texts(kinds)

    def layout(first: int, infos: dict[str, dict[str, TensorInfo]]) -> tuple[Hashable, Segments]:
        (errors, model, source), kind_width = texts[first], int(datatypes.widths[first])
        outs = {} if errors else infos["outputs"]
        start_width, duration_width = int(width_of[START][first]), int(width_of[DURATION][first])
        key = ("result", tuple(infos["inputs"].items()), tuple(outs.items()), texts[first], kind_width)
        return (*key, start_width, duration_width), lambda: [
            *map_segments("inputs", infos["inputs"], True),
            *map_segments("outputs", outs, True),
            avro_string(errors) + avro_string(model) + avro_string(source),
            VarintSlot(START, start_width),
            VarintSlot(DURATION, duration_width),
            varint(kind_width),
            StringSlot(DATATYPE, kind_width),
        ]

    stacks = {"inputs": inputs, "outputs": outputs}
    keys = [codes(texts), datatypes.widths]
    if any(s.dtype not in FIXED_WIDTH for m in stacks.values() for s in m.values()):
        return None
    row_keys = np.stack([np.diff(s.row_splits) for m in stacks.values() for s in m.values()] or [np.zeros(n)])
    if n < RAGGED_FROM or len(split_by(row_keys)) < RAGGED_FROM:
        return _render_groups(n, stacks, keys, layout, longs, texts={DATATYPE: datatypes})
    keys[1] = codes(kinds)  # the ragged layouts keep the datatype constant
    return _encode_ragged_results(n, stacks, keys, texts, kinds, longs, layout, datatypes)


def _encode_ragged_results(
    n: int,
    stacks: dict[str, Mapping[str, StackedTensor]],
    keys: list[Int64Array],
    texts: Sequence[tuple[str, str, str]],
    kinds: Sequence[str],
    longs: dict[SlotKey, Int64Array],
    layout: Callable[[int, dict[str, dict[str, TensorInfo]]], tuple[Hashable, Segments]],
    datatypes: Texts,
) -> list[bytes] | None:
    """One ragged layout per metadata text and datatype; records with an empty tensor (whose
    array is encoded differently) are rendered per row count instead."""
    keyed = {(section, name): s for section, m in stacks.items() for name, s in m.items()}
    failed = np.fromiter((bool(t[0]) for t in texts), dtype=bool, count=n)
    has_rows = np.ones(n, dtype=bool)
    for (section, _), s in keyed.items():
        if not s.scalar:
            has_rows &= (np.diff(s.row_splits) > 0) | (failed if section == "outputs" else False)
    out: list[bytes] = [b""] * n
    for part in split_by(np.stack(keys)[:, has_rows]):
        records = np.flatnonzero(has_rows)[part]
        first = int(records[0])
        errors, model, source = texts[first]
        used = {k: s for k, s in keyed.items() if not (errors and k[0] == "outputs")}
        infos = {
            section: record_infos(m, [int(np.diff(s.row_splits)[first]) for s in m.values()])
            for section, m in stacks.items()
        }
        try:
            parts = [
                *map_parts("inputs", infos["inputs"], True),
                *map_parts("outputs", {} if errors else infos["outputs"], True),
                avro_string(errors) + avro_string(model) + avro_string(source),
                VarintSlot(START, 0),
                VarintSlot(DURATION, 0),
                avro_string(kinds[first]),
            ]
        except NotTemplatable:
            return None
        for i, payload in zip(
            records.tolist(), _render_ragged(merge_parts(parts), records, used, longs), strict=True
        ):
            out[i] = payload
    rest = np.flatnonzero(~has_rows)
    if rest.size:
        uniform = _render_groups(n, stacks, keys, layout, longs, subset=rest, texts={DATATYPE: datatypes})
        if uniform is None:
            return None
        for i in rest.tolist():
            out[i] = uniform[i]
    return out


def encode_source_requests(
    inputs: Mapping[str, StackedTensor],
    specs: Sequence[Mapping[str, TensorSpec]],
    kinds: Sequence[str],
) -> list[bytes] | None:
    n = len(kinds)
    datatypes = Texts(kinds)

    def layout(first: int, infos: dict[str, dict[str, TensorInfo]]) -> tuple[Hashable, Segments]:
        expected, kind_width = specs[first], int(datatypes.widths[first])
        key = ("request", tuple(infos["inputs"].items()), tuple(expected.items()), kind_width)
        return key, lambda: [
            *map_segments("inputs", infos["inputs"], True),
            *map_segments("outputs", expected, False),
            varint(kind_width),
            StringSlot(DATATYPE, kind_width),
        ]

    keys = [codes(specs), datatypes.widths]
    return _render_groups(n, {"inputs": inputs}, keys, layout, texts={DATATYPE: datatypes})
