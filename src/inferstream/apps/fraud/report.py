"""The training report: ``report.md``, ``metrics.json`` and PNG plots in ``<version>/report/``."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from inferstream.apps.fraud.autoencoder import FraudAutoencoder
from inferstream.apps.fraud.data import CardTransactions
from inferstream.apps.fraud.evaluation import BASE_RATE, REPORTED_FPRS, at_threshold, normal_weight
from inferstream.apps.fraud.thresholds import ThresholdTarget, choose_threshold, trade_off

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from inferstream.apps.fraud.training import TrainedFraudModel, TrainingSettings

# The aims for the default model, judged on the cross-validated means.
AIMS = {"roc_auc": 0.985, "average_precision": 0.88, "recall@0.003": 0.88}
METRIC_TITLES = {
    "roc_auc": "ROC AUC",
    "average_precision": "AP at 0.172% fraud",
    **{f"recall@{f}": f"recall at FPR ≤ {f:.1%}" for f in REPORTED_FPRS},
}


def write_report(
    out_dir: Path, trained: TrainedFraudModel, data: CardTransactions, settings: TrainingSettings
) -> Path:
    """Write the plots, ``metrics.json`` and ``report.md`` into ``out_dir``; returns the markdown path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    labels, scores = trained.oof_labels, trained.oof_scores
    _plot_trade_off(out_dir / "trade_off.png", labels, scores, trained.threshold.threshold)
    _plot_scores(out_dir / "scores_by_class.png", labels, scores, trained.threshold.threshold, trained.kind)
    if labels.min() != labels.max():
        _plot_roc(out_dir / "roc.png", labels, scores)
        _plot_precision_recall(out_dir / "precision_recall.png", labels, scores)
    if isinstance(trained.model, FraudAutoencoder):
        _plot_loss(out_dir / "loss.png", trained.model.loss_curve, trained.model.validation_curve)
    (out_dir / "metrics.json").write_text(json.dumps(metrics(trained, settings), indent=2) + "\n")
    path = out_dir / "report.md"
    path.write_text(_markdown(trained, data, settings))
    return path


def metrics(trained: TrainedFraudModel, settings: TrainingSettings) -> dict[str, Any]:
    return {
        "model": trained.kind,
        "why": trained.why,
        "folds": settings.folds,
        "repeats": settings.repeats,
        "candidates": {
            c.kind: {name: asdict(s) for name, s in c.metrics.items()} | {"seconds": c.seconds}
            for c in trained.candidates
        },
        "threshold": asdict(trained.threshold),
        "out_of_fold_point": asdict(trained.point),
        "holdout_rows": int(trained.holdout_rows.size),
        "holdout": asdict(trained.holdout_figures) if trained.holdout_figures else None,
        "holdout_point": asdict(trained.holdout_point) if trained.holdout_point else None,
        "onnx_parity_gap": trained.parity_gap,
    }


def _markdown(t: TrainedFraudModel, data: CardTransactions, s: TrainingSettings) -> str:
    train_rows = t.training_rows.size
    frauds = int(data.labels[t.training_rows].sum())
    names = list(METRIC_TITLES)
    lines = [
        f"# Fraud model — {t.kind}",
        "",
        *(["**SYNTHETIC DATA: these figures say nothing about real fraud.**", ""] if data.synthetic else []),
        f"Data: {data.describe()}; {train_rows:,} rows ({frauds:,} frauds) for training and "
        f"cross-validation"
        + (f", {t.holdout_rows.size:,} held out from every model." if t.holdout_rows.size else "."),
        f"Chosen: **{t.kind}** — {t.why}.",
        "",
        f"## Cross-validated figures ({s.folds} folds × {s.repeats} seeds, out-of-fold, mean ± std)",
        "",
        "| model | " + " | ".join(METRIC_TITLES[n] for n in names) + " | seconds |",
        "| --- " * (len(names) + 2) + "|",
    ]
    for c in t.candidates:
        cells = " | ".join(str(c.spread(n)) for n in names)
        mark = " (chosen)" if c is t.winner else ""
        lines.append(f"| {c.kind}{mark} | {cells} | {c.seconds:.1f} |")
    lines += ["", *_aims(t), "", *_threshold_section(t), *_holdout_section(t)]
    lines += [
        "",
        "## Plots (pooled out-of-fold scores)",
        "",
        "![trade-off](trade_off.png) ![scores](scores_by_class.png)",
        *(["![roc](roc.png) ![precision-recall](precision_recall.png)"] if (t.oof_labels == 1).any() else []),
        *(["![loss](loss.png)"] if isinstance(t.model, FraudAutoencoder) else []),
        "",
        "## How to read this",
        "",
        f"- Every score above comes from a model that did not see the row: {s.folds}-fold stratified "
        f"cross-validation, repeated with seeds {s.seed}..{s.seed + s.repeats - 1}; each repeat is judged "
        "whole, then mean ± standard deviation over the repeats.",
        f"- Average precision and precision are at the full data set's fraud rate ({BASE_RATE:.3%}): each "
        f"normal row is weighted {normal_weight(data.labels[t.training_rows]):.1f}× so frauds are "
        f"{BASE_RATE:.3%} of the weighted rows. ROC AUC and recall at an FPR do not depend on the rate.",
        *_model_notes(t),
        f"- The ONNX graph (`model.onnx`, output `{t.threshold.error_output}`) reproduces the trained "
        f"model within {t.parity_gap:.2g} (relative) on the training rows.",
        "",
    ]
    return "\n".join(lines)


