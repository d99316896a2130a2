"""The fraud decider's routing on real Avro ServingResult payloads."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferstream.apps.fraud.decider import route
from inferstream.serving.port_codecs import ServingResultsCodec
from inferstream.tensors.avro import (
    ModelResultMetadata,
    ServingResult,
    StackedTensor,
    decode_serving_result,
    encode_serving_result,
    encode_serving_results,
)
from inferstream.tensors.tensor import Tensor

OK = ModelResultMetadata(model_name="fraud", duration=2)


def _payloads(transactions: np.ndarray, predictions: np.ndarray) -> list[bytes]:
    return encode_serving_results(
        {"transaction": StackedTensor.uniform(transactions.astype(np.float32))},
        {"predictions": StackedTensor.uniform(predictions.astype(np.float32))},
        OK,
        "fraud",
    )


def test_mse_against_threshold_splits_normal_and_fraud() -> None:
    x = np.zeros((4, 29))
    predicted = x + np.array([[0.5], [2.0], [1.99], [3.0]])  # MSE 0.25, 4.0, 3.96, 9.0
    batch, failures = ServingResultsCodec().decode(_payloads(x, predicted))
    routes = route(batch, threshold=4.0)
    assert failures == []
    assert (routes.normal, routes.fraud, routes.errors) == ([0, 2], [1, 3], {})
    np.testing.assert_allclose(routes.scores, [0.25, 4.0, 3.9601, 9.0], rtol=1e-6)


def test_error_output_is_used_when_the_model_gives_one() -> None:
    x = np.zeros((3, 29), np.float32)
    payloads = encode_serving_results(
        {"transaction": StackedTensor.uniform(x)},
        {
            "predictions": StackedTensor.uniform(x),
            "reconstruction_error": StackedTensor.uniform(np.array([[0.1], [5.0], [0.2]], np.float32)),
        },
        OK,
    )
    batch, _ = ServingResultsCodec().decode(payloads)
    routes = route(batch, threshold=1.0, error_output="reconstruction_error")
    assert (routes.normal, routes.fraud) == ([0, 2], [1])


def test_every_record_lands_in_exactly_one_route_with_reasons_for_errors() -> None:
    x = np.ones((1, 29), np.float32)
    failed = ServingResult(
        {"transaction": Tensor.from_numpy(x)}, {}, ModelResultMetadata(errors="UNAVAILABLE")
    )
    missing = ServingResult({"transaction": Tensor.from_numpy(x)}, {"other": Tensor.from_numpy(x)}, OK)
    wrong_shape = ServingResult(
        {"transaction": Tensor.from_numpy(x)}, {"predictions": Tensor.from_numpy(x[:, :5])}, OK
    )
    nan = ServingResult(
        {"transaction": Tensor.from_numpy(x)}, {"predictions": Tensor.from_numpy(x * np.nan)}, OK
    )
    payloads = [
        *_payloads(np.zeros((2, 29)), np.zeros((2, 29))),
        encode_serving_result(failed),
        encode_serving_result(missing),
        encode_serving_result(wrong_shape),
        encode_serving_result(nan),
        b"\x00garbage",
    ]
    batch, failures = ServingResultsCodec().decode(payloads)
    assert [f.index for f in failures] == [6] and "not a ServingResult" in failures[0].reason
    routes = route(batch, threshold=4.0)
    assert sorted(routes.normal + routes.fraud + list(routes.errors)) == list(range(6))
    assert routes.normal == [0, 1]
    assert routes.errors[2] == ""  # the executor's own reason travels in the record
    assert "no output 'predictions'" in routes.errors[3]
    assert "does not match" in routes.errors[4]
    assert "not a finite number" in routes.errors[5]
    assert decode_serving_result(batch.payloads[2]).metadata.errors == "UNAVAILABLE"


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["ok", "executor-error", "no-predictions", "nan"]),
            st.floats(0, 10, allow_nan=False),
        ),
        min_size=1,
        max_size=30,
    ),
    st.floats(0.1, 9.0),
)
def test_any_mix_of_results_routes_each_record_exactly_once(
    records: list[tuple[str, float]], threshold: float
) -> None:
    x = np.zeros((1, 29), np.float32)
    payloads = []
    for kind, error in records:
        outputs = {
            "ok": {"predictions": Tensor.from_numpy(x + np.sqrt(error))},
            "executor-error": {},
            "no-predictions": {"other": Tensor.from_numpy(x)},
            "nan": {"predictions": Tensor.from_numpy(x + np.nan)},
        }[kind]
        meta = ModelResultMetadata(errors="UNAVAILABLE") if kind == "executor-error" else OK
        payloads.append(
            encode_serving_result(ServingResult({"transaction": Tensor.from_numpy(x)}, outputs, meta))
        )
    batch, _ = ServingResultsCodec().decode(payloads)
    routes = route(batch, threshold)
    assert sorted(routes.normal + routes.fraud + list(routes.errors)) == list(range(len(records)))
    for i, (kind, error) in enumerate(records):
        if kind != "ok":
            assert i in routes.errors
            continue
        assert i not in routes.errors
        assert routes.scores[i] == pytest.approx(error, rel=1e-5, abs=1e-6)
        assert (i in routes.fraud) == (routes.scores[i] >= threshold)
