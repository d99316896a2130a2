"""``inferstream train fraud|recommender``: train a model here and export it to ONNX under models/."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from inferstream.cli.main import app, console

if TYPE_CHECKING:
    from inferstream.apps.fraud.data import CardTransactions
    from inferstream.apps.fraud.thresholds import ThresholdTarget
    from inferstream.apps.fraud.training import TrainedFraudModel
    from inferstream.models.uri import ModelURI

DEFAULT_DATA = Path("data/creditcard-sample.csv")
DEFAULT_MODELS = "models"

train_app = typer.Typer(help="Train a model and export it to ONNX in TensorFlow Serving's folder layout.")
app.add_typer(train_app, name="train")

ModelsOption = Annotated[
    str,
    typer.Option(
        help="Model base: a folder or s3://bucket/prefix; writes <models>/<model>/<version>/ (for S3: "
        "trained in a local staging folder, then uploaded as the next version)."
    ),
]
SeedOption = Annotated[int, typer.Option(help="Seed for the folds, the model and any synthetic data.")]


@train_app.command("fraud")
def train_fraud_command(
    data: Annotated[Path, typer.Option(help="creditcard.csv or its .zip (Time, V1..V28, Amount, Class).")] = (
        DEFAULT_DATA
    ),
    model: Annotated[
        str,
        typer.Option(
            help="auto (supervised gbt/logreg picked by out-of-fold average precision when there are "
            "enough labelled frauds, else the autoencoder), gbt, logreg or autoencoder (label-free)."
        ),
    ] = "auto",
    max_fpr: Annotated[
        float | None,
        typer.Option(
            help="Threshold: the best recall with a false-positive rate at most this (default 0.003)."
        ),
    ] = None,
    min_recall: Annotated[
        float | None, typer.Option(help="Threshold: the highest that still catches this share of frauds.")
    ] = None,
    best_f1: Annotated[
        bool, typer.Option("--best-f1", help="Threshold: best F1 at the full set's 0.172% fraud rate.")
    ] = False,
    folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds.")] = 5,
    repeats: Annotated[
        int, typer.Option(min=1, help="Cross-validation repeats, each with its own seed.")
    ] = 3,
    holdout: Annotated[
        float,
        typer.Option(min=0.0, max=0.9, help="Share of rows no model sees (saved as holdout.csv)."),
    ] = 0.0,
    synthetic: Annotated[int, typer.Option(help="Train on this many SYNTHETIC rows instead of --data.")] = 0,
    models: ModelsOption = DEFAULT_MODELS,
    epochs: Annotated[int, typer.Option(min=1, help="Autoencoder: most epochs (it stops early).")] = 200,
    threads: Annotated[int, typer.Option(min=0, help="CPU threads for the models (0: all).")] = 0,
    seed: SeedOption = 0,
) -> None:
    """Cross-validate, pick and calibrate the fraud model, choose its threshold, write model + report."""
    # Imported here: scikit-learn and matplotlib take seconds, and every CLI verb loads this module.
    from inferstream.apps.fraud.export import ExportError
    from inferstream.apps.fraud.thresholds import ThresholdError, ThresholdTarget
    from inferstream.apps.fraud.training import TrainingError, TrainingSettings, train_fraud

    try:
        settings = TrainingSettings(
            model=model,
            folds=folds,
            repeats=repeats,
            seed=seed,
            epochs=epochs,
            holdout=holdout,
            threads=threads,
            target=_target(ThresholdTarget, max_fpr, min_recall, best_f1),
        )
    except (TrainingError, ThresholdError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    transactions = _load(data, synthetic, seed)
    console.print(f"Training on {transactions.describe()}")
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        try:
            with _models_base(models) as base:
                trained = train_fraud(transactions, base, settings, _ProgressEvents(progress))
        except (TrainingError, ThresholdError, ExportError) as exc:
            console.print(f"[red]Cannot train:[/] {exc}")
            raise typer.Exit(2) from None
    _print_fraud_summary(trained)


@train_app.command("recommender")
def train_recommender_command(
    models: ModelsOption = DEFAULT_MODELS,
    users: Annotated[int, typer.Option(min=1, help="Users in the synthetic interactions.")] = 1000,
    products: Annotated[int, typer.Option(min=1, help="Products in the synthetic interactions.")] = 1000,
    seed: SeedOption = 0,
) -> None:
    """Factorise SYNTHETIC user × product interactions; export users, products [n,1] → predictions [n,1]."""
    from inferstream.apps.recommender.model import train_and_save

    with _models_base(models) as base, console.status("Factorising synthetic interactions…"):
        path = train_and_save(base, users, products, seed)
        console.print(f"Recommender model (synthetic interactions) written to [bold]{path}[/]")


@contextmanager
def _models_base(models: str) -> Iterator[Path]:
    """The local folder to train into; for an s3:// base, a staging folder uploaded on success."""
    from inferstream.models import ModelLoadError
    from inferstream.models.uri import ModelURI

    try:
        base = ModelURI.parse(models)
    except ModelLoadError as exc:
        raise typer.BadParameter(str(exc), param_hint="--models") from None
    if base.is_local:
        yield base.path
        return
    with tempfile.TemporaryDirectory(prefix="inferstream-train-") as staging:
        yield Path(staging)
        try:
            _upload_new_versions(Path(staging), base)
        except ModelLoadError as exc:
            console.print(f"[red]Cannot upload the model:[/] {exc}")
            raise typer.Exit(2) from None


