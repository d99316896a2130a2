"""Records whose datatype differs per record (a sequence tag, as the bench harness writes) take the
fast path and read back exactly as the generic codec reads them."""

from __future__ import annotations

import numpy as np

from inferstream.tensors.avro import (
    ModelResultMetadata,
    StackedTensor,
    decode_serving_results,
    decode_source_requests,
    encode_serving_results,
    encode_source_requests,
    fast_decode,
    fast_encode,
)


def test_tagged_requests_fast_equals_generic_and_share_one_template() -> None:
    rng = np.random.default_rng(1)
    n = 300
    inputs = {"transaction": StackedTensor.uniform(rng.normal(size=(n, 29)).astype(np.float32))}
    tags = [f"fraud#{i:018d}" for i in range(n - 3)] + ["", "é-ü", "x" * 200]
    payloads = encode_source_requests(inputs, None, tags)
    assert payloads == encode_source_requests(inputs, None, tags, fast=False)
    outcome = fast_decode.decode_source_requests(payloads, 1 << 20)
    fast_records = sum(len(g) for g in outcome.groups)
    assert fast_records >= n - 3  # all equal-length tags in templates, not learned one by one
    fast = decode_source_requests(payloads)
    generic = decode_source_requests(payloads, fast=False)
    got = {int(i): g.request(k) for g in fast.groups for k, i in enumerate(g.indices)}
    want = {int(i): g.request(k) for g in generic.groups for k, i in enumerate(g.indices)}
    assert got.keys() == want.keys() == set(range(n))
    for i in range(n):
        assert got[i].datatype == want[i].datatype == tags[i]
        np.testing.assert_array_equal(got[i].inputs["transaction"].data, want[i].inputs["transaction"].data)


def test_tagged_results_round_trip_with_varying_metadata() -> None:
    rng = np.random.default_rng(2)
    n = 257
    inputs = {"transaction": StackedTensor.uniform(rng.normal(size=(n, 29)).astype(np.float32))}
    outputs = {"predictions": StackedTensor.uniform(rng.random((n, 1)).astype(np.float32))}
    # startTime/duration differ per record and take different varint widths
    metas = [ModelResultMetadata("", "fraud", "grpc", 1_700_000_000_000 + 97 * i, i * i) for i in range(n)]
    tags = [f"fraud#{i:018d}" for i in range(n)]
    tags[5] = "short"
    payloads = encode_serving_results(inputs, outputs, metas, tags)
    assert payloads == encode_serving_results(inputs, outputs, metas, tags, fast=False)
    assert len(fast_encode._ENCODE_TEMPLATES) <= 64  # templates per layout, not per record
    fast = decode_serving_results(payloads)
    got = {int(i): g.result(k) for g in fast.groups for k, i in enumerate(g.indices)}
    assert set(got) == set(range(n)) and not fast.failures
    for i in range(n):
        assert got[i].datatype == tags[i]
        assert got[i].metadata == metas[i]
        want = outputs["predictions"].values[i : i + 1]
        np.testing.assert_array_equal(got[i].outputs["predictions"].data, want)
    corrupt = [*payloads[:3], payloads[3][:-2] + b"\xff\xfe"]  # the tag's last bytes are not UTF-8
    checked = decode_serving_results(corrupt)
    assert [f.index for f in checked.failures] == [3]
