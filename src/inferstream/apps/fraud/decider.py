"""``fraud-decider``: scores each ServingResult and routes it to ``normal`` (score < threshold),
``fraud`` (score ≥ threshold) or ``error`` (executor error, missing or mismatched tensors, a
non-finite score) — every record to exactly one outlet.

The score is the model output named by ``error-output`` when the model provides it (models
trained here: ``score``, a calibrated probability, or ``reconstruction_error`` for the
autoencoder; ``threshold-from`` reads which from ``threshold.json``), else the mean squared error
between the ``transaction`` input and the ``predictions`` output, as the original computed it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from inferstream.apps.common.failed_results import failed_result_explainer
from inferstream.apps.common.model_folders import latest_version_dir
from inferstream.apps.fraud.evaluation import ORIGINAL_THRESHOLD
from inferstream.apps.fraud.export import THRESHOLD_FILE, ThresholdInfo
from inferstream.apps.fraud.ingress import EXPECTED
from inferstream.runtime import (
    ConfigError,
    FloatParameter,
    InBatch,
    Inlet,
    Outlet,
    Output,
    Processor,
    RawCodec,
    StreamletContext,
    StringParameter,
)
from inferstream.runtime.failures import ErrorOutlet
from inferstream.schemas import SERVING_RESULT, SOURCE_REQUEST
from inferstream.serving.port_codecs import ServingResultBatch, ServingResultsCodec
from inferstream.tensors.avro import ServingResultGroup, encode_serving_result
from inferstream.tensors.avro.stacked import StackedTensor

INPUT = "transaction"
PREDICTIONS = "predictions"

THRESHOLD = FloatParameter(
    "threshold", ORIGINAL_THRESHOLD, "error at or above which a record is fraud", minimum=0
)
THRESHOLD_FROM = StringParameter(
    "threshold-from",
    "",
    "a model folder (models/fraud), version folder or threshold.json to read threshold and "
    "error-output from; overrides both",
)
ERROR_OUTPUT = StringParameter(
    "error-output", "", "model output holding the error per record; empty: MSE(transaction, predictions)"
)


@dataclass
class Routes:
    """Payload indices per outlet (ascending), error reasons, and the score of every payload (NaN
    where none was computed)."""

    normal: list[int] = field(default_factory=list)
    fraud: list[int] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)  # index -> reason (empty: already an error)
    scores: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))


def route(batch: ServingResultBatch, threshold: float, error_output: str = "") -> Routes:
    """Decide every record of ``batch``: vectorised per group of one tensor layout."""
    routes = Routes(scores=np.full(len(batch), np.nan))
    normal, fraud = [], []
    for group in batch.decoded.groups:
        indices = group.indices
        failed = np.fromiter((not m.ok for m in group.metadata), dtype=bool, count=len(group))
        routes.errors.update(dict.fromkeys(indices[failed].tolist(), ""))  # reason is in the record
        if failed.all():
            continue
        scores, reason = _scores(group, error_output)
        live = indices[~failed]
        if scores is None or reason:
            routes.errors.update(dict.fromkeys(live.tolist(), reason))
            continue
        live_scores = scores[~failed]
        routes.scores[live] = live_scores
        finite = np.isfinite(live_scores)
        for index, score in zip(live[~finite].tolist(), live_scores[~finite].tolist(), strict=True):
            routes.errors[index] = f"the reconstruction error is not a finite number ({score})"
        flagged = live_scores >= threshold
        fraud.append(live[finite & flagged])
        normal.append(live[finite & ~flagged])
    routes.normal = np.sort(np.concatenate(normal)).tolist() if normal else []
    routes.fraud = np.sort(np.concatenate(fraud)).tolist() if fraud else []
    return routes


def _scores(group: ServingResultGroup, error_output: str) -> tuple[npt.NDArray[np.float64] | None, str]:
    if error_output and error_output in group.outputs:
        return _per_record_mean(group.outputs[error_output], None), ""
    if INPUT not in group.inputs:
        return None, f"the record has no input tensor {INPUT!r} (inputs: {sorted(group.inputs) or 'none'})"
    if PREDICTIONS not in group.outputs:
        wanted = f"{error_output!r} or {PREDICTIONS!r}" if error_output else repr(PREDICTIONS)
        return None, f"the model result has no output {wanted} (outputs: {sorted(group.outputs) or 'none'})"
    given, predicted = group.inputs[INPUT], group.outputs[PREDICTIONS]
    if given.values.shape != predicted.values.shape or not np.array_equal(
        given.row_splits, predicted.row_splits
    ):
        return None, (
            f"output {PREDICTIONS!r} of shape {predicted.values.shape} does not match "
            f"input {INPUT!r} of shape {given.values.shape}"
        )
    if given.values.dtype.kind not in "fiu" or predicted.values.dtype.kind not in "fiu":
        return None, f"{INPUT!r} and {PREDICTIONS!r} must be numeric tensors"
    return _per_record_mean(given, predicted), ""


def _per_record_mean(first: StackedTensor, second: StackedTensor | None) -> npt.NDArray[np.float64]:
    """Mean of ``first`` (or of the squared difference with ``second``) over each record's elements."""
    values = first.values.astype(np.float64)
    if second is not None:
        values = (values - second.values.astype(np.float64)) ** 2
    if first.scalar:
        return values.reshape(len(first))
    rows = values.reshape(values.shape[0], -1)
    counts = first.rows_per_record * rows.shape[1]
    sums = np.add.reduceat(rows.sum(axis=1), first.row_splits[:-1]) if rows.shape[0] else np.zeros(0)
    sums[counts == 0] = np.nan  # a record with no elements has no error
    return np.asarray(sums / np.maximum(counts, 1), dtype=np.float64)


