"""Load the public credit-card fraud data set (plain or zipped CSV) into arrays, in bounded memory.

Columns are ``Time, V1..V28, Amount, Class``; ``Class`` may be written ``0``/``1`` or quoted.
Rows are parsed in chunks of :data:`CHUNK_ROWS` straight into float arrays, so reading the full
284,807-row file holds one chunk of text at a time (not 9 million Python floats). Anything wrong
fails with a :class:`CardDataError` that names the file and line.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

FEATURE_NAMES: tuple[str, ...] = (*(f"V{i}" for i in range(1, 29)), "Amount")
COLUMNS: tuple[str, ...] = ("Time", *FEATURE_NAMES, "Class")
N_FEATURES = len(FEATURE_NAMES)
CHUNK_ROWS = 8192

# Called with the number of data rows read so far (after each chunk).
RowsCallback = Callable[[int], None]


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

    def write_csv(self, path: Path) -> None:
        """Write these rows in the data set's own CSV layout (readable by :func:`load_transactions`)."""
        table = np.column_stack([self.time, self.features.astype(np.float64), self.labels])
        formats = ["%.9g"] * (table.shape[1] - 1) + ["%d"]  # 9 digits give float32 back exactly
        np.savetxt(path, table, fmt=formats, delimiter=",", header=",".join(COLUMNS), comments="")


def load_transactions(path: str | Path, on_rows: RowsCallback | None = None) -> CardTransactions:
    """Read a ``creditcard.csv`` (or a ``.zip`` holding one CSV) and check every value."""
    path = Path(path)
    if not path.is_file():
        raise CardDataError(str(path), 0, "no such file; pass the path of creditcard.csv or its .zip")
    with _open_text(path) as text:
        return _parse(text, str(path), on_rows)


def _open_text(path: Path) -> io.TextIOWrapper:
    if not zipfile.is_zipfile(path):
        return open(path, newline="", encoding="utf-8")
    try:
        archive = zipfile.ZipFile(path)
        names = [n for n in archive.namelist() if n.lower().endswith(".csv") and "__MACOSX" not in n]
        if len(names) != 1:
            found = ", ".join(names) if names else "none"
            raise CardDataError(str(path), 0, f"the zip must hold exactly one .csv file; found {found}")
        return io.TextIOWrapper(archive.open(names[0]), newline="", encoding="utf-8")
    except zipfile.BadZipFile as exc:
        raise CardDataError(str(path), 0, f"not a readable zip ({exc})") from None


def _parse(text: io.TextIOWrapper, source: str, on_rows: RowsCallback | None) -> CardTransactions:
    reader = csv.reader(text)
    try:
        header = next(reader, None)
        if header is None:
            raise CardDataError(source, 1, "the file is empty; expected a header " + ",".join(COLUMNS))
        if tuple(h.strip() for h in header) != COLUMNS:
            raise CardDataError(
                source, 1, f"expected the columns {','.join(COLUMNS)}, found {','.join(header)}"
            )
        tables: list[npt.NDArray[np.float64]] = []
        rows = 0
        while True:
            chunk, lines = _read_chunk(reader, source)
            if not chunk:
                break
            tables.append(_to_table(chunk, lines, source))
            rows += len(chunk)
            if on_rows is not None:
                on_rows(rows)
    except UnicodeDecodeError as exc:
        raise CardDataError(source, reader.line_num + 1, f"not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        raise CardDataError(source, reader.line_num, f"not valid CSV ({exc})") from None
    if not tables:
        raise CardDataError(source, 2, "no transactions after the header")
    return _assemble(tables, source)


def _read_chunk(reader: Any, source: str) -> tuple[list[list[str]], list[int]]:
    chunk: list[list[str]] = []
    lines: list[int] = []
    for row in reader:
        if not row:
            continue  # a blank line
        if len(row) != len(COLUMNS):
            raise CardDataError(source, reader.line_num, f"expected {len(COLUMNS)} values, found {len(row)}")
        chunk.append(row)
        lines.append(reader.line_num)
        if len(chunk) == CHUNK_ROWS:
            break
    return chunk, lines


def _to_table(chunk: list[list[str]], lines: list[int], source: str) -> npt.NDArray[np.float64]:
    try:
        table = np.array(chunk, dtype=np.float64)
    except ValueError:
        for row, line in zip(chunk, lines, strict=True):
            for name, value in zip(COLUMNS, row, strict=True):
                if not _is_float(value):
                    raise CardDataError(source, line, f"column {name}: {value!r} is not a number") from None
        raise  # numpy refused what float() accepts: not expected, keep numpy's message
    finite = np.isfinite(table).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise CardDataError(source, lines[bad], "values must be finite numbers (no nan or inf)")
    classes = table[:, -1]
    wrong = (classes != 0.0) & (classes != 1.0)
    if wrong.any():
        bad = int(np.flatnonzero(wrong)[0])
        raise CardDataError(source, lines[bad], f"column Class: {chunk[bad][-1]!r} must be 0 or 1")
    return table


def _assemble(tables: list[npt.NDArray[np.float64]], source: str) -> CardTransactions:
    n = sum(t.shape[0] for t in tables)
    time = np.empty(n, np.float64)
    features = np.empty((n, N_FEATURES), np.float32)
    labels = np.empty(n, np.int8)
    start = 0
    while tables:  # consume the chunks as they are copied, so the float64 text never doubles up
        table = tables.pop(0)
        end = start + table.shape[0]
        time[start:end] = table[:, 0]
        features[start:end] = table[:, 1:-1]
        labels[start:end] = table[:, -1]
        start = end
    return CardTransactions(time=time, features=features, labels=labels, source=source)


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
