"""Judge fraud scores as a fraud team would: at the full data set's fraud rate and an alert budget.

The sample over-represents frauds (30% against 0.172% in the full set), so average precision and
precision are computed with every normal row *weighted* by ``(frauds / BASE_RATE - frauds) / normals``:
the figures are those of a stream whose fraud rate is the full set's. ROC AUC and recall at a
false-positive rate do not depend on the fraud rate and are computed unweighted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

ORIGINAL_THRESHOLD = 4.0  # the original pipeline's fixed threshold (on MSE), kept for its models
BASE_RATE = 492 / 284_807  # the full public data set's fraud rate, 0.172%
REPORTED_FPRS = (0.003, 0.01, 0.02)  # 0.3% is 2 of the sample's 700 normals


@dataclass(frozen=True)
class Figures:
    """One set of scores judged: ROC AUC, base-rate-weighted AP, recall at each of REPORTED_FPRS."""

    roc_auc: float
    average_precision: float
    recall_at_fpr: tuple[float, ...]


def normal_weight(labels: npt.NDArray[np.integer], base_rate: float = BASE_RATE) -> float:
    """The weight of one normal row that makes frauds ``base_rate`` of the weighted rows."""
    frauds = int(labels.sum())
    normals = int(labels.shape[0]) - frauds
    if frauds == 0 or normals == 0:
        return 1.0
    return (frauds / base_rate - frauds) / normals


def base_rate_weights(labels: npt.NDArray[np.integer]) -> npt.NDArray[np.float64]:
    return np.where(labels == 1, 1.0, normal_weight(labels))


def recall_at_fpr(labels: npt.NDArray[np.integer], scores: npt.NDArray[np.floating], fpr: float) -> float:
    """The highest recall of any threshold whose false-positive rate is at most ``fpr``."""
    from sklearn.metrics import roc_curve

    false_positive, true_positive, _ = roc_curve(labels, scores)
    return float(true_positive[false_positive <= fpr + 1e-12].max())


def judge(labels: npt.NDArray[np.integer], scores: npt.NDArray[np.floating]) -> Figures:
    """The figures of ``scores`` (higher = more likely fraud) against ``labels``; both classes needed."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    if labels.min() == labels.max():
        nan = float("nan")
        return Figures(nan, nan, tuple(nan for _ in REPORTED_FPRS))
    return Figures(
        roc_auc=float(roc_auc_score(labels, scores)),
        average_precision=float(
            average_precision_score(labels, scores, sample_weight=base_rate_weights(labels))
        ),
        recall_at_fpr=tuple(recall_at_fpr(labels, scores, f) for f in REPORTED_FPRS),
    )


@dataclass(frozen=True)
class PointFigures:
    """What one threshold does to a set of rows (precision at the full set's fraud rate)."""

    threshold: float
    recall: float
    false_positive_rate: float
    precision_at_base_rate: float
    alerts_per_10k: float  # flagged per 10,000 transactions at the full set's fraud rate
    confusion: list[list[int]]  # [[true normal, false alarm], [missed fraud, caught fraud]]


def at_threshold(
    labels: npt.NDArray[np.integer], scores: npt.NDArray[np.floating], threshold: float
) -> PointFigures:
    flagged = scores >= threshold
    fraud = labels == 1
    tp, fn = int((flagged & fraud).sum()), int((~flagged & fraud).sum())
    fp, tn = int((flagged & ~fraud).sum()), int((~flagged & ~fraud).sum())
    recall = tp / max(tp + fn, 1)
    fpr = fp / max(fp + tn, 1)
    alerts = BASE_RATE * recall + (1 - BASE_RATE) * fpr
    precision = BASE_RATE * recall / alerts if alerts > 0 else 0.0
    return PointFigures(float(threshold), recall, fpr, precision, 10_000 * alerts, [[tn, fp], [fn, tp]])
