"""Arbitrary bytes into every decoder that reads from outside: the Avro records (SourceRequest,
ServingResult, Tensor), TF ``TensorProto``, V2 (protobuf and JSON) and TF Serving JSON.

Each decoder gets the saved corpus (``fuzz_corpus/<target>/``: valid seeds written by
``make_fuzz_corpus.py`` and inputs that once broke something), mutations of it (flipped,
inserted, deleted bytes, truncations, splices) and plain random bytes. The contract: a decoder
returns, or raises its typed error with a reason (``TensorCodecError``, the server's
INVALID_ARGUMENT) — never anything else, never a hang (each input has a deadline). Batch decoders
never raise: a bad payload is a failure with a reason beside the good ones.

Budget: deterministic (derandomized), ~250 inputs per target, about 10 s in all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inferstream.protos import v2_pb2
from inferstream.server import jsonio
from inferstream.server.codecs import parse_proto
from inferstream.server.errors import ErrorKind, ServerError
from inferstream.tensors import TensorCodecError, tfjson, v2
from inferstream.tensors.avro import decode_serving_results, decode_source_requests, decode_tensor
from inferstream.tensors.tensorproto import decode_tensor_proto

CORPUS = Path(__file__).resolve().parent / "fuzz_corpus"
FUZZ = settings(max_examples=200, deadline=timedelta(seconds=5), derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip


def _corpus(target: str) -> list[bytes]:
    return [p.read_bytes() for p in sorted((CORPUS / target).glob("*.bin"))]


@contextlib.contextmanager
def _typed_errors() -> Iterator[None]:
    """Let only the typed, explained refusals through."""
    try:
        yield
    except TensorCodecError as exc:
        assert str(exc), "a codec error without a reason"
    except ServerError as exc:
        assert exc.kind is ErrorKind.INVALID_ARGUMENT and exc.message


def _batch(decode: Callable[[list[bytes]], Any], target: str) -> Callable[[bytes], None]:
    good = (CORPUS / target / "seed-0.bin").read_bytes()

    def check(payload: bytes) -> None:
        out = decode([payload, good])  # never raises: failures come back with reasons
        failed = {f.index for f in out.failures}
        assert all(f.error for f in out.failures)
        assert 1 not in failed, "a bad neighbour spoiled a good record"
        assert out.records() + len(failed) == 2

    return check


def _json(parse: Callable[[Any], Any]) -> Callable[[bytes], None]:
    def check(payload: bytes) -> None:
        with _typed_errors():
            parse(jsonio.loads(payload))

    return check


def _v2_proto(payload: bytes) -> None:
    with _typed_errors():
        v2.parse_infer_request_proto(parse_proto(v2_pb2.ModelInferRequest, payload))


def _single(decode: Callable[[bytes], Any]) -> Callable[[bytes], None]:
    def check(payload: bytes) -> None:
        with _typed_errors():
            decode(payload)

    return check


TARGETS: dict[str, Callable[[bytes], None]] = {
    "avro-source-request": _batch(decode_source_requests, "avro-source-request"),
    "avro-serving-result": _batch(decode_serving_results, "avro-serving-result"),
    "avro-tensor": _single(decode_tensor),
    "tensorproto": _single(decode_tensor_proto),
    "v2-proto": _v2_proto,
    "v2-json": _json(v2.parse_infer_request_json),
    "tfjson": _json(tfjson.parse_predict_request),
}

# One edit of a seed: (operation, position, argument); positions wrap around the seed's length.
EDITS = st.lists(
    st.tuples(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "splice"]),
              st.integers(0, 1 << 16), st.integers(0, 255)),
    min_size=1, max_size=6,
)  # fmt: skip
INTERESTING = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, 0x3F, 0x5B, 0x7B, 0x22]  # varint edges, JSON brackets


def mutate(seed: bytes, edits: list[tuple[str, int, int]], other: bytes) -> bytes:
    data = bytearray(seed)
    for op, at, arg in edits:
        where = at % (len(data) + 1)
        if op == "flip" and data:
            data[where % len(data)] ^= 1 << (arg % 8)
        elif op == "set" and data:
            data[where % len(data)] = INTERESTING[arg % len(INTERESTING)] if arg < 128 else arg
        elif op == "insert":
            data[where:where] = bytes([arg]) * (1 + arg % 4)
        elif op == "delete":
            del data[where : where + 1 + arg % 8]
        elif op == "truncate":
            del data[where:]
        elif op == "splice":
            data[where:] = other[arg % (len(other) + 1) :]
    return bytes(data)


def test_every_target_has_a_corpus() -> None:
    assert sorted(p.name for p in CORPUS.iterdir() if p.is_dir()) == sorted(TARGETS)
    assert all(_corpus(target) for target in TARGETS)


@pytest.mark.parametrize("target", list(TARGETS))
def test_corpus_decodes_or_is_refused_with_a_reason(target: str) -> None:
    for payload in _corpus(target):
        TARGETS[target](payload)


@pytest.mark.parametrize("target", list(TARGETS))
@FUZZ
@given(data=st.data(), edits=EDITS)
def test_mutated_corpus_decodes_or_is_refused_with_a_reason(
    target: str, data: st.DataObject, edits: list[tuple[str, int, int]]
) -> None:
    corpus = _corpus(target)
    seed = data.draw(st.sampled_from(corpus))
    other = data.draw(st.sampled_from(corpus))
    TARGETS[target](mutate(seed, edits, other))


@pytest.mark.parametrize("target", list(TARGETS))
@settings(FUZZ, max_examples=50)
@given(payload=st.binary(max_size=512))
def test_random_bytes_decode_or_are_refused_with_a_reason(target: str, payload: bytes) -> None:
    TARGETS[target](payload)
