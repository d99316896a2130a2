"""Load the public credit-card fraud data set (plain or zipped CSV) into arrays.

Columns are ``Time, V1..V28, Amount, Class``; ``Class`` may be written ``0``/``1`` or quoted.
Anything else fails with a :class:`CardDataError` that names the file and line.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

FEATURE_NAMES: tuple[str, ...] = (*(f"V{i}" for i in range(1, 29)), "Amount")
COLUMNS: tuple[str, ...] = ("Time", *FEATURE_NAMES, "Class")
N_FEATURES = len(FEATURE_NAMES)


class CardDataError(ValueError):
    """The card data could not be read; ``line`` is 1-based (the header is line 1), 0 when not a line."""

    def __init__(self, source: str, line: int, reason: str) -> None:
        where = f"{source}, line {line}" if line else source
        super().__init__(f"{where}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class CardTransactions:
    """Card transactions as arrays.

    ``features`` is [n, 29] float32 (V1..V28, Amount); ``labels`` is [n], 1 = fraud.
    """

    time: npt.NDArray[np.float64]
    features: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int8]
    source: str
    synthetic: bool = False

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def frauds(self) -> int:
        return int(self.labels.sum())

    def subset(self, index: npt.NDArray[np.intp]) -> CardTransactions:
        return CardTransactions(
            self.time[index], self.features[index], self.labels[index], self.source, self.synthetic
        )

    def describe(self) -> str:
        kind = "synthetic data" if self.synthetic else self.source
        return f"{len(self):,} transactions ({self.frauds:,} frauds) from {kind}"


def load_transactions(path: str | Path) -> CardTransactions:
    """Read a ``creditcard.csv`` (or a ``.zip`` holding one CSV) and check every value."""
    path = Path(path)
    if not path.is_file():
        raise CardDataError(str(path), 0, "no such file; pass the path of creditcard.csv or its .zip")
    with _open_text(path) as text:
        return _parse(csv.reader(text), str(path))


def _open_text(path: Path) -> io.TextIOWrapper:
    if not zipfile.is_zipfile(path):
        return open(path, newline="", encoding="utf-8")
    archive = zipfile.ZipFile(path)
    names = [n for n in archive.namelist() if n.lower().endswith(".csv") and not n.startswith("__MACOSX")]
    if len(names) != 1:
        raise CardDataError(str(path), 0, f"the zip must hold exactly one .csv file, found {names or 'none'}")
    return io.TextIOWrapper(archive.open(names[0]), newline="", encoding="utf-8")


def _parse(rows: Iterator[list[str]], source: str) -> CardTransactions:
    header = next(rows, None)
    if header is None:
        raise CardDataError(source, 1, "the file is empty; expected a header " + ",".join(COLUMNS))
    if tuple(h.strip() for h in header) != COLUMNS:
        raise CardDataError(source, 1, f"expected the columns {','.join(COLUMNS)}, found {','.join(header)}")
    values: list[list[float]] = []
    for line, row in enumerate(rows, start=2):
        if not row:
            continue  # a trailing blank line
        if len(row) != len(COLUMNS):
            raise CardDataError(source, line, f"expected {len(COLUMNS)} values, found {len(row)}")
        try:
            parsed = [float(v) for v in row]
        except ValueError:
            bad = next(i for i, v in enumerate(row) if not _is_float(v))
            raise CardDataError(
                source, line, f"column {COLUMNS[bad]}: {row[bad]!r} is not a number"
            ) from None
        if parsed[-1] not in (0.0, 1.0):
            raise CardDataError(source, line, f"column Class: {row[-1]!r} must be 0 or 1")
        values.append(parsed)
    if not values:
        raise CardDataError(source, 2, "no transactions after the header")
    table = np.asarray(values, dtype=np.float64)
    if not np.isfinite(table).all():
        bad_row = int(np.argwhere(~np.isfinite(table))[0][0])
        raise CardDataError(source, bad_row + 2, "values must be finite numbers")
    return CardTransactions(
        time=table[:, 0].copy(),
        features=table[:, 1:-1].astype(np.float32),
        labels=table[:, -1].astype(np.int8),
        source=source,
    )


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
