"""A port codec for ServingResult topics: stacked numpy groups for the maths, raw payloads kept for
routing, so a decider forwards the very bytes it read instead of encoding every record again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from inferstream.runtime import DecodeFailure
from inferstream.tensors.avro import DecodedBatch, ServingResultGroup, decode_serving_results

SERVING_RESULT = "tensorflow.modelserving.avro.ServingResult"
SOURCE_REQUEST = "tensorflow.modelserving.avro.SourceRequest"


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
