"""Figures of one mode's run, computed from what the harness produced and read back from the broker."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def percentiles_ms(latencies_s: npt.NDArray[np.float64]) -> dict[str, float | None]:
    """p50/p95/p99 in milliseconds (None when there is nothing to measure)."""
    if latencies_s.size == 0:
        return {"p50": None, "p95": None, "p99": None}
    p50, p95, p99 = np.percentile(latencies_s * 1000.0, [50, 95, 99])
    return {"p50": round(float(p50), 2), "p95": round(float(p95), 2), "p99": round(float(p99), 2)}


def sustained_rate(out_times: npt.NDArray[np.float64], trim: float = 0.1) -> float | None:
    """Records/s over the middle of a drain: the first and last ``trim`` of the records are left out
    so start-up and the tail do not count. None with too few records to tell."""
    if out_times.size < 20:
        return None
    ordered = np.sort(out_times)
    lo, hi = int(ordered.size * trim), int(ordered.size * (1 - trim)) - 1
    span = float(ordered[hi] - ordered[lo])
    if span <= 0:
        return None
    return (hi - lo) / span


def rate_series(times: Sequence[float], counts: Sequence[int]) -> list[tuple[float, float]]:
    """Records/s between consecutive samples of a cumulative count: (time, rate) points."""
    points = []
    for i in range(1, len(times)):
        dt = times[i] - times[i - 1]
        if dt > 0:
            points.append((round(times[i], 3), round((counts[i] - counts[i - 1]) / dt, 1)))
    return points


def latencies(
    produced_at: npt.NDArray[np.float64],
    seqs: npt.NDArray[np.int64],
    out_times: npt.NDArray[np.float64],
    first_seq: int,
    count: int,
) -> npt.NDArray[np.float64]:
    """Seconds from each record's produce time to its first appearance on an outlet, for seqs in
    [first_seq, first_seq + count); duplicates (at-least-once redelivery) count once, first seen."""
    chosen = (seqs >= first_seq) & (seqs < first_seq + count)
    picked_seqs, picked_times = seqs[chosen], out_times[chosen]
    order = np.lexsort((picked_times, picked_seqs))
    picked_seqs, picked_times = picked_seqs[order], picked_times[order]
    first = np.ones(picked_seqs.size, dtype=bool)
    first[1:] = picked_seqs[1:] != picked_seqs[:-1]
    lat = picked_times[first] - produced_at[picked_seqs[first]]
    return np.asarray(lat, dtype=np.float64)
