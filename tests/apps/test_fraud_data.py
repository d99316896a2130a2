"""The card data loader and the synthetic generator."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from inferstream.apps.fraud.data import COLUMNS, CardDataError, load_transactions
from inferstream.apps.fraud.synthetic import synthetic_transactions

HEADER = ",".join(COLUMNS)


def _row(cls: str = "0", amount: str = "12.5") -> str:
    return ",".join(["1.0", *["0.5"] * 28, amount, cls])


def test_sample_loads_with_its_frauds(repo_root: Path) -> None:
    data = load_transactions(repo_root / "data/creditcard-sample.csv")
    assert (len(data), data.frauds) == (1000, 300)
    assert data.features.shape == (1000, 29) and data.features.dtype == np.float32
    assert not data.synthetic


def test_zip_and_quoted_class_read_like_plain(tmp_path: Path) -> None:
    text = "\n".join([HEADER, _row('"1"'), _row('"0"', "3")]) + "\n"
    archive = tmp_path / "creditcard.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("creditcard.csv", text)
    data = load_transactions(archive)
    assert data.labels.tolist() == [1, 0]
    assert data.features[:, -1].tolist() == [12.5, 3.0]


@pytest.mark.parametrize(
    ("lines", "line", "words"),
    [
        (["Time,V1,Amount,Class", _row()], 1, "expected the columns"),
        ([HEADER, _row(), _row(amount="abc")], 3, "column Amount: 'abc' is not a number"),
        ([HEADER, _row(), _row(), _row(cls="2")], 4, "must be 0 or 1"),
        ([HEADER, _row() + ",9"], 2, "expected 31 values, found 32"),
        ([HEADER, _row(amount="nan")], 2, "finite"),
        ([HEADER], 2, "no transactions"),
    ],
)
def test_bad_files_name_the_line(tmp_path: Path, lines: list[str], line: int, words: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CardDataError) as info:
        load_transactions(path)
    assert info.value.line == line
    assert words in str(info.value) and f"line {line}" in str(info.value)


def test_zip_with_two_csvs_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.csv", HEADER)
        zf.writestr("b.csv", HEADER)
    with pytest.raises(CardDataError, match=r"exactly one \.csv"):
        load_transactions(archive)


def test_synthetic_is_labelled_reproducible_and_near_its_ratio() -> None:
    first = synthetic_transactions(20_000, fraud_ratio=0.05, seed=7)
    again = synthetic_transactions(20_000, fraud_ratio=0.05, seed=7)
    assert first.synthetic and first.source.startswith("synthetic")
    assert "synthetic" in first.describe()
    assert np.array_equal(first.features, again.features)
    assert 0.04 < first.frauds / len(first) < 0.06
    assert np.all(np.diff(first.time) > 0)
