"""``inferstream train`` end to end through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from inferstream.cli.main import _register_verbs, app


def test_train_fraud_writes_a_versioned_model(tmp_path: Path, repo_root: Path) -> None:
    _register_verbs()
    args = [
        "train",
        "fraud",
        "--data",
        str(repo_root / "data/creditcard-sample.csv"),
        "--models",
        str(tmp_path),
    ]
    result = CliRunner().invoke(app, [*args, "--model", "logreg", "--min-recall", "0.85"])
    assert result.exit_code == 0, result.output
    assert "ROC AUC" in result.output and "recall ≥ 85.00%" in result.output
    assert "report:" in result.output
    again = CliRunner().invoke(app, [*args, "--model", "logreg", "--max-fpr", "0.01", "--repeats", "1"])
    assert again.exit_code == 0, again.output
    assert (tmp_path / "fraud/1/model.onnx").is_file() and (tmp_path / "fraud/2/threshold.json").is_file()
    saved = json.loads((tmp_path / "fraud/2/threshold.json").read_text())
    assert saved["chosen_by"].startswith("false-positive rate ≤ 1.00%") and saved["error_output"] == "score"
    both = CliRunner().invoke(app, [*args, "--max-fpr", "0.01", "--best-f1"])
    assert both.exit_code == 2 and "at most one of" in both.output


def test_train_fraud_on_synthetic_rows_says_so(tmp_path: Path) -> None:
    _register_verbs()
    result = CliRunner().invoke(
        app,
        [
            "train",
            "fraud",
            "--synthetic",
            "3000",
            "--models",
            str(tmp_path),
            "--epochs",
            "2",
            "--repeats",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "synthetic data" in result.output
    # ~5 frauds in 3,000 rows: too few for a supervised model, and the output says so
    assert "Using the autoencoder: only" in result.output and "labelled frauds" in result.output
    assert "SYNTHETIC DATA" in (tmp_path / "fraud/1/report/report.md").read_text()


def test_train_fraud_with_bad_data_says_what_is_wrong(tmp_path: Path) -> None:
    _register_verbs()
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    result = CliRunner().invoke(app, ["train", "fraud", "--data", str(bad), "--models", str(tmp_path)])
    assert result.exit_code == 2
    assert "line 1" in result.output and "expected the columns" in result.output


def test_train_recommender(tmp_path: Path) -> None:
    _register_verbs()
    result = CliRunner().invoke(app, ["train", "recommender", "--models", str(tmp_path), "--users", "30"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "recommender/1/model.onnx").is_file()