def resolve_threshold(source: str) -> ThresholdInfo:
    """The saved threshold of a model base folder (latest version), a version folder or a json file."""
    path = Path(source)
    if path.is_file():
        return ThresholdInfo.read(path.parent) if path.name == THRESHOLD_FILE else _not_found(path)
    if (path / THRESHOLD_FILE).is_file():
        return ThresholdInfo.read(path)
    version = latest_version_dir(path)
    if version is None or not (version / THRESHOLD_FILE).is_file():
        return _not_found(path)
    return ThresholdInfo.read(version)


def _not_found(path: Path) -> ThresholdInfo:
    raise ValueError(f"{path}: no {THRESHOLD_FILE} there; train a model with `inferstream train fraud`")


class FraudDecider(Processor):
    """Routes scored transactions to ``normal``, ``fraud`` or ``error``."""

    inlet = Inlet[ServingResultBatch]("in", SERVING_RESULT, ServingResultsCodec())
    normal = Outlet[list[bytes]]("normal", SERVING_RESULT, RawCodec(SERVING_RESULT))
    fraud = Outlet[list[bytes]]("fraud", SERVING_RESULT, RawCodec(SERVING_RESULT))
    # Failures: counted as error results, listed by `inferstream errors`, replayed to model-serving.
    error = ErrorOutlet[list[bytes]](
        "error",
        SERVING_RESULT,
        RawCodec(SERVING_RESULT),
        explain=failed_result_explainer(EXPECTED),
        replay_schema=SOURCE_REQUEST,
    )
    parameters = (THRESHOLD, THRESHOLD_FROM, ERROR_OUTPUT)

    threshold: float = ORIGINAL_THRESHOLD
    error_output: str = ""

    async def on_start(self, ctx: StreamletContext) -> None:
        self.threshold = ctx.config[THRESHOLD]
        self.error_output = ctx.config[ERROR_OUTPUT]
        source = ctx.config[THRESHOLD_FROM]
        if source:
            try:
                saved = resolve_threshold(source)
            except ValueError as exc:
                raise ConfigError(THRESHOLD_FROM.key, str(exc)) from None
            self.threshold, self.error_output = saved.threshold, saved.error_output or ""
        ctx.logger.info("fraud threshold %.6g on %s", self.threshold, self.error_output or "MSE")

    async def process(self, batch: InBatch[ServingResultBatch], out: Output) -> None:
        records = batch.records
        routes = route(records, self.threshold, self.error_output)
        payloads = records.payloads
        if routes.normal:
            await out.emit(self.normal, [payloads[i] for i in routes.normal])
        if routes.fraud:
            await out.emit(self.fraud, [payloads[i] for i in routes.fraud])
        if routes.errors:
            errors = [_with_reason(records, i, reason) for i, reason in sorted(routes.errors.items())]
            await out.emit(self.error, errors)


def _with_reason(batch: ServingResultBatch, index: int, reason: str) -> bytes:
    if not reason:
        return batch.payloads[index]
    for group in batch.decoded.groups:
        found = np.flatnonzero(group.indices == index)
        if found.size:
            result = group.result(int(found[0]))
            result.metadata = replace(result.metadata, errors=f"fraud-decider: {reason}")
            result.outputs = {}
            return encode_serving_result(result)
    raise AssertionError(f"payload {index} is in no group")  # the codec puts every payload in one