def _aims(t: TrainedFraudModel) -> list[str]:
    if not (t.oof_labels == 1).any():
        return [
            "No labelled frauds: there is nothing to measure recall or precision against. The "
            "threshold flags the budgeted share of normal rows (--max-fpr)."
        ]
    lines = ["Aims for the default model (cross-validated means):", ""]
    for name, aim in AIMS.items():
        got = t.winner.spread(name).mean
        verdict = "met" if got >= aim else f"**missed by {aim - got:.4f}**"
        lines.append(f"- {METRIC_TITLES[name]} ≥ {aim}: {got:.4f} — {verdict}")
    frauds = int(t.oof_labels.sum()) // max(t.winner.repeats, 1)
    normals = int((t.oof_labels == 0).sum()) // max(t.winner.repeats, 1)
    lines.append(
        f"- What bounds them: {frauds} frauds and {normals} normals. One fraud is "
        f"{1 / max(frauds, 1):.2%} of recall; an FPR of 0.3% is {0.003 * normals:.0f} normal rows, so "
        "recall there rests on where the two or three most fraud-like normals fall."
    )
    return lines


def _threshold_section(t: TrainedFraudModel) -> list[str]:
    p = t.point
    (tn, fp), (fn, tp) = p.confusion
    lines = [
        "## Threshold",
        "",
        f"Target: {t.threshold.chosen_by}. Threshold **{p.threshold:.6g}** on `{t.threshold.error_output}` "
        "(saved in `threshold.json`, read by `fraud-decider`).",
        "",
        f"On the pooled out-of-fold scores: recall {p.recall:.3f}, "
        f"false-positive rate {p.false_positive_rate:.3%}, "
        f"{p.alerts_per_10k:.1f} alerts per 10,000 transactions at the full set's fraud rate, precision "
        f"{p.precision_at_base_rate:.3f} there (rows: {tp} frauds caught, {fn} missed, {fp} false alarms, "
        f"{tn} normals passed).",
        "",
        "| FPR budget | threshold | recall | alerts per 10,000 |",
        "| --- | --- | --- | --- |",
    ]
    for budget in (0.001, 0.003, 0.01, 0.02):
        at = choose_threshold(t.oof_labels, t.oof_scores, ThresholdTarget("max-fpr", budget))
        lines.append(f"| {budget:.1%} | {at.threshold:.6g} | {at.recall:.3f} | {at.alerts_per_10k:.1f} |")
    return lines


def _holdout_section(t: TrainedFraudModel) -> list[str]:
    if t.holdout_figures is None or t.holdout_point is None:
        return []
    f, p = t.holdout_figures, t.holdout_point
    return [
        "",
        f"## Held-out rows ({t.holdout_rows.size:,}, never seen by any model; `holdout.csv`)",
        "",
        f"ROC AUC {f.roc_auc:.4f}, AP at 0.172% {f.average_precision:.4f}; at the threshold: recall "
        f"{p.recall:.3f}, false-positive rate {p.false_positive_rate:.3%}, confusion {p.confusion}.",
    ]


def _model_notes(t: TrainedFraudModel) -> list[str]:
    if isinstance(t.model, FraudAutoencoder):
        return [
            f"- Autoencoder 29 → 14 → 7 → 7 → 29 (tanh, L2), every feature standardised, trained on normal "
            f"rows only; early stopping kept epoch {t.model.best_epoch} of {len(t.model.loss_curve)}. "
            "Its score is the reconstruction error, not a probability.",
        ]
    c = t.model.calibration
    return [
        f"- The score is a probability of fraud at the training data's fraud rate "
        f"({t.oof_labels.mean():.2%}), by Platt scaling fitted on the out-of-fold scores "
        f"(sigmoid({c.slope:.4g}·margin + {c.intercept:.4g}), margin = the model's log-odds); "
        "at the full set's rate the same "
        "transaction is far less likely fraud. The threshold, not the probability, decides.",
        "- Hyper-parameters were chosen on these folds, so the figures are slightly optimistic.",
    ]


