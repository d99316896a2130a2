"""numpy → Avro → numpy is exact for every dtype, shape (0-sized dims, scalars) and NaN/±inf."""

from __future__ import annotations

import numpy as np
from avro_strategies import SHAPES, tensors
from hypothesis import given, settings
from hypothesis import strategies as st

from inferstream.tensors import DType, Tensor
from inferstream.tensors.avro import (
    ModelResultMetadata,
    ServingResult,
    SourceRequest,
    TensorSpec,
    decode_serving_result,
    decode_source_request,
    decode_tensor,
    encode_serving_result,
    encode_source_request,
    encode_tensor,
)


def same(a: Tensor, b: Tensor | TensorSpec) -> bool:
    return isinstance(b, Tensor) and a.equals(b) and a.dim_names == b.dim_names


@settings(max_examples=150, deadline=None)
@given(tensors())
def test_tensor_round_trip_is_exact(tensor: Tensor) -> None:
    assert same(tensor, decode_tensor(encode_tensor(tensor)))


def test_special_floats_keep_their_bits() -> None:
    specials = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, np.finfo(np.float32).tiny / 2], np.float32)
    back = decode_tensor(encode_tensor(Tensor.from_numpy(specials)))
    assert isinstance(back, Tensor)
    assert back.data.view(np.uint32).tolist() == specials.view(np.uint32).tolist()
    z = np.array([complex(np.nan, -np.inf), complex(-0.0, 1e308)], np.complex128)
    zback = decode_tensor(encode_tensor(Tensor.from_numpy(z)))
    assert isinstance(zback, Tensor) and zback.dtype is DType.DT_COMPLEX128
    assert zback.data.view(np.uint64).tolist() == z.view(np.uint64).tolist()


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["a", "transaction", "ü"]), tensors(), max_size=3),
    st.dictionaries(st.sampled_from(["predictions", "p2"]), st.tuples(st.sampled_from(list(DType)), SHAPES)),
    st.text(max_size=12),
)
def test_source_request_round_trip(
    inputs: dict[str, Tensor], expected: dict[str, tuple[DType, tuple[int, ...]]], datatype: str
) -> None:
    # complex specs travel as their real counterpart: the Avro enum has no complex symbols
    real = {DType.DT_COMPLEX64: DType.DT_FLOAT, DType.DT_COMPLEX128: DType.DT_DOUBLE}
    specs = {n: TensorSpec(dt, shape, n) for n, (dt, shape) in expected.items()}
    back = decode_source_request(encode_source_request(SourceRequest(inputs, specs, datatype)))
    assert back.datatype == datatype
    assert back.inputs.keys() == inputs.keys()
    assert all(same(inputs[n], back.inputs[n]) and back.inputs[n].name == n for n in inputs)
    assert back.expected_outputs == {
        n: TensorSpec(real.get(s.dtype, s.dtype), s.shape, n) for n, s in specs.items()
    }


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(st.just("x"), tensors(), max_size=1),
    st.dictionaries(st.just("y"), tensors(), max_size=1),
    st.builds(
        ModelResultMetadata,
        st.text(max_size=5),
        st.text(max_size=5),
        st.text(max_size=5),
        st.integers(-(2**63), 2**63 - 1),
        st.integers(-(2**63), 2**63 - 1),
    ),
)
def test_serving_result_round_trip(
    inputs: dict[str, Tensor], outputs: dict[str, Tensor], meta: ModelResultMetadata
) -> None:
    back = decode_serving_result(encode_serving_result(ServingResult(inputs, outputs, meta, "fraud")))
    assert back.metadata == meta and back.datatype == "fraud"
    assert all(same(inputs[n], back.inputs[n]) for n in inputs) and back.inputs.keys() == inputs.keys()
    assert all(same(outputs[n], back.outputs[n]) for n in outputs) and back.outputs.keys() == outputs.keys()
