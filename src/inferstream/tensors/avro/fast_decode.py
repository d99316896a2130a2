"""Batch decoding on the fast path: byte templates learned from the stream, numbers read as arrays.

The engine is :mod:`~inferstream.tensors.avro.template_decoding`; each record type plugs into it
(:mod:`~inferstream.tensors.avro.request_decoding`, :mod:`~inferstream.tensors.avro.result_decoding`).
What no template matches comes back as leftover indices for the generic codec.
"""

from __future__ import annotations

from collections.abc import Sequence

from inferstream.tensors.avro.records import ServingResult, SourceRequest
from inferstream.tensors.avro.request_decoding import REQUESTS
from inferstream.tensors.avro.result_decoding import RESULTS
from inferstream.tensors.avro.stacked import ServingResultGroup, SourceRequestGroup
from inferstream.tensors.avro.template_decoding import Outcome, decode

__all__ = ["REQUESTS", "RESULTS", "Outcome", "decode_serving_results", "decode_source_requests"]


def decode_source_requests(
    payloads: Sequence[bytes], max_bytes: int
) -> Outcome[SourceRequest, SourceRequestGroup]:
    return decode(REQUESTS, payloads, max_bytes)


def decode_serving_results(
    payloads: Sequence[bytes], max_bytes: int
) -> Outcome[ServingResult, ServingResultGroup]:
    return decode(RESULTS, payloads, max_bytes)