def _plot_trade_off(
    path: Path, labels: npt.NDArray[np.integer], scores: npt.NDArray[np.floating], threshold: float
) -> None:
    curve = trade_off(labels, scores)
    chosen = at_threshold(labels, scores, threshold)
    fig, (by_threshold, by_budget) = _pyplot().subplots(1, 2, figsize=(11, 4))
    by_threshold.plot(curve.thresholds, curve.recall, drawstyle="steps-pre", color="C0")
    by_threshold.set(
        xlabel="threshold",
        ylabel="recall (frauds caught)",
        ylim=(0, 1.02),
        title="Recall and alerts against the threshold",
    )
    by_threshold.tick_params(axis="y", colors="C0")
    alerts = by_threshold.twinx()
    alerts.plot(curve.thresholds, curve.alerts_per_10k, drawstyle="steps-pre", color="C1")
    alerts.set(yscale="symlog", ylabel="alerts per 10,000 transactions (at 0.172% fraud)")
    alerts.tick_params(axis="y", colors="C1")
    if np.isfinite(threshold):
        by_threshold.axvline(threshold, color="red", linestyle="--", label=f"chosen {threshold:.4g}")
        by_threshold.legend(loc="lower left", fontsize=8)
    by_budget.plot(curve.alerts_per_10k, curve.recall, drawstyle="steps-post")
    by_budget.plot(
        [chosen.alerts_per_10k],
        [chosen.recall],
        "o",
        color="red",
        label=f"chosen: recall {chosen.recall:.3f}, {chosen.alerts_per_10k:.1f} alerts/10k",
    )
    by_budget.set(
        xscale="symlog",
        xlabel="alerts per 10,000 transactions (at 0.172% fraud)",
        ylabel="recall",
        title="Catches against the alert budget",
        ylim=(0, 1.02),
    )
    by_budget.legend(loc="lower right", fontsize=8)
    _save(fig, path)


def _plot_scores(
    path: Path, labels: npt.NDArray[np.integer], scores: npt.NDArray[np.floating], threshold: float, kind: str
) -> None:
    fig, ax = _pyplot().subplots(figsize=(6, 4))
    autoencoder = kind == "autoencoder"
    low = max(float(scores.min()), 1e-6) if autoencoder else 0.0
    bins = np.geomspace(low, float(scores.max()) + 1e-9, 50) if autoencoder else np.linspace(0, 1, 51)
    ax.hist(scores[labels == 0], bins=bins.tolist(), alpha=0.6, label="normal")
    ax.hist(scores[labels == 1], bins=bins.tolist(), alpha=0.6, label="fraud")
    ax.axvline(threshold, color="k", linestyle="--", label=f"threshold {threshold:.4g}")
    ax.set(
        xscale="log" if autoencoder else "linear",
        yscale="log",
        xlabel="reconstruction error" if autoencoder else "score (probability of fraud)",
        ylabel="rows",
        title="Out-of-fold scores by class",
    )
    ax.legend()
    _save(fig, path)


def _plot_roc(path: Path, labels: npt.NDArray[np.integer], scores: npt.NDArray[np.floating]) -> None:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(labels, scores)
    fig, ax = _pyplot().subplots(figsize=(5, 5))
    ax.plot(fpr, tpr)
    for budget in REPORTED_FPRS:
        ax.axvline(budget, color="grey", linestyle=":")
    ax.set(
        xscale="symlog",
        xlabel="false positive rate (log)",
        ylabel="true positive rate",
        title="ROC",
        xlim=(0, 1),
    )
    _save(fig, path)


def _plot_precision_recall(
    path: Path, labels: npt.NDArray[np.integer], scores: npt.NDArray[np.floating]
) -> None:
    from sklearn.metrics import precision_recall_curve

    weights = np.where(labels == 1, 1.0, normal_weight(labels))
    precision, recall, _ = precision_recall_curve(labels, scores, sample_weight=weights)
    fig, ax = _pyplot().subplots(figsize=(5, 5))
    ax.plot(recall, precision)
    ax.set(xlabel="recall", ylabel="precision at 0.172% fraud", title="Precision–recall", ylim=(0, 1.05))
    _save(fig, path)


def _plot_loss(path: Path, loss: list[float], validation: list[float]) -> None:
    fig, ax = _pyplot().subplots(figsize=(6, 4))
    epochs = np.arange(1, len(loss) + 1)
    ax.plot(epochs, loss, label="training (normal rows)")
    ax.plot(epochs, validation, label="held-back normal rows")
    ax.set(xlabel="epoch", ylabel="reconstruction MSE", title="Loss", yscale="log")
    ax.legend()
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
