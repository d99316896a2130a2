"""Batch codecs: many payloads to stacked arrays and back (the model-serving hot path).

Each function takes the fast path for what it can (``fast_decode`` / ``fast_encode``: byte
layouts learned once per record shape — uniform ``templates`` for records of one size, ``ragged``
ones for records whose leading dims differ — checked by byte comparison, numbers moved with numpy
for the whole batch) and the generic fastavro codec for everything else, so the result never
depends on which path ran (``fast=False`` forces the generic one). Decoding never fails a whole
batch: a bad payload becomes a ``RecordFailure`` at its index.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from inferstream.tensors.avro import fast_decode, fast_encode, generic
from inferstream.tensors.avro.convert import DEFAULT_MAX_TENSOR_BYTES
from inferstream.tensors.avro.records import (
    DEFAULT_DATATYPE,
    ModelResultMetadata,
    ServingResult,
    SourceRequest,
    TensorSpec,
)
from inferstream.tensors.avro.stacked import (
    DecodedBatch,
    RecordFailure,
    ServingResultGroup,
    SourceRequestGroup,
    StackedTensor,
    tensors_key,
)
from inferstream.tensors.tensor import TensorCodecError


def _per_record(value: Any, n: int, field: str) -> Sequence[Any]:
    """A value shared by all records, or one per record."""
    if isinstance(value, (str, ModelResultMetadata, Mapping)):
        return [value] * n
    if len(value) != n:
        raise TensorCodecError(field, f"{len(value)} values for {n} records")
    return list(value)


def _batch_size(stacks: Sequence[Mapping[str, StackedTensor]], *others: Any) -> int:
    sizes = {len(s) for m in stacks for s in m.values()}
    sizes |= {len(o) for o in others if not isinstance(o, (str, ModelResultMetadata, Mapping))}
    if len(sizes) != 1:
        raise TensorCodecError(
            "batch", f"inconsistent record counts {sorted(sizes)}" if sizes else "no records"
        )
    return sizes.pop()


# --- SourceRequest ------------------------------------------------------------------------------


def decode_source_requests(
    payloads: Sequence[bytes], max_bytes: int = DEFAULT_MAX_TENSOR_BYTES, fast: bool = True
) -> DecodedBatch[SourceRequestGroup]:
    """Decode SourceRequests into groups of one layout each, stacked per input name.

    Records are grouped by their inputs' names, dtypes, ranks, trailing dims and dim names; the
    usual stream (all fraud records [1, 29] float) gives one group, a recommender stream ([n, 1]
    with n varying) one group with row splits. Corrupt payloads come back as ``failures`` with the
    reason; nothing is dropped. ``fast=False`` decodes every record with generic fastavro.
    """
    return _decode(
        payloads,
        lambda ps: fast_decode.decode_source_requests(ps, max_bytes) if fast else None,
        lambda p: generic.decode_source_request(p, max_bytes),
        group_source_requests,
    )


def group_source_requests(decoded: Sequence[tuple[int, SourceRequest]]) -> list[SourceRequestGroup]:
    """Stack decoded requests, one group per input layout (in order of first appearance)."""
    buckets: dict[tuple[Any, ...], list[tuple[int, SourceRequest]]] = defaultdict(list)
    for item in decoded:
        buckets[tensors_key(item[1].inputs)].append(item)
    groups = []
    for items in buckets.values():
        names = list(items[0][1].inputs)
        groups.append(
            SourceRequestGroup(
                indices=np.array([i for i, _ in items], dtype=np.int64),
                inputs={n: StackedTensor.from_tensors([r.inputs[n] for _, r in items]) for n in names},
                expected_outputs=[r.expected_outputs for _, r in items],
                datatypes=[r.datatype for _, r in items],
            )
        )
    return groups


def encode_source_requests(
    inputs: Mapping[str, StackedTensor],
    expected_outputs: Mapping[str, TensorSpec] | Sequence[Mapping[str, TensorSpec]] | None = None,
    datatypes: str | Sequence[str] = DEFAULT_DATATYPE,
    fast: bool = True,
) -> list[bytes]:
    """One SourceRequest payload per record of the stacked inputs (what an ingress emits)."""
    n = _batch_size([inputs], *([] if expected_outputs is None else [expected_outputs]), datatypes)
    specs = _per_record({} if expected_outputs is None else expected_outputs, n, "expected_outputs")
    kinds = _per_record(datatypes, n, "datatypes")
    if fast:
        payloads = fast_encode.encode_source_requests(inputs, specs, kinds)
        if payloads is not None:
            return payloads
    return [
        generic.encode_source_request(
            SourceRequest({name: s.record(i, name) for name, s in inputs.items()}, dict(specs[i]), kinds[i])
        )
        for i in range(n)
    ]


# --- ServingResult ------------------------------------------------------------------------------


def encode_serving_results(
    inputs: Mapping[str, StackedTensor],
    outputs: Mapping[str, StackedTensor],
    metadata: ModelResultMetadata | Sequence[ModelResultMetadata],
    datatypes: str | Sequence[str] = DEFAULT_DATATYPE,
    fast: bool = True,
) -> list[bytes]:
    """One ServingResult payload per record: its inputs, its rows of ``outputs``, its metadata.

    A record whose metadata has ``errors`` is written with an empty outputs map (its rows in
    ``outputs``, if any, are not written); ``outputs`` may be empty when every record failed.
    """
    n = _batch_size([inputs, outputs], metadata, datatypes)
    metas = _per_record(metadata, n, "metadata")
    kinds = _per_record(datatypes, n, "datatypes")
    if fast:
        payloads = fast_encode.encode_serving_results(inputs, outputs, metas, kinds)
        if payloads is not None:
            return payloads
    out = []
    for i in range(n):
        meta = metas[i]
        result = ServingResult(
            inputs={name: s.record(i, name) for name, s in inputs.items()},
            outputs={} if meta.errors else {name: s.record(i, name) for name, s in outputs.items()},
            metadata=meta,
            datatype=kinds[i],
        )
        out.append(generic.encode_serving_result(result))
    return out


def decode_serving_results(
    payloads: Sequence[bytes], max_bytes: int = DEFAULT_MAX_TENSOR_BYTES, fast: bool = True
) -> DecodedBatch[ServingResultGroup]:
    """Decode ServingResults into groups of one layout (inputs and outputs), stacked per name.

    Error records (empty outputs map) form their own group(s); so do records of other shapes.
    """
    return _decode(
        payloads,
        lambda ps: fast_decode.decode_serving_results(ps, max_bytes) if fast else None,
        lambda p: generic.decode_serving_result(p, max_bytes),
        group_serving_results,
    )


def group_serving_results(decoded: Sequence[tuple[int, ServingResult]]) -> list[ServingResultGroup]:
    buckets: dict[tuple[Any, ...], list[tuple[int, ServingResult]]] = defaultdict(list)
    for item in decoded:
        _, r = item
        buckets[(tensors_key(r.inputs), tensors_key(r.outputs))].append(item)
    groups = []
    for items in buckets.values():
        first = items[0][1]
        groups.append(
            ServingResultGroup(
                indices=np.array([i for i, _ in items], dtype=np.int64),
                inputs={n: StackedTensor.from_tensors([r.inputs[n] for _, r in items]) for n in first.inputs},
                outputs={
                    n: StackedTensor.from_tensors([r.outputs[n] for _, r in items]) for n in first.outputs
                },
                metadata=[r.metadata for _, r in items],
                datatypes=[r.datatype for _, r in items],
            )
        )
    return groups


G = TypeVar("G", SourceRequestGroup, ServingResultGroup)
R = TypeVar("R", SourceRequest, ServingResult)


def _decode(
    payloads: Sequence[bytes],
    fast: Callable[[Sequence[bytes]], fast_decode.Outcome[R, G] | None],
    decode_one: Callable[[bytes], R],
    group: Callable[[Sequence[tuple[int, R]]], list[G]],
) -> DecodedBatch[G]:
    """Fast path, generic codec for its leftovers, then one group per layout."""
    try:
        return _decode_bytes(payloads, fast, decode_one, group)
    except TypeError:  # a payload that is not bytes (a Kafka tombstone is None): set it aside
        kept, where, failures = _as_bytes(payloads)
        if not failures and len(kept) == len(payloads) and all(type(p) is bytes for p in payloads):
            raise
        batch = _decode_bytes(kept, fast, decode_one, group)
        positions = np.array(where, dtype=np.int64)
        for g in batch.groups:
            g.indices = positions[g.indices]
        failures += [RecordFailure(where[f.index], f.error) for f in batch.failures]
        failures.sort(key=lambda f: f.index)
        return DecodedBatch(len(payloads), batch.groups, failures)


def _decode_bytes(
    payloads: Sequence[bytes],
    fast: Callable[[Sequence[bytes]], fast_decode.Outcome[R, G] | None],
    decode_one: Callable[[bytes], R],
    group: Callable[[Sequence[tuple[int, R]]], list[G]],
) -> DecodedBatch[G]:
    groups: list[G] = []
    decoded: list[tuple[int, R]] = []
    failures: list[RecordFailure] = []
    leftover: Sequence[int] = range(len(payloads))
    outcome = fast(payloads)
    if outcome is not None:
        groups, decoded, failures, leftover = (
            outcome.groups,
            outcome.decoded,
            outcome.failures,
            outcome.leftover,
        )
    for i in leftover:
        try:
            decoded.append((i, decode_one(payloads[i])))
        except TensorCodecError as exc:
            failures.append(RecordFailure(i, exc))
    failures.sort(key=lambda f: f.index)
    return DecodedBatch(len(payloads), merge_groups(groups + group(decoded)), failures)


def _as_bytes(payloads: Sequence[Any]) -> tuple[list[bytes], list[int], list[RecordFailure]]:
    """The bytes-like payloads (as bytes) with their positions, and a failure for every other one."""
    kept: list[bytes] = []
    where: list[int] = []
    failures: list[RecordFailure] = []
    for i, p in enumerate(payloads):
        if isinstance(p, (bytes, bytearray, memoryview)):
            kept.append(bytes(p))
            where.append(i)
        else:
            reason = f"a payload must be bytes, not {type(p).__name__}"
            failures.append(RecordFailure(i, TensorCodecError("payload", reason)))
    return kept, where, failures


def merge_groups(groups: Sequence[G]) -> list[G]:
    """Join groups of one layout (from templates and from the generic path): each group's records
    in payload order, groups ordered by their first record."""
    by_key: dict[tuple[Any, ...], list[G]] = defaultdict(list)
    for g in groups:
        by_key[g.layout_key()].append(g)
    merged = []
    for parts in by_key.values():
        group = parts[0] if len(parts) == 1 else type(parts[0]).concat(parts)
        if len(group) > 1 and not bool((group.indices[1:] > group.indices[:-1]).all()):
            group = group.take(np.argsort(group.indices, kind="stable"))
        merged.append(group)
    return sorted(merged, key=lambda g: int(g.indices[0]) if len(g) else 0)
