"""The card data loader and the synthetic generator."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from inferstream.apps.fraud.data import CHUNK_ROWS, COLUMNS, CardDataError, load_transactions
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


def test_an_empty_file_and_a_zip_without_csv_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(CardDataError, match=r"line 1: the file is empty"):
        load_transactions(empty)
    archive = tmp_path / "nocsv.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.txt", "no data here")
    with pytest.raises(CardDataError, match=r"exactly one \.csv file; found none"):
        load_transactions(archive)


def test_errors_past_the_first_chunk_name_the_right_line(tmp_path: Path) -> None:
    lines = [HEADER, *[_row()] * (CHUNK_ROWS + 10)]
    lines[CHUNK_ROWS + 5] = _row(amount="12,5")  # a decimal comma: one value too many
    lines.insert(3, "")  # a blank line still counts as a line
    path = tmp_path / "long.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CardDataError) as info:
        load_transactions(path)
    assert info.value.line == CHUNK_ROWS + 7 and "expected 31 values, found 32" in str(info.value)
    lines[CHUNK_ROWS + 6] = _row(cls="yes")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CardDataError, match=f"line {CHUNK_ROWS + 7}: column Class: 'yes' is not a number"):
        load_transactions(path)


def test_rows_read_are_reported_as_they_go(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("\n".join([HEADER, *[_row()] * (2 * CHUNK_ROWS + 1)]) + "\n")
    seen: list[int] = []
    data = load_transactions(path, seen.append)
    assert seen == [CHUNK_ROWS, 2 * CHUNK_ROWS, 2 * CHUNK_ROWS + 1] and len(data) == 2 * CHUNK_ROWS + 1


def test_written_rows_read_back_exactly(tmp_path: Path) -> None:
    rows = synthetic_transactions(500, fraud_ratio=0.1, seed=2)
    rows.write_csv(tmp_path / "back.csv")
    again = load_transactions(tmp_path / "back.csv")
    assert np.array_equal(again.features, rows.features) and np.array_equal(again.labels, rows.labels)


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
