"""``inferstream demo``: trains a model with rows held out, streams only those, grades only those."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from inferstream.apps.fraud.data import load_transactions
from inferstream.cli.main import _register_verbs, app


@pytest.mark.slow
def test_demo_grades_only_rows_no_model_trained_on(tmp_path: Path, repo_root: Path) -> None:
    _register_verbs()
    models = tmp_path / "models"
    args = [
        "demo",
        "--seconds",
        "3",
        "--models",
        str(models),
        "--data",
        str(repo_root / "data/creditcard-sample.csv"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    holdout = load_transactions(models / "fraud/1/holdout.csv")
    assert (len(holdout), holdout.frauds) == (300, 90)  # 30% of the sample, stratified
    assert "held out" in result.output and "which no" in result.output
    assert "precision on held-out rows" in result.output and "report.md" in result.output
    # The replayed rows are none of the rows the model was trained on.
    report = (models / "fraud/1/report/report.md").read_text()
    assert "700 rows (210 frauds) for training" in report and "300 held out from every model" in report
