"""SourceRequests on the fast path: how their templates are learned and their groups emitted.

A request's template covers the whole record: inputs, expected outputs and the datatype, which
is a slot (streams may tag each record's datatype, e.g. with a sequence number).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from inferstream.tensors.avro import generic
from inferstream.tensors.avro.grouping import BoundedCache, split_by
from inferstream.tensors.avro.ragged import Leading, RaggedMatch, RaggedTemplate, map_parts
from inferstream.tensors.avro.records import SourceRequest, TensorSpec
from inferstream.tensors.avro.stacked import Int64Array, SourceRequestGroup
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
    StringSlot,
    Template,
    avro_string,
    map_segments,
    varint,
)

DATATYPE: SlotKey = ("", "datatype")


def _request_uniform(request: SourceRequest, payload: bytes) -> Uniform | None:
    text = request.datatype.encode("utf-8")
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
    if render_one(template, keyed(request.inputs, {}), text) != payload:
        return None
    specs = request.expected_outputs.values()
    spec_bytes = [max(s.size, 0) * max(s.dtype.numpy.itemsize, 1) for s in specs]
    return Uniform(template, _constants(request), max([template.max_tensor_bytes, *spec_bytes]))


def _request_ragged(request: SourceRequest) -> Ragged:
    parts = [
        *map_parts("inputs", request.inputs, True),
        *map_parts("outputs", request.expected_outputs, False),
        avro_string(request.datatype),
    ]
    return Ragged(RaggedTemplate.compile(parts), _constants(request))


def _constants(request: SourceRequest) -> tuple[dict[str, TensorSpec], str]:
    """What a request template's constant bytes decode to: expected outputs and datatype."""
    return request.expected_outputs, request.datatype


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
    inputs = sections(learned.template.extract(rows), "inputs")
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
    inputs = sections(learned.template.extract(buf, match, hits), "inputs")
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
    learner(generic.decode_source_request, _request_uniform, _request_ragged),
    _emit_request_uniform,
    _emit_request_ragged,
    whole=True,
)