def _upload_new_versions(staging: Path, base: ModelURI) -> None:
    """Upload each ``<model>/<version>/`` as the next version after those already in the store."""
    from inferstream.models import ModelLoadError
    from inferstream.models.s3 import ModelDownloadError
    from inferstream.models.store import list_versions, upload_folder

    for model in sorted(p for p in staging.iterdir() if p.is_dir()):
        target = base.child(model.name)
        try:
            existing = set(list_versions(target))
        except ModelDownloadError:  # the store refused: say so
            raise
        except ModelLoadError:  # nothing there yet
            existing = set()
        for folder in sorted((p for p in model.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)):
            version = max(existing, default=0) + 1
            upload_folder(folder, target.child(str(version)))
            existing.add(version)
            console.print(f"Uploaded {model.name} version {version} to [bold]{target.child(str(version))}[/]")


def _target(
    target_type: type[ThresholdTarget], max_fpr: float | None, min_recall: float | None, best_f1: bool
) -> ThresholdTarget:
    given = [t for t in (max_fpr is not None, min_recall is not None, best_f1) if t]
    if len(given) > 1:
        raise typer.BadParameter("give at most one of --max-fpr, --min-recall and --best-f1")
    if min_recall is not None:
        return target_type("min-recall", min_recall)
    if best_f1:
        return target_type("best-f1", 0.0)
    return target_type() if max_fpr is None else target_type("max-fpr", max_fpr)


class _ProgressEvents:
    """Training stages (folds, final fit, export) as rich progress bars."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def stage(self, description: str, total: int) -> None:
        self.task = self.progress.add_task(description, total=total)

    def advance(self) -> None:
        if self.task is not None:
            self.progress.advance(self.task)

    def note(self, message: str) -> None:
        self.progress.console.print(f"[yellow]{message}[/]")


def _load(data: Path, synthetic: int, seed: int) -> CardTransactions:
    from inferstream.apps.fraud.data import CardDataError, load_transactions
    from inferstream.apps.fraud.synthetic import synthetic_transactions

    if synthetic:
        return synthetic_transactions(synthetic, seed=seed)
    try:
        size = data.stat().st_size if data.is_file() else 0
        with Progress(
            TextColumn("[bold]reading {task.fields[name]}"),
            TextColumn("{task.completed:,} rows"),
            TimeElapsedColumn(),
            console=console,
            transient=size < 10_000_000,  # a bar worth keeping only for a big file
        ) as progress:
            task = progress.add_task("read", total=None, name=data.name)
            return load_transactions(data, lambda rows: progress.update(task, completed=rows))
    except CardDataError as exc:
        console.print(f"[red]Cannot read the training data:[/] {exc}")
        raise typer.Exit(2) from None


def _print_fraud_summary(trained: TrainedFraudModel) -> None:
    names = ("roc_auc", "average_precision", "recall@0.003", "recall@0.01", "recall@0.02")
    first = trained.winner
    table = Table(
        title=f"Out-of-fold figures, {first.folds} folds × {first.repeats} seeds (mean ± std); "
        "AP and precision at the full set's 0.172% fraud rate"
    )
    for column in ("model", "ROC AUC", "AP @0.172%", "recall @FPR≤0.3%", "≤1%", "≤2%"):
        table.add_column(column)
    for c in trained.candidates:
        label = f"[bold]{c.kind}[/] (chosen)" if c is first else c.kind
        table.add_row(label, *(str(c.spread(n)) for n in names))
    console.print(table)
    console.print(f"Chosen: [bold]{trained.kind}[/] — {trained.why}.")
    p = trained.point
    console.print(
        f"Threshold {p.threshold:.6g} on `{trained.threshold.error_output}` "
        f"({trained.threshold.chosen_by}): recall {p.recall:.3f}, FPR {p.false_positive_rate:.3%}, "
        f"{p.alerts_per_10k:.1f} alerts per 10,000 transactions."
    )
    if trained.holdout_point is not None:
        h = trained.holdout_point
        console.print(
            f"Held-out rows ({trained.holdout_rows.size:,}, seen by no model): recall {h.recall:.3f}, "
            f"FPR {h.false_positive_rate:.3%}."
        )
    console.print(f"Model: [bold]{trained.version_dir}/model.onnx[/]  report: [bold]{trained.report}[/]")
