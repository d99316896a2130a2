"""``inferstream train fraud|recommender``: train a model here and export it to ONNX under models/."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from inferstream.cli.main import app, console

if TYPE_CHECKING:
    from inferstream.apps.fraud.data import CardTransactions
    from inferstream.apps.fraud.training import TrainedFraudModel

DEFAULT_DATA = Path("data/creditcard-sample.csv")
DEFAULT_MODELS = Path("models")

train_app = typer.Typer(help="Train a model and export it to ONNX in TensorFlow Serving's folder layout.")
app.add_typer(train_app, name="train")

ModelsOption = Annotated[Path, typer.Option(help="Model base folder; writes <models>/<model>/<version>/.")]
SeedOption = Annotated[int, typer.Option(help="Seed for the split, the model and any synthetic data.")]


@train_app.command("fraud")
def train_fraud_command(
    data: Annotated[Path, typer.Option(help="creditcard.csv or its .zip (Time, V1..V28, Amount, Class).")] = (
        DEFAULT_DATA
    ),
    synthetic: Annotated[int, typer.Option(help="Train on this many SYNTHETIC rows instead of --data.")] = 0,
    models: ModelsOption = DEFAULT_MODELS,
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs.")] = 150,
    seed: SeedOption = 0,
) -> None:
    """Train the fraud autoencoder on normal transactions, pick a threshold, write model + report."""
    # Imported here: scikit-learn and matplotlib take seconds, and every CLI verb loads this module.
    from inferstream.apps.fraud.model import TrainingSettings
    from inferstream.apps.fraud.training import train_fraud

    transactions = _load(data, synthetic, seed)
    console.print(f"Training on {transactions.describe()}")
    with Progress(
        TextColumn("[bold]epoch {task.completed}/{task.total}"),
        BarColumn(),
        TextColumn("loss {task.fields[loss]:.4f}  validation {task.fields[validation]:.4f}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("train", total=epochs, loss=float("nan"), validation=float("nan"))

        def show(epoch: int, loss: float, validation: float) -> None:
            progress.update(task, completed=epoch, loss=loss, validation=validation)

        trained = train_fraud(transactions, models, TrainingSettings(epochs=epochs, seed=seed), show)
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

    with console.status("Factorising synthetic interactions…"):
        path = train_and_save(models, users, products, seed)
    console.print(f"Recommender model (synthetic interactions) written to [bold]{path}[/]")


def _load(data: Path, synthetic: int, seed: int) -> CardTransactions:
    from inferstream.apps.fraud.data import CardDataError, load_transactions
    from inferstream.apps.fraud.synthetic import synthetic_transactions

    if synthetic:
        return synthetic_transactions(synthetic, seed=seed)
    try:
        return load_transactions(data)
    except CardDataError as exc:
        console.print(f"[red]Cannot read the training data:[/] {exc}")
        raise typer.Exit(2) from None


def _print_fraud_summary(trained: TrainedFraudModel) -> None:
    e = trained.evaluation
    table = Table(title=f"Held-out rows: {e.rows} ({e.frauds} frauds) — ROC AUC {e.roc_auc:.4f}")
    for column in ("threshold", "value", "precision", "recall", "F1"):
        table.add_column(column)
    for name, m in (("chosen (best F1, validation)", e.chosen), ("original 4.0", e.original)):
        table.add_row(name, f"{m.threshold:.4g}", f"{m.precision:.3f}", f"{m.recall:.3f}", f"{m.f1:.3f}")
    console.print(table)
    console.print(f"Model: [bold]{trained.version_dir}/model.onnx[/]  report: [bold]{trained.report}[/]")
