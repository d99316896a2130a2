"""Choose the decision threshold from the user's target, on out-of-fold scores.

Targets: ``max-fpr`` (the best recall whose false-positive rate stays within an alert budget, at
the highest threshold that reaches it),
``min-recall`` (the highest threshold that still catches that share of frauds) or ``best-f1``
(F1 with normals weighted to the full set's fraud rate, so it is not the sample's 30% F1).
Every row's score comes from a model that never saw the row, so the chosen point is what new
rows should see — give or take the difference between a fold model and the final one.

Default: ``max-fpr`` 0.3%. At the full set's 0.172% fraud rate that is about 30 false alerts
per 10,000 transactions, roughly two per fraud caught; and it is the smallest rate the sample can
resolve with more than one normal row (2 of its 700).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inferstream.apps.fraud.evaluation import BASE_RATE, PointFigures, at_threshold

DEFAULT_MAX_FPR = 0.003
TARGET_KINDS = ("max-fpr", "min-recall", "best-f1")


class ThresholdError(ValueError):
    """The target cannot be met or measured on these rows."""


@dataclass(frozen=True)
class ThresholdTarget:
    kind: str = "max-fpr"
    value: float = DEFAULT_MAX_FPR

    def __post_init__(self) -> None:
        if self.kind not in TARGET_KINDS:
            raise ThresholdError(f"unknown threshold target {self.kind!r}; use one of {TARGET_KINDS}")
        if self.kind != "best-f1" and not 0.0 <= self.value <= 1.0:
            raise ThresholdError(f"--{self.kind} must be between 0 and 1, got {self.value}")

    def describe(self) -> str:
        if self.kind == "best-f1":
            return "best F1 at the full set's fraud rate, on out-of-fold scores"
        what = "false-positive rate ≤" if self.kind == "max-fpr" else "recall ≥"
        return f"{what} {self.value:.2%} on out-of-fold scores"


@dataclass(frozen=True)
class TradeOff:
    """Every distinct threshold (descending) with its recall, FPR and alerts per 10,000."""

    thresholds: npt.NDArray[np.float64]
    recall: npt.NDArray[np.float64]
    false_positive_rate: npt.NDArray[np.float64]

    @property
    def alerts_per_10k(self) -> npt.NDArray[np.float64]:
        return 10_000 * (BASE_RATE * self.recall + (1 - BASE_RATE) * self.false_positive_rate)

    @property
    def f1_at_base_rate(self) -> npt.NDArray[np.float64]:
        caught = BASE_RATE * self.recall
        alerts = caught + (1 - BASE_RATE) * self.false_positive_rate
        precision = np.divide(caught, alerts, out=np.zeros_like(caught), where=alerts > 0)
        total = precision + self.recall
        return np.divide(2 * precision * self.recall, total, out=np.zeros_like(total), where=total > 0)


def trade_off(labels: npt.NDArray[np.integer], scores: npt.NDArray[np.floating]) -> TradeOff:
    order = np.argsort(-scores, kind="stable")
    ranked, fraud = scores[order].astype(np.float64), labels[order] == 1
    last = np.r_[np.flatnonzero(np.diff(ranked) != 0), ranked.size - 1]  # last row of each tie
    caught = np.cumsum(fraud)[last]
    alarms = np.cumsum(~fraud)[last]
    return TradeOff(ranked[last], caught / max(int(fraud.sum()), 1), alarms / max(int((~fraud).sum()), 1))


def choose_threshold(
    labels: npt.NDArray[np.integer], scores: npt.NDArray[np.floating], target: ThresholdTarget
) -> PointFigures:
    """The threshold meeting ``target`` on these (out-of-fold) scores, with what it does to them."""
    if int((labels == 0).sum()) == 0:
        raise ThresholdError("choosing a threshold needs normal rows")
    frauds = int(labels.sum())
    if frauds == 0 and target.kind != "max-fpr":
        raise ThresholdError(f"--{target.kind} needs labelled frauds; use --max-fpr (needs normals only)")
    curve = trade_off(labels, scores)
    if target.kind == "max-fpr":
        within = np.flatnonzero(curve.false_positive_rate <= target.value + 1e-12)
        if within.size and frauds == 0:  # nothing to catch: flag the budget's share of normals
            threshold = float(curve.thresholds[within[-1]])
        elif within.size:  # the best recall within budget, reached with the fewest alarms
            first_best = within[curve.recall[within] >= curve.recall[within[-1]]][0]
            threshold = float(curve.thresholds[first_best])
        else:  # even the top score alone breaks the budget: flag nothing
            threshold = float(np.inf)
    elif target.kind == "min-recall":
        index = int(np.flatnonzero(curve.recall >= target.value - 1e-12)[0])
        threshold = float(curve.thresholds[index])
    else:
        threshold = float(curve.thresholds[int(np.argmax(curve.f1_at_base_rate))])
    return at_threshold(labels, scores, threshold)
