"""Train, judge and export the fraud model: cross-validate the candidates, pick one by out-of-fold
average precision, calibrate, fit on every training row, choose the threshold from the user's
target, and write model + threshold + report as a new version, atomically."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from inferstream.apps.fraud.autoencoder import AutoencoderSettings, FraudAutoencoder, train_autoencoder
from inferstream.apps.fraud.classifiers import (
    SUPERVISED_KINDS,
    FraudClassifier,
    PlattCalibration,
    fit_estimator,
    raw_scores,
)
from inferstream.apps.fraud.crossval import CrossValidation, FitAndScore, cross_validate
from inferstream.apps.fraud.data import CardTransactions
from inferstream.apps.fraud.evaluation import Figures, PointFigures, at_threshold, judge
from inferstream.apps.fraud.export import (
    ThresholdInfo,
    check_parity,
    output_name,
    save_model,
    to_onnx,
    write_version,
)
from inferstream.apps.fraud.thresholds import ThresholdTarget, choose_threshold

if TYPE_CHECKING:
    import onnx

MODEL_KINDS = ("auto", *SUPERVISED_KINDS, "autoencoder")
MIN_FRAUDS = 50  # 10 per fold of 5: fewer and a supervised model can be neither fitted nor judged
PARITY_ROWS = 2000
SMALL_DATA = 20_000


class TrainingError(ValueError):
    """Training cannot go ahead with these data and settings; the message says what to do."""


class TrainingEvents(Protocol):
    """What training reports as it goes (the CLI shows it with rich progress bars)."""

    def stage(self, description: str, total: int) -> None: ...
    def advance(self) -> None: ...
    def note(self, message: str) -> None: ...


class _Quiet:
    def stage(self, description: str, total: int) -> None:
        pass

    def advance(self) -> None:
        pass

    def note(self, message: str) -> None:
        pass


@dataclass(frozen=True)
class TrainingSettings:
    model: str = "auto"
    folds: int = 5
    repeats: int = 3
    seed: int = 0
    target: ThresholdTarget = field(default_factory=ThresholdTarget)
    epochs: int = 200  # the autoencoder's most epochs (it stops early)
    holdout: float = 0.0  # share of rows no model sees (the demo grades on them)
    threads: int = 0  # 0: one below SMALL_DATA rows (thread start-up costs more), else all

    def __post_init__(self) -> None:
        if self.model not in MODEL_KINDS:
            raise TrainingError(f"unknown model {self.model!r}; use one of {', '.join(MODEL_KINDS)}")
        if self.folds < 2 or self.repeats < 1:
            raise TrainingError("cross-validation needs --folds ≥ 2 and --repeats ≥ 1")
        if not 0.0 <= self.holdout < 1.0:
            raise TrainingError(f"--holdout must be in [0, 1), got {self.holdout}")


@dataclass
class TrainedFraudModel:
    kind: str
    model: FraudClassifier | FraudAutoencoder
    candidates: list[CrossValidation]  # the winner first
    why: str
    threshold: ThresholdInfo
    point: PointFigures  # the chosen threshold on the pooled out-of-fold scores
    oof_labels: npt.NDArray[np.int8]
    oof_scores: npt.NDArray[np.float64]  # pooled over repeats, in the served score's units
    training_rows: npt.NDArray[np.intp]
    holdout_rows: npt.NDArray[np.intp]
    holdout_figures: Figures | None = None
    holdout_point: PointFigures | None = None
    parity_gap: float = 0.0
    graph: onnx.ModelProto | None = None
    version_dir: Path | None = None
    report: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def winner(self) -> CrossValidation:
        return self.candidates[0]


def choose_kinds(data: CardTransactions, model: str) -> tuple[list[str], str]:
    """The candidate models for ``data`` and why (raises when an explicit choice cannot work)."""
    frauds = data.frauds
    if model == "autoencoder":
        return ["autoencoder"], "asked for (--model autoencoder)"
    if model in SUPERVISED_KINDS:
        if frauds < MIN_FRAUDS:
            raise TrainingError(
                f"{frauds} labelled frauds: a supervised model needs at least {MIN_FRAUDS} "
                f"(10 per fold); use --model autoencoder (label-free) or --model auto"
            )
        return [model], f"asked for (--model {model})"
    if frauds < MIN_FRAUDS:
        return ["autoencoder"], (
            f"only {frauds} labelled frauds (a supervised model needs {MIN_FRAUDS}, 10 per fold), "
            "so the label-free autoencoder, trained on normal rows only"
        )
    return list(SUPERVISED_KINDS), "the best out-of-fold average precision"


def fit_and_evaluate(
    data: CardTransactions,
    settings: TrainingSettings = TrainingSettings(),
    events: TrainingEvents | None = None,
) -> TrainedFraudModel:
    """Everything but writing: candidates cross-validated, the winner fitted, calibrated, thresholded."""
    events = events or _Quiet()
    with _thread_limit(settings.threads or (1 if len(data) < SMALL_DATA else 0)):
        return _fit(data, settings, events)


def train_fraud(
    data: CardTransactions,
    models_dir: Path,
    settings: TrainingSettings = TrainingSettings(),
    events: TrainingEvents | None = None,
) -> TrainedFraudModel:
    """Train on ``data`` and write ``<models_dir>/fraud/<next version>/`` (model, threshold, report)."""
    from inferstream.apps.fraud.report import write_report

    trained = fit_and_evaluate(data, settings, events)
    assert trained.graph is not None

    def fill(folder: Path) -> None:
        save_model(trained.graph, folder, trained.threshold)  # type: ignore[arg-type]
        if trained.holdout_rows.size:
            data.subset(trained.holdout_rows).write_csv(folder / "holdout.csv")
        trained.report = write_report(folder / "report", trained, data, settings)

    trained.version_dir = write_version(models_dir / "fraud", fill)
    trained.report = trained.version_dir / "report" / "report.md"
    return trained


def _fit(data: CardTransactions, settings: TrainingSettings, events: TrainingEvents) -> TrainedFraudModel:
    if len(data) == 0:
        raise TrainingError("no transactions to train on")
    training_rows, holdout_rows = _split_holdout(data, settings)
    train = data.subset(training_rows)
    kinds, why = choose_kinds(train, settings.model)
    if kinds == ["autoencoder"] and settings.model == "auto":
        events.note(f"Using the autoencoder: {why}.")
    x, y = train.features, train.labels
    candidates = []
    for kind in kinds:
        events.stage(
            f"cross-validating {kind} ({settings.folds} folds × {settings.repeats} seeds)",
            settings.folds * settings.repeats,
        )
        candidates.append(
            cross_validate(
                kind,
                y,
                _fold_fitter(kind, x, y, settings),
                settings.folds,
                settings.repeats,
                settings.seed,
                events.advance,
            )
        )
    candidates.sort(key=lambda c: -np.nan_to_num(c.spread("average_precision").mean, nan=-1.0))
    winner = candidates[0]
    events.stage(f"fitting {winner.kind} on all {len(train):,} training rows", 1)
    model, pooled = _final_model(winner, x, y, settings)
    events.advance()
    labels = np.tile(y, settings.repeats)
    point = choose_threshold(labels, pooled, settings.target)
    threshold = ThresholdInfo(point.threshold, output_name(model), settings.target.describe())
    events.stage("exporting to ONNX and checking parity", 1)
    graph = to_onnx(model)
    check_rows = np.concatenate([x[:PARITY_ROWS], data.features[holdout_rows[:PARITY_ROWS]]])
    gap = check_parity(model, graph, check_rows)
    events.advance()
    trained = TrainedFraudModel(
        winner.kind,
        model,
        candidates,
        why,
        threshold,
        point,
        labels,
        pooled,
        training_rows,
        holdout_rows,
        parity_gap=gap,
        graph=graph,
    )
    if holdout_rows.size:
        held = data.subset(holdout_rows)
        scores = model.scores(held.features)
        trained.holdout_figures = judge(held.labels, scores)
        trained.holdout_point = at_threshold(held.labels, scores, point.threshold)
    return trained


def _split_holdout(
    data: CardTransactions, settings: TrainingSettings
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    rows = np.arange(len(data))
    if not settings.holdout:
        return rows, rows[:0]
    from sklearn.model_selection import train_test_split

    stratify = data.labels if 2 <= data.frauds <= len(data) - 2 else None
    kept, held = train_test_split(
        rows, test_size=settings.holdout, stratify=stratify, random_state=settings.seed
    )
    return np.sort(kept), np.sort(held)


def _fold_fitter(
    kind: str, x: npt.NDArray[np.float32], y: npt.NDArray[np.int8], settings: TrainingSettings
) -> FitAndScore:
    def fit_and_score(
        train: npt.NDArray[np.intp], test: npt.NDArray[np.intp], seed: int
    ) -> npt.NDArray[np.float64]:
        if kind == "autoencoder":
            normal = train[y[train] == 0]
            model = train_autoencoder(x[normal], AutoencoderSettings(max_epochs=settings.epochs, seed=seed))
            return model.scores(x[test])
        return raw_scores(fit_estimator(kind, x[train], y[train], seed), x[test])

    return fit_and_score


def _final_model(
    winner: CrossValidation, x: npt.NDArray[np.float32], y: npt.NDArray[np.int8], settings: TrainingSettings
) -> tuple[FraudClassifier | FraudAutoencoder, npt.NDArray[np.float64]]:
    """The model fitted on every training row, and the pooled out-of-fold scores in its units."""
    pooled_raw = winner.out_of_fold.reshape(-1)
    if winner.kind == "autoencoder":
        settings_ae = AutoencoderSettings(max_epochs=settings.epochs, seed=settings.seed)
        return train_autoencoder(x[y == 0], settings_ae), pooled_raw
    calibration = PlattCalibration.fit(pooled_raw, np.tile(y, settings.repeats))
    estimator = fit_estimator(winner.kind, x, y, settings.seed)
    return FraudClassifier(winner.kind, estimator, calibration), calibration.apply(pooled_raw)


def _thread_limit(threads: int) -> contextlib.AbstractContextManager[object]:
    if not threads:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    limits: contextlib.AbstractContextManager[object] = threadpool_limits(limits=threads)
    return limits
