"""Failed ServingResults explained: the reason, a short view and the SourceRequest to replay.

An error outlet of ServingResults (the fraud decider's ``error``) is declared with
``explain=failed_result_explainer(...)`` and ``replay_schema=SOURCE_REQUEST``: ``inferstream
errors`` shows each record's reason and inputs, and ``inferstream replay --from errors`` sends
its inputs back to model-serving as the SourceRequest the ingress once wrote.
"""

from __future__ import annotations

from collections.abc import Mapping

from inferstream.apps.common.egress import describe
from inferstream.runtime.failures import Explain, Explained
from inferstream.tensors.avro import SourceRequest, TensorSpec, decode_serving_result, encode_source_request


def failed_result_explainer(expected_outputs: Mapping[str, TensorSpec] | None = None) -> Explain:
    """``explain`` for an error outlet of ServingResults; replayed requests ask for ``expected_outputs``."""
    expected = dict(expected_outputs or {})

    def explain(payload: bytes) -> Explained:
        result = decode_serving_result(payload)
        reason = result.metadata.errors or "(no reason given)"
        streamlet, sep, _ = reason.partition(": ")
        failed_at = streamlet if sep and " " not in streamlet else ""  # "fraud-decider: ..." names it
        request = SourceRequest(result.inputs, expected, result.datatype)
        return Explained(
            reason=reason,
            view=describe(result).split(" -> ", 1)[0],
            time_ms=result.metadata.start_time,
            failed_at=failed_at,
            replay=encode_source_request(request),
        )

    return explain
