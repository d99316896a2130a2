"""The transactions the benchmark replays: the project's CSV sample (V1..V28, Amount)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from inferstream.apps.fraud.data import load_transactions


def load_features(path: Path) -> npt.NDArray[np.float32]:
    """[n, 29] float32 rows; the benchmark cycles over them, each record tagged with its own number."""
    return load_transactions(path).features
