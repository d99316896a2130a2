"""The batch fast path (byte templates) against the generic fastavro path.

Encoding must give the same bytes; decoding the same values, groups and failures, for batches that
mix layouts, ragged row counts, error records and corrupt payloads.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
from avro_strategies import ALL_DTYPES, FIXED_WIDTH_DTYPES, canonical_nans, values
from hypothesis import given, settings
from hypothesis import strategies as st

from inferstream.tensors import DType, Tensor
from inferstream.tensors.avro import (
    DecodedBatch,
    ModelResultMetadata,
    SourceRequest,
    StackedTensor,
    TensorSpec,
    decode_serving_results,
    decode_source_requests,
    encode_serving_results,
    encode_source_request,
    encode_source_requests,
    fast_decode,
    fast_encode,
)
from inferstream.tensors.avro.ragged import RaggedTemplate
from inferstream.tensors.avro.templates import varint, varint_bytes, varint_widths

METAS = [
    ModelResultMetadata("", "fraud", "onnx", 1_700_000_000_000, 4),
    ModelResultMetadata("", "fraud", "onnx", -1, 2**62),
    ModelResultMetadata("timeout after 5 s", "fraud", "tfserving", 0, 0),
]


@st.composite
def stacked(draw: st.DrawFn, n: int, dtypes: list[DType]) -> StackedTensor:
    """``n`` records of one layout, ragged leading dims (or scalars)."""
    dtype = draw(st.sampled_from(dtypes))
    if draw(st.booleans()) and draw(st.booleans()):
        arr = draw(values(dtype, (n,)))
        return StackedTensor(dtype, arr, np.arange(n + 1, dtype=np.int64), scalar=True)
    trailing = tuple(draw(st.lists(st.integers(0, 3), max_size=2)))
    rows = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    arr = draw(values(dtype, (sum(rows), *trailing)))
    splits = np.concatenate([[0], np.cumsum(rows)]).astype(np.int64)
    return StackedTensor(dtype, arr, splits)


@st.composite
def result_batches(draw: st.DrawFn, dtypes: list[DType]) -> tuple[Any, ...]:
    n = draw(st.integers(1, 12))
    in_names = {"a"} | draw(st.sets(st.just("b")))
    out_names = draw(st.sets(st.sampled_from(["p"]), max_size=1))
    inputs = {name: draw(stacked(n, dtypes)) for name in sorted(in_names)}
    outputs = {name: draw(stacked(n, dtypes)) for name in out_names}
    longs = st.integers(-(2**63), 2**63 - 1)
    varied = st.builds(
        ModelResultMetadata, st.sampled_from(["", "oops"]), st.just("m"), st.just("s"), longs, longs
    )
    metas = draw(st.lists(st.one_of(st.sampled_from(METAS), varied), min_size=n, max_size=n))
    per_record = st.lists(st.sampled_from(["fraud", "x"]), min_size=n, max_size=n)
    kinds = draw(st.one_of(st.just("fraud"), per_record))
    return n, inputs, outputs, metas, kinds


@settings(max_examples=80, deadline=None)
@given(result_batches(ALL_DTYPES))
def test_encode_serving_results_fast_equals_generic_bytes(batch: tuple[Any, ...]) -> None:
    _, inputs, outputs, metas, kinds = batch
    fast = encode_serving_results(inputs, outputs, metas, kinds)
    assert fast == encode_serving_results(inputs, outputs, metas, kinds, fast=False)
    # and the batch decoders agree with each other on what was written
    assert_same_batches(decode_serving_results(fast), decode_serving_results(fast, fast=False))


@settings(max_examples=60, deadline=None)
@given(result_batches(FIXED_WIDTH_DTYPES), st.integers(0, 2**32))
def test_encode_source_requests_fast_equals_generic_bytes(batch: tuple[Any, ...], seed: int) -> None:
    _, inputs, _, _, kinds = batch
    specs = [{"p": TensorSpec(DType.DT_FLOAT, (1, int(seed % 5)))}, {}][seed % 2]
    fast = encode_source_requests(inputs, specs, kinds)
    assert fast == encode_source_requests(inputs, specs, kinds, fast=False)
    assert_same_batches(decode_source_requests(fast), decode_source_requests(fast, fast=False))


def corrupt(payload: bytes, how: int) -> bytes:
    if how == 0:
        return payload[: len(payload) // 2]
    if how == 1:
        return payload + b"\x00"
    return b"\x0e" + payload[1:]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_decode_source_requests_fast_equals_generic_mixed_and_corrupt(data: st.DataObject) -> None:
    n_layouts = data.draw(st.integers(1, 3))
    layouts = [data.draw(result_batches(ALL_DTYPES)) for _ in range(n_layouts)]
    payloads: list[bytes] = []
    for _, inputs, _, _, kinds in layouts:
        payloads += encode_source_requests(inputs, {"p": TensorSpec(DType.DT_FLOAT, (-1, 29))}, kinds)
    order = data.draw(st.permutations(range(len(payloads))))
    payloads = [payloads[i] for i in order]
    for i in data.draw(st.sets(st.integers(0, len(payloads) - 1), max_size=3)):
        payloads[i] = corrupt(payloads[i], data.draw(st.integers(0, 2)))
    fast, generic = decode_source_requests(payloads), decode_source_requests(payloads, fast=False)
    assert_same_batches(fast, generic)


def records_of(batch: DecodedBatch[Any]) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for g in batch.groups:
        for k, i in enumerate(g.indices.tolist()):
            assert i not in out
            out[i] = g.request(k) if hasattr(g, "request") else g.result(k)
    return out


def tensors_equal(a: dict[str, Tensor], b: dict[str, Tensor]) -> bool:
    if a.keys() != b.keys():
        return False
    for name in a:
        x, y = a[name], b[name]
        if x.dtype is not DType.DT_STRING:
            x = Tensor(x.dtype, canonical_nans(x.data), x.name, x.dim_names)
            y = Tensor(y.dtype, canonical_nans(y.data), y.name, y.dim_names)
        if not (x.equals(y) and x.name == y.name == name and x.dim_names == y.dim_names):
            return False
    return True


def assert_same_batches(fast: DecodedBatch[Any], generic: DecodedBatch[Any]) -> None:
    assert fast.size == generic.size
    assert [f.index for f in fast.failures] == [f.index for f in generic.failures]
    assert [str(f.error) for f in fast.failures] == [str(f.error) for f in generic.failures]
    assert sorted(len(g) for g in fast.groups) == sorted(len(g) for g in generic.groups)
    for batch in (fast, generic):  # records in payload order within a group, groups by first record
        assert all(bool((np.diff(g.indices) > 0).all()) for g in batch.groups)
        assert [int(g.indices[0]) for g in batch.groups] == sorted(int(g.indices[0]) for g in batch.groups)
    a, b = records_of(fast), records_of(generic)
    assert a.keys() == b.keys()
    assert len(a) + len(fast.failures) == fast.size  # nothing dropped
    for i in a:
        x, y = a[i], b[i]
        assert tensors_equal(x.inputs, y.inputs)
        if isinstance(x, SourceRequest):
            assert x.expected_outputs == y.expected_outputs and x.datatype == y.datatype
        else:
            assert tensors_equal(x.outputs, y.outputs)
            assert x.metadata == y.metadata and x.datatype == y.datatype


def fraud_payloads(n: int) -> tuple[np.ndarray[Any, Any], list[bytes]]:
    x = np.random.default_rng(7).normal(size=(n, 29)).astype(np.float32)
    spec = {"predictions": TensorSpec(DType.DT_FLOAT, (1, 29))}
    return x, encode_source_requests({"transaction": StackedTensor.uniform(x)}, spec, "fraud")


def test_fraud_batch_takes_the_fast_path_entirely() -> None:
    x, payloads = fraud_payloads(64)
    out = fast_decode.decode_source_requests(payloads, 1 << 26)
    groups = out.groups
    assert not out.decoded and not out.failures and not out.leftover
    assert len(groups) == 1 and np.array_equal(groups[0].inputs["transaction"].values, x)


def test_template_bigger_than_the_size_limit_is_not_used() -> None:
    _, payloads = fraud_payloads(4)
    decode_source_requests(payloads)  # learns the template
    batch = decode_source_requests(payloads, max_bytes=100)  # 29 floats = 116 bytes
    assert [f.index for f in batch.failures] == [0, 1, 2, 3] and not batch.groups
    assert all("limit of 100 bytes" in str(f.error) for f in batch.failures)


def test_arrays_written_in_several_blocks_decode_through_the_generic_path() -> None:
    request = SourceRequest({"x": Tensor.from_numpy(np.array([[1.5, 2.5]], np.float32))})
    canonical = encode_source_request(request)
    floats = struct.pack("<ff", 1.5, 2.5)
    assert b"\x02\x04" + floats + b"\x00" in canonical  # union branch 1, one block of 2, end
    blocked = canonical.replace(b"\x02\x04" + floats, b"\x02\x02" + floats[:4] + b"\x02" + floats[4:])
    batch = decode_source_requests([canonical, blocked, canonical])
    (group,) = batch.groups
    assert not batch.failures and sorted(group.indices.tolist()) == [0, 1, 2]
    assert np.array_equal(group.inputs["x"].values, np.array([[1.5, 2.5]] * 3, np.float32))


def test_recommender_rows_vary_per_record_and_stack_with_row_splits() -> None:
    counts = [3, 1, 4, 0, 2]
    users = StackedTensor(
        DType.DT_FLOAT,
        np.repeat([1.0, 2, 3, 4, 5], counts).astype(np.float32)[:, None],
        np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
    )
    products = StackedTensor(DType.DT_FLOAT, np.arange(10, dtype=np.float32)[:, None], users.row_splits)
    payloads = encode_source_requests({"users": users, "products": products})
    (group,) = decode_source_requests(payloads).groups
    order = np.argsort(group.indices)
    assert group.indices[order].tolist() == [0, 1, 2, 3, 4]
    assert group.row_splits.tolist() != [] and np.diff(group.row_splits)[order].tolist() == counts
    for k in range(5):
        i = int(group.indices[k])
        assert np.array_equal(group.inputs["products"].record(k).data, products.record(i).data)


def test_take_reorders_ragged_records() -> None:
    stack = StackedTensor(DType.DT_DOUBLE, np.arange(6.0)[:, None], np.array([0, 2, 2, 5, 6]))
    taken = stack.take(np.array([3, 0, 2, 1]))
    assert taken.row_splits.tolist() == [0, 1, 3, 6, 6]
    assert taken.values[:, 0].tolist() == [5.0, 0.0, 1.0, 2.0, 3.0, 4.0]


def test_vectorized_varints_match_the_scalar_encoder() -> None:
    edges = [0, -1, 1, 63, -64, 64, -65, 2**31, -(2**31), 2**62, 2**63 - 1, -(2**63)]
    values = np.array(edges + [(1 << k) - d for k in range(1, 63) for d in (0, 1)], dtype=np.int64)
    widths = varint_widths(values)
    for v, w in zip(values.tolist(), widths.tolist(), strict=True):
        assert len(varint(v)) == w
        assert varint_bytes(np.array([v], np.int64), w).tobytes() == varint(v)


def test_per_record_start_times_share_one_template_group() -> None:
    _, payloads = fraud_payloads(50)
    (group,) = decode_source_requests(payloads).groups
    metas = [ModelResultMetadata("", "fraud", "onnx", 1_700_000_000_000 + 37 * i, i % 300) for i in range(50)]
    outputs = {"predictions": group.inputs["transaction"]}
    fast = encode_serving_results(group.inputs, outputs, metas, group.datatypes)
    assert fast == encode_serving_results(group.inputs, outputs, metas, group.datatypes, fast=False)
    batch = decode_serving_results(fast)
    assert [m for g in batch.groups for m in g.metadata] == metas


def test_corrupt_records_ahead_of_a_stream_do_not_push_it_off_the_fast_path() -> None:
    _, good = fraud_payloads(20)
    at = good[0].index(b"transaction") + len(b"transaction")
    bad = [p[:at] + b"\x7e" + p[at + 1 :] for p in good[:3]]  # same length, unknown dtype index
    fast_decode.REQUESTS.caches.uniform.clear()
    fast_decode.REQUESTS.caches.ragged.clear()
    out = fast_decode.decode_source_requests(bad + good, 1 << 26)
    assert [f.index for f in out.failures] == [0, 1, 2] and not out.decoded and not out.leftover
    assert sum(len(g) for g in out.groups) == 20


def recommender_request(n: int, user: float) -> SourceRequest:
    products = np.arange(n, dtype=np.float32)[:, None] + user
    return SourceRequest(
        {
            "users": Tensor.from_numpy(np.full((n, 1), user, np.float32)),
            "products": Tensor.from_numpy(products),
        },
        {"predictions": TensorSpec(DType.DT_FLOAT, (n, 1))},
        "recommender",
    )


def test_ragged_records_all_take_one_ragged_template() -> None:
    for cache in (fast_decode.REQUESTS.caches, fast_decode.RESULTS.caches):
        cache.uniform.clear()
        cache.ragged.clear()
    counts = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 200]
    payloads = [encode_source_request(recommender_request(n, float(i))) for i, n in enumerate(counts)]
    out = fast_decode.decode_source_requests(payloads, 1 << 26)
    assert not out.decoded and not out.failures and not out.leftover
    assert sum(len(g) for g in out.groups) == len(counts)
    fast, generic = decode_source_requests(payloads), decode_source_requests(payloads, fast=False)
    assert_same_batches(fast, generic)
    (group,) = fast.groups
    assert np.diff(group.row_splits).tolist() == counts
    assert [e["predictions"].shape for e in group.expected_outputs] == [(n, 1) for n in counts]

    fast_encode._ENCODE_TEMPLATES.clear()
    outputs = {"predictions": group.inputs["products"]}
    metas = [METAS[i % 3] for i in range(len(counts))]  # some error records among them
    results = encode_serving_results(group.inputs, outputs, metas, "r")
    assert results == encode_serving_results(group.inputs, outputs, metas, "r", fast=False)
    assert not fast_encode._ENCODE_TEMPLATES  # one ragged layout, not one template per row count
    out_results = fast_decode.decode_serving_results(results, 1 << 26)
    assert not out_results.decoded and not out_results.failures and not out_results.leftover
    assert_same_batches(decode_serving_results(results), decode_serving_results(results, fast=False))


def test_a_result_length_first_met_after_learning_takes_the_uniform_pass(monkeypatch: Any) -> None:
    """A ServingResult's duration varint changes the payload length, not the tensor layout: a
    length met once the ragged template exists borrows the prefix template of another length
    instead of walking the ragged template for good (it did, at 2× the decode cost)."""
    for cache in (fast_decode.REQUESTS.caches, fast_decode.RESULTS.caches):
        cache.uniform.clear()
        cache.ragged.clear()
    _, requests = fraud_payloads(8)
    (group,) = decode_source_requests(requests).groups
    outputs = {"predictions": group.inputs["transaction"]}

    def results(duration: int) -> list[bytes]:
        metas = [ModelResultMetadata("", "fraud", "onnx", 1_700_000_000_000, duration)] * 8
        return encode_serving_results(group.inputs, outputs, metas, group.datatypes)

    short, long = results(40), results(130)  # duration varint of 1 and 2 bytes
    assert len(long[0]) == len(short[0]) + 1
    first = fast_decode.decode_serving_results(short[:1] + long, 1 << 26)  # learns at short's length
    assert sum(len(g) for g in first.groups) == 9 and not first.leftover
    walks: list[int] = []
    walk = RaggedTemplate.walk
    monkeypatch.setattr(RaggedTemplate, "walk", lambda *a, **k: walks.append(1) or walk(*a, **k))
    again = fast_decode.decode_serving_results(long, 1 << 26)
    assert not walks and not again.leftover and not again.decoded
    assert [m.duration for g in again.groups for m in g.metadata] == [130] * 8
    assert_same_batches(decode_serving_results(long), decode_serving_results(long, fast=False))
