"""Judge reconstruction errors as fraud scores: threshold choice, metrics, plots and a markdown report."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

# scikit-learn and matplotlib are imported where used: the fraud-decider streamlet imports this
# module for ORIGINAL_THRESHOLD and must not pay their seconds of start-up in every process.
if TYPE_CHECKING:
    from matplotlib.figure import Figure

ORIGINAL_THRESHOLD = 4.0  # the original pipeline's fixed threshold, reported for comparison


@dataclass(frozen=True)
class ThresholdMetrics:
    threshold: float
    precision: float
    recall: float
    f1: float
    # [[true normal, false fraud], [missed fraud, caught fraud]]
    confusion: list[list[int]]


@dataclass(frozen=True)
class Evaluation:
    rows: int
    frauds: int
    roc_auc: float
    average_precision: float
    chosen: ThresholdMetrics
    original: ThresholdMetrics


def best_f1_threshold(labels: npt.NDArray[np.integer], errors: npt.NDArray[np.floating]) -> float:
    """The error threshold with the best F1 on these rows (frauds must be present)."""
    if labels.min() == labels.max():
        raise ValueError("choosing a threshold needs both normal and fraud rows")
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(labels, errors)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))])


def at_threshold(
    labels: npt.NDArray[np.integer], errors: npt.NDArray[np.floating], threshold: float
) -> ThresholdMetrics:
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    flagged = (errors >= threshold).astype(np.int8)
    precision, recall, f1, _ = precision_recall_fscore_support(
        labels, flagged, average="binary", zero_division=0.0
    )
    confusion = confusion_matrix(labels, flagged, labels=[0, 1]).tolist()
    return ThresholdMetrics(float(threshold), float(precision), float(recall), float(f1), confusion)


def evaluate(
    labels: npt.NDArray[np.integer], errors: npt.NDArray[np.floating], threshold: float
) -> Evaluation:
    from sklearn.metrics import average_precision_score, roc_auc_score

    return Evaluation(
        rows=int(labels.shape[0]),
        frauds=int(labels.sum()),
        roc_auc=float(roc_auc_score(labels, errors)),
        average_precision=float(average_precision_score(labels, errors)),
        chosen=at_threshold(labels, errors, threshold),
        original=at_threshold(labels, errors, ORIGINAL_THRESHOLD),
    )


def write_report(
    out_dir: Path,
    evaluation: Evaluation,
    labels: npt.NDArray[np.integer],
    errors: npt.NDArray[np.floating],
    loss_curve: list[float],
    validation_curve: list[float],
    notes: list[str],
) -> Path:
    """Write PNG plots, ``metrics.json`` and ``report.md`` into ``out_dir``; returns the markdown path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _plot_loss(out_dir / "loss.png", loss_curve, validation_curve)
    _plot_errors(out_dir / "errors_by_class.png", labels, errors, evaluation.chosen.threshold)
    _plot_roc(out_dir / "roc.png", labels, errors, evaluation.roc_auc)
    _plot_precision_recall(out_dir / "precision_recall.png", labels, errors, evaluation.average_precision)
    (out_dir / "metrics.json").write_text(json.dumps(asdict(evaluation), indent=2) + "\n")
    path = out_dir / "report.md"
    path.write_text(_markdown(evaluation, notes))
    return path


def _markdown(e: Evaluation, notes: list[str]) -> str:
    def row(name: str, m: ThresholdMetrics) -> str:
        (tn, fp), (fn, tp) = m.confusion
        return (
            f"| {name} | {m.threshold:.4g} | {m.precision:.3f} | {m.recall:.3f} | {m.f1:.3f} "
            f"| {tn} | {fp} | {fn} | {tp} |"
        )

    lines = [
        "# Fraud autoencoder — evaluation",
        "",
        f"Held-out rows: {e.rows} ({e.frauds} frauds). ROC AUC **{e.roc_auc:.4f}**, "
        f"average precision {e.average_precision:.4f}.",
        "",
        "| threshold | value | precision | recall | F1 "
        "| true normal | false fraud | missed fraud | caught fraud |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        row("chosen (best F1 on validation)", e.chosen),
        row("original's fixed 4.0", e.original),
        "",
        "![loss](loss.png) ![errors](errors_by_class.png)",
        "![roc](roc.png) ![precision-recall](precision_recall.png)",
        "",
        *(f"- {note}" for note in notes),
        "",
    ]
    return "\n".join(lines)


def _plot_loss(path: Path, loss: list[float], validation: list[float]) -> None:
    fig, ax = _pyplot().subplots(figsize=(6, 4))
    epochs = np.arange(1, len(loss) + 1)
    ax.plot(epochs, loss, label="training (normal rows)")
    ax.plot(epochs, validation, label="validation (normal rows)")
    ax.set(xlabel="epoch", ylabel="reconstruction MSE", title="Loss", yscale="log")
    ax.legend()
    _save(fig, path)


def _plot_errors(
    path: Path, labels: npt.NDArray[np.integer], errors: npt.NDArray[np.floating], threshold: float
) -> None:
    fig, ax = _pyplot().subplots(figsize=(6, 4))
    low, high = max(float(errors.min()), 1e-4), float(errors.max()) + 1e-9
    bins = np.geomspace(low, high, 50).tolist()
    ax.hist(errors[labels == 0], bins=bins, alpha=0.6, label="normal")
    ax.hist(errors[labels == 1], bins=bins, alpha=0.6, label="fraud")
    ax.axvline(threshold, color="k", linestyle="--", label=f"threshold {threshold:.3g}")
    ax.axvline(ORIGINAL_THRESHOLD, color="grey", linestyle=":", label="original 4.0")
    ax.set(
        xscale="log",
        xlabel="reconstruction error (MSE)",
        ylabel="rows",
        title="Reconstruction error by class",
    )
    ax.legend()
    _save(fig, path)


def _plot_roc(
    path: Path, labels: npt.NDArray[np.integer], errors: npt.NDArray[np.floating], auc: float
) -> None:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(labels, errors)
    fig, ax = _pyplot().subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, label=f"AUC {auc:.3f}")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend(loc="lower right")
    _save(fig, path)


def _plot_precision_recall(
    path: Path, labels: npt.NDArray[np.integer], errors: npt.NDArray[np.floating], ap: float
) -> None:
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(labels, errors)
    fig, ax = _pyplot().subplots(figsize=(5, 5))
    ax.plot(recall, precision, label=f"average precision {ap:.3f}")
    ax.set(xlabel="recall", ylabel="precision", title="Precision–recall", ylim=(0, 1.05))
    ax.legend(loc="lower left")
    _save(fig, path)


def _pyplot() -> ModuleType:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    _pyplot().close(fig)
