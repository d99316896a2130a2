"""Threshold targets on out-of-fold scores, and the base-rate-weighted figures."""

from __future__ import annotations

import numpy as np
import pytest

from inferstream.apps.fraud.evaluation import BASE_RATE, at_threshold, judge, normal_weight
from inferstream.apps.fraud.thresholds import ThresholdError, ThresholdTarget, choose_threshold, trade_off

# 10 frauds: eight scored 0.96..1.0, above every normal, and two low ones; 1,000 normals over 0..0.95.
LABELS = np.r_[np.ones(10, np.int8), np.zeros(1000, np.int8)]
SCORES = np.r_[np.linspace(0.96, 1.0, 8), [0.3, 0.05], np.linspace(0.0, 0.95, 1000)]


def test_max_fpr_takes_the_best_recall_within_the_budget() -> None:
    rng = np.random.default_rng(1)
    labels = np.r_[np.ones(50, np.int8), np.zeros(1000, np.int8)]
    scores = np.r_[rng.normal(2.5, 1.0, 50), rng.normal(0.0, 1.0, 1000)]
    point = choose_threshold(labels, scores, ThresholdTarget("max-fpr", 0.01))
    assert point.false_positive_rate <= 0.01
    # Brute force over every possible threshold: none within budget catches more...
    within = [at_threshold(labels, scores, t) for t in np.unique(scores)]
    within = [p for p in within if p.false_positive_rate <= 0.01]
    assert point.recall == max(p.recall for p in within) and 0.3 < point.recall < 1.0
    # ...and none catching as many raises fewer alarms.
    assert point.false_positive_rate == min(p.false_positive_rate for p in within if p.recall == point.recall)


def test_max_fpr_spends_no_more_alarms_than_the_best_recall_needs() -> None:
    labels = np.r_[np.ones(5, np.int8), np.zeros(1000, np.int8)]
    scores = np.r_[np.full(5, 2.0), np.linspace(0.0, 1.0, 1000)]  # frauds above every normal
    point = choose_threshold(labels, scores, ThresholdTarget("max-fpr", 0.01))
    assert (point.recall, point.false_positive_rate, point.threshold) == (1.0, 0.0, 2.0)


def test_min_recall_takes_the_highest_threshold_that_reaches_it() -> None:
    point = choose_threshold(LABELS, SCORES, ThresholdTarget("min-recall", 0.9))
    assert point.recall >= 0.9 and point.threshold == pytest.approx(0.3)
    higher = SCORES[point.threshold < SCORES].min()
    assert at_threshold(LABELS, SCORES, higher).recall < 0.9


def test_best_f1_is_judged_at_the_full_sets_fraud_rate() -> None:
    point = choose_threshold(LABELS, SCORES, ThresholdTarget("best-f1", 0.0))
    curve = trade_off(LABELS, SCORES)
    assert point.threshold == curve.thresholds[int(np.argmax(curve.f1_at_base_rate))]
    assert point.false_positive_rate < 0.05  # at 0.172% fraud, alarms cost far more than at 1%


def test_targets_that_need_frauds_say_so() -> None:
    normals = np.zeros(100, np.int8)
    scores = np.linspace(0, 1, 100)
    with pytest.raises(ThresholdError, match="needs labelled frauds"):
        choose_threshold(normals, scores, ThresholdTarget("min-recall", 0.9))
    point = choose_threshold(normals, scores, ThresholdTarget("max-fpr", 0.05))
    assert point.false_positive_rate == 0.05  # nothing to catch: the whole budget of normals
    with pytest.raises(ThresholdError):
        ThresholdTarget("max-fpr", 3.0)


def test_average_precision_weights_normals_to_the_base_rate() -> None:
    weight = normal_weight(LABELS)
    assert 10 / (10 + 1000 * weight) == pytest.approx(BASE_RATE)
    unweighted = judge(LABELS, SCORES)
    # Weighted: every false alarm counts ~50 times, so AP drops far below the unweighted figure.
    from sklearn.metrics import average_precision_score

    assert unweighted.average_precision < average_precision_score(LABELS, SCORES)
    assert unweighted.recall_at_fpr[0] == pytest.approx(
        0.8
    )  # FPR ≤ 0.3%: the top 8 frauds clear every normal
