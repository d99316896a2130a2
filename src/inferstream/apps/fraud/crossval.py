"""Repeated stratified k-fold cross-validation: every row scored by a model that never saw it.

Each repeat shuffles the rows with its own seed and splits them into ``folds`` stratified folds;
a model is fitted on the other folds and scores the held-out one. A repeat yields one out-of-fold
score per row, judged as a whole (:func:`~inferstream.apps.fraud.evaluation.judge`); the figures
are then given as mean ± standard deviation over the repeats.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from inferstream.apps.fraud.evaluation import REPORTED_FPRS, Figures, judge

# fit on rows ``train`` and return the scores of rows ``test``; ``seed`` varies per repeat.
FitAndScore = Callable[[npt.NDArray[np.intp], npt.NDArray[np.intp], int], npt.NDArray[np.float64]]


@dataclass(frozen=True)
class Spread:
    mean: float
    std: float

    def __str__(self) -> str:
        return f"{self.mean:.4f} ± {self.std:.4f}"


@dataclass(frozen=True)
class CrossValidation:
    kind: str
    folds: int
    repeats: int
    out_of_fold: npt.NDArray[np.float64]  # [repeats, rows]
    per_repeat: tuple[Figures, ...]
    seconds: float

    def spread(self, metric: str) -> Spread:
        """``roc_auc``, ``average_precision`` or ``recall@<fpr>`` (e.g. ``recall@0.003``)."""
        if metric.startswith("recall@"):
            index = REPORTED_FPRS.index(float(metric.split("@", 1)[1]))
            values = [f.recall_at_fpr[index] for f in self.per_repeat]
        else:
            values = [float(getattr(f, metric)) for f in self.per_repeat]
        return Spread(float(np.mean(values)), float(np.std(values)))

    @property
    def metrics(self) -> dict[str, Spread]:
        names = ["roc_auc", "average_precision", *(f"recall@{f}" for f in REPORTED_FPRS)]
        return {name: self.spread(name) for name in names}


def cross_validate(
    kind: str,
    labels: npt.NDArray[np.integer],
    fit_and_score: FitAndScore,
    folds: int = 5,
    repeats: int = 3,
    seed: int = 0,
    on_fold: Callable[[], None] | None = None,
) -> CrossValidation:
    from sklearn.model_selection import StratifiedKFold

    started = time.perf_counter()
    out_of_fold = np.full((repeats, labels.shape[0]), np.nan)
    rows = np.zeros((labels.shape[0], 1))
    for repeat in range(repeats):
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed + repeat)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
            splits = list(splitter.split(rows, labels))
        for train, test in splits:
            out_of_fold[repeat, test] = fit_and_score(train, test, seed + repeat)
            if on_fold is not None:
                on_fold()
    figures = tuple(judge(labels, out_of_fold[r]) for r in range(repeats))
    return CrossValidation(kind, folds, repeats, out_of_fold, figures, time.perf_counter() - started)
