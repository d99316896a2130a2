"""``inferstream train`` end to end through the CLI."""

from __future__ import annotations

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
    result = CliRunner().invoke(app, [*args, "--epochs", "3"])
    assert result.exit_code == 0, result.output
    assert "ROC AUC" in result.output
    again = CliRunner().invoke(app, [*args, "--epochs", "3"])
    assert again.exit_code == 0, again.output
    assert (tmp_path / "fraud/1/model.onnx").is_file() and (tmp_path / "fraud/2/threshold.json").is_file()


def test_train_fraud_on_synthetic_rows_says_so(tmp_path: Path) -> None:
    _register_verbs()
    result = CliRunner().invoke(
        app, ["train", "fraud", "--synthetic", "3000", "--models", str(tmp_path), "--epochs", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "synthetic data" in result.output
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
