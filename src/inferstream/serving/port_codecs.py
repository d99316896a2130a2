"""The codecs of the model-serving ports: SourceRequests in, ServingResults out, and the
ServingResults reader of the streamlets downstream (deciders, egresses).

- :class:`SourceRequestsCodec` (model-serving inlet) decodes a consumed batch into stacked numpy
  groups, one per input layout;
- :class:`ScoredResultsCodec` (model-serving outlet) encodes the model's answers per group into
  ServingResult payloads, in the batch's record order;
- :class:`ServingResultsCodec` (inlets downstream) decodes ServingResults into stacked groups and
  keeps the raw payloads, so a decider forwards the very bytes it read instead of encoding again.

Undecodable payloads become dead letters with a reason; nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inferstream.runtime import DecodeFailure
from inferstream.schemas import SERVING_RESULT, SOURCE_REQUEST
from inferstream.tensors.avro import (
    DecodedBatch,
    ModelResultMetadata,
    ServingResultGroup,
    SourceRequestGroup,
    StackedTensor,
    decode_serving_results,
    decode_source_requests,
    encode_serving_results,
)
from inferstream.tensors.tensor import TensorCodecError


@dataclass(frozen=True)
class SourceRequestBatch:
    """Decoded SourceRequests of one consumed batch, grouped by input layout."""

    decoded: DecodedBatch[SourceRequestGroup]

    def __len__(self) -> int:
        return self.decoded.size


class SourceRequestsCodec:
    """Inlet codec: the tensors' batch decoder; undecodable payloads go to dead letters with a reason."""

    schema = SOURCE_REQUEST

    def decode(self, payloads: Sequence[bytes]) -> tuple[SourceRequestBatch, list[DecodeFailure]]:
        decoded = decode_source_requests(payloads)
        failures = [DecodeFailure(f.index, f"not a SourceRequest: {f.error}") for f in decoded.failures]
        return SourceRequestBatch(decoded), failures

    def encode(self, batch: SourceRequestBatch) -> list[bytes]:
        raise NotImplementedError("model-serving only reads SourceRequests")


@dataclass(frozen=True)
class ScoredGroup:
    """The answer for one input-layout group: outputs stacked per name, one metadata per record."""

    group: SourceRequestGroup
    outputs: dict[str, StackedTensor]
    metadata: list[ModelResultMetadata]


@dataclass(frozen=True)
class ScoredBatch:
    """The answers for one consumed batch, group by group; encoded in the batch's record order."""

    groups: list[ScoredGroup]

    def __len__(self) -> int:
        return sum(len(g.metadata) for g in self.groups)


def failed_metadata(metadata: Sequence[ModelResultMetadata], reason: str) -> list[ModelResultMetadata]:
    """``metadata`` with ``errors`` set to ``reason``: results that carry no outputs, but still exist."""
    return [ModelResultMetadata(reason, m.model_name, m.source, m.start_time, m.duration) for m in metadata]


class ScoredResultsCodec:
    """Outlet codec: ServingResult payloads of a :class:`ScoredBatch` (the tensors' batch encoder)."""

    schema = SERVING_RESULT

    def decode(self, payloads: Sequence[bytes]) -> tuple[ScoredBatch, list[DecodeFailure]]:
        raise NotImplementedError("model-serving writes ServingResults; ServingResultsCodec reads them")

    def encode(self, batch: ScoredBatch) -> list[bytes]:
        if len(batch.groups) == 1:
            return _encode_group(batch.groups[0])
        ordered: list[tuple[int, bytes]] = []
        for scored in batch.groups:
            ordered.extend(zip(scored.group.indices.tolist(), _encode_group(scored), strict=True))
        ordered.sort(key=lambda item: item[0])
        return [payload for _, payload in ordered]


def _encode_group(scored: ScoredGroup) -> list[bytes]:
    group = scored.group
    try:
        return encode_serving_results(group.inputs, scored.outputs, scored.metadata, group.datatypes)
    except (TensorCodecError, ValueError) as exc:  # never lose the records: errors without outputs
        failed = failed_metadata(scored.metadata, f"result cannot be encoded: {exc}")
        return encode_serving_results(group.inputs, {}, failed, group.datatypes)


@dataclass(frozen=True)
class ServingResultBatch:
    """Decodable payloads of one consumed batch; group ``indices`` point into ``payloads``."""

    payloads: list[bytes]
    decoded: DecodedBatch[ServingResultGroup]

    def __len__(self) -> int:
        return len(self.payloads)


class ServingResultsCodec:
    """Decodes with the tensors' batch API; undecodable payloads become dead letters with a reason."""

    schema = SERVING_RESULT

    def decode(self, payloads: Sequence[bytes]) -> tuple[ServingResultBatch, list[DecodeFailure]]:
        decoded = decode_serving_results(payloads)
        failures = [DecodeFailure(f.index, f"not a ServingResult: {f.error}") for f in decoded.failures]
        if not failures:
            return ServingResultBatch(list(payloads), decoded), []
        keep = np.ones(len(payloads), dtype=bool)
        keep[[f.index for f in failures]] = False
        new_index = np.cumsum(keep) - 1  # old payload index -> index among the kept payloads
        for group in decoded.groups:
            group.indices = new_index[group.indices]
        kept = [p for p, k in zip(payloads, keep, strict=True) if k]
        return ServingResultBatch(kept, DecodedBatch(len(kept), decoded.groups, [])), failures

    def encode(self, batch: ServingResultBatch) -> list[bytes]:
        return batch.payloads
