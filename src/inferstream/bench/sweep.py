"""``--latency-sweep``: offered load from 1,000 records/s up to saturation, p50/p99 at each step.

After a mode's saturated phase has measured its maximum rate, the harness paces the input at each
rate of :func:`sweep_rates` in turn (a short step each, waiting for the outlets to catch up in
between) and measures every step's end-to-end latency like the paced phase: the
throughput/latency curve of the pipeline, one PNG line per mode.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from inferstream.bench.measure import latencies, percentiles_ms

LADDER = (1_000, 2_000, 5_000, 10_000, 15_000, 20_000, 30_000, 40_000, 50_000, 70_000, 100_000)


@dataclass
class SweepStep:
    offered_rps: float
    first_seq: int
    count: int
    p50_ms: float | None = None
    p99_ms: float | None = None
    caught_up: bool = True  # the outlets held every record of the step within the wait

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def sweep_rates(max_rps: float, start: float = 1_000.0) -> list[float]:
    """The ladder's rates from ``start`` below 90 % of ``max_rps``, then 90 % and 100 % of it."""
    rates = [float(r) for r in LADDER if start <= r < 0.9 * max_rps]
    if max_rps >= start:
        rates += [round(0.9 * max_rps), round(max_rps)]
    return rates or [start]


def measure_steps(
    steps: list[SweepStep],
    produced_at: npt.NDArray[np.float64],
    seqs: npt.NDArray[np.int64],
    out_times: npt.NDArray[np.float64],
) -> None:
    """Fill each step's p50/p99 from the produce times and the outlets' append times."""
    for step in steps:
        figures = percentiles_ms(latencies(produced_at, seqs, out_times, step.first_seq, step.count))
        step.p50_ms, step.p99_ms = figures["p50"], figures["p99"]


def write_chart(sweeps: dict[str, list[dict[str, Any]]], path: Path) -> Path | None:
    """p50 (dashed) and p99 (solid) against offered load, one colour per mode, log-log."""
    if not any(sweeps.values()):
        return None
    import matplotlib

    matplotlib.use("Agg")  # files only, never a display
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    colours = plt.get_cmap("tab10")
    for index, (mode, steps) in enumerate(sweeps.items()):
        done = [s for s in steps if s.get("p99_ms") is not None]
        if not done:
            continue
        rates = [s["offered_rps"] for s in done]
        colour = colours(index % 10)
        ax.plot(rates, [s["p99_ms"] for s in done], "-o", color=colour, label=f"{mode} p99")
        ax.plot(rates, [s["p50_ms"] for s in done], "--", color=colour, label=f"{mode} p50")
    for limit, text in ((50.0, "p99 goal at half rate (50 ms)"), (20.0, "p99 goal at 1,000/s (20 ms)")):
        ax.axhline(limit, color="grey", linewidth=0.8, linestyle=":")
        ax.text(0.01, limit, text, fontsize=7, va="bottom", color="grey", transform=ax.get_yaxis_transform())
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered load, records/s")
    ax.set_ylabel("end-to-end latency, ms")
    ax.set_title("Latency vs offered load (ingress produce → outlet append)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
