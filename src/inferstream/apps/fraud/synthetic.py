"""Synthetic card transactions with the real data set's schema, for load tests.

Not real data: rows are drawn from Gaussians roughly shaped like the public set's PCA components
(spread falling from V1 to V28; frauds shifted on the components that separate them best there).
Every result says so: ``synthetic=True`` and a ``source`` starting with ``synthetic``.
"""

from __future__ import annotations

import numpy as np

from inferstream.apps.fraud.data import N_FEATURES, CardTransactions

# Fraud mean shifts on V1..V28 (index 0 = V1), rounded from the public set's per-class means.
_FRAUD_SHIFT = {2: -7.0, 3: 4.5, 9: -5.7, 10: 3.8, 11: -6.3, 13: -7.0, 15: -4.1, 16: -6.7}
_SECONDS_PER_ROW = 172_792 / 284_807  # the public set spans two days


def synthetic_transactions(rows: int, fraud_ratio: float = 492 / 284_807, seed: int = 0) -> CardTransactions:
    """``rows`` transactions, about ``fraud_ratio`` of them frauds, reproducible from ``seed``."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    if not 0.0 <= fraud_ratio <= 1.0:
        raise ValueError(f"fraud_ratio must be between 0 and 1, got {fraud_ratio}")
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < fraud_ratio).astype(np.int8)
    spread = np.linspace(1.9, 0.3, N_FEATURES - 1)
    components = rng.normal(0.0, spread, size=(rows, N_FEATURES - 1))
    shift = np.zeros(N_FEATURES - 1)
    for index, value in _FRAUD_SHIFT.items():
        shift[index] = value
    components += np.outer(labels, shift) * rng.uniform(0.5, 1.5, size=(rows, 1))
    amount = np.round(rng.lognormal(3.0, 1.4, size=(rows, 1)), 2)
    features = np.hstack([components, amount]).astype(np.float32)
    time = np.cumsum(rng.exponential(_SECONDS_PER_ROW, size=rows))
    return CardTransactions(time, features, labels, source=f"synthetic(seed={seed})", synthetic=True)
