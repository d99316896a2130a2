"""Per-stage latency breakdown: where the end-to-end time of sampled records goes, stage by stage.

The pipeline's instances trace every few consumed batches
(:mod:`inferstream.observability.stage_times`: epoch marks for polled, started, model call, emit,
sent). The harness knows when it produced each record and, from the broker's ``LogAppendTime``
on every derived topic, when each record became readable downstream. Lining both up per record
gives consecutive intervals whose sum is exactly the record's end-to-end latency:

    in topic → wait for a slot → decode + micro-batch wait → model call → results → emit
    → ordered-emit wait → encode + produce call → produce → append downstream   (per stage)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from inferstream.bench.kafka_probe import TopicRead

#: (mark that ends the interval, label); an interval starts at the previous mark present.
CHAIN: tuple[tuple[str, str], ...] = (
    ("polled", "in topic"),
    ("started", "wait for a slot"),
    ("call-start", "decode + micro-batch wait"),
    ("call-end", "model call"),
    ("emit", "process / encode"),
    ("turn", "ordered-emit wait"),
    ("sent", "encode + produce call"),
    ("append", "produce → append downstream"),
)
LABELS = tuple(label for _, label in CHAIN)

Floats = npt.NDArray[np.float64]


@dataclass
class StageSpec:
    """One stage as the harness sees it: the topic it reads and where its records appear next."""

    name: str  # the streamlet's name in the blueprint (the traces' "stage")
    arrived: Callable[[npt.NDArray[np.int64]], Floats]  # seq → when it became readable upstream (s)
    appended: Callable[[npt.NDArray[np.int64]], Floats]  # seq → when it became readable downstream (s)


@dataclass
class StageBreakdown:
    """Per-record intervals (ms) of one stage's sampled records."""

    stage: str
    seqs: npt.NDArray[np.int64]
    parts: dict[str, Floats] = field(default_factory=dict)


def seq_times(reads: Sequence[TopicRead], size: int) -> Callable[[npt.NDArray[np.int64]], Floats]:
    """seq → the first time it appeared on any of ``reads`` (NaN if never)."""
    table = np.full(size, np.nan)
    for read in reads:
        inside = read.seqs < size
        seqs, times = read.seqs[inside], read.times[inside]
        order = np.argsort(-times)  # assign latest first so the earliest wins for duplicates
        table[seqs[order]] = times[order]
    return lambda seqs: table[np.clip(seqs, 0, size - 1)]


def produce_times(produced_at: Floats) -> Callable[[npt.NDArray[np.int64]], Floats]:
    return lambda seqs: produced_at[np.clip(seqs, 0, produced_at.size - 1)]


def load_traces(folder: Path) -> list[dict[str, Any]]:
    traces = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                try:
                    traces.append(json.loads(line))
                except ValueError:
                    continue  # a line cut by a killed process
    return traces


def stage_breakdowns(
    traces: Sequence[dict[str, Any]],
    reads_by_topic: dict[str, TopicRead],
    stages: Sequence[StageSpec],
    seq_range: tuple[int, int],
) -> dict[str, StageBreakdown]:
    """Intervals of every sampled record with ``seq_range[0] <= seq < seq_range[1]``, per stage."""
    found: dict[str, StageBreakdown] = {}
    # One pass per topic, then a binary search per trace: a mask over every record per trace made a
    # 10-minute run (millions of records, tens of thousands of traces) take hours.
    by_partition = {topic: _by_partition(read) for topic, read in reads_by_topic.items()}
    for spec in stages:
        seqs_parts: list[npt.NDArray[np.int64]] = []
        columns: dict[str, list[Floats]] = {label: [] for label in LABELS}
        for trace in (t for t in traces if t.get("stage") == spec.name):
            partition = by_partition.get(trace["topic"], {}).get(trace["partition"])
            if partition is None:
                continue
            offsets, partition_seqs = partition
            lo = int(np.searchsorted(offsets, trace["first"], side="left"))
            hi = int(np.searchsorted(offsets, trace["last"], side="right"))
            seqs = partition_seqs[lo:hi]
            seqs = seqs[(seqs >= seq_range[0]) & (seqs < seq_range[1])]
            if seqs.size == 0:
                continue
            marks: dict[str, Any] = dict(trace["marks"])
            previous: Floats = spec.arrived(seqs)
            for mark, label in CHAIN:
                if mark == "append":
                    at: Floats | None = spec.appended(seqs)
                elif mark in marks:
                    at = np.full(seqs.size, float(marks[mark]))
                else:
                    at = None
                if at is None:
                    columns[label].append(np.zeros(seqs.size))
                    continue
                columns[label].append((at - previous) * 1000.0)
                previous = at
            seqs_parts.append(seqs)
        if seqs_parts:
            breakdown = StageBreakdown(spec.name, np.concatenate(seqs_parts))
            breakdown.parts = {label: np.concatenate(values) for label, values in columns.items()}
            found[spec.name] = breakdown
    return found


def summarize(breakdowns: dict[str, StageBreakdown]) -> dict[str, Any]:
    """Table rows per stage and interval (p50/p99/mean ms), and what the slowest 1 % of the records
    sampled in every stage are made of, next to the median ones."""
    rows = []
    for stage, b in breakdowns.items():
        for label in LABELS:
            values = b.parts[label]
            values = values[np.isfinite(values)]
            if values.size == 0 or not np.any(values):
                continue
            p50, p99 = np.percentile(values, [50, 99])
            rows.append({
                "stage": stage, "interval": label, "records": int(values.size),
                "p50_ms": round(float(p50), 2), "p99_ms": round(float(p99), 2),
                "mean_ms": round(float(values.mean()), 2),
            })
    return {"rows": rows, "composition": _composition(breakdowns)}


def _composition(breakdowns: dict[str, StageBreakdown]) -> dict[str, Any]:
    """Records traced in every stage: their total is the e2e latency; mean intervals for the median
    band (p45-p55 of the total) and the p99 tail (≥ p99)."""
    if not breakdowns:
        return {}
    common: npt.NDArray[np.int64] | None = None
    for b in breakdowns.values():
        unique = np.unique(b.seqs)
        common = unique if common is None else np.intersect1d(common, unique)
    if common is None or common.size < 20:
        return {"records": 0 if common is None else int(common.size)}
    columns: dict[str, Floats] = {}
    for stage, b in breakdowns.items():
        _, first = np.unique(b.seqs, return_index=True)
        keep = first[np.isin(b.seqs[first], common)]
        order = np.argsort(b.seqs[keep])
        for label in LABELS:
            values = b.parts[label][keep][order]
            if np.any(values):
                columns[f"{stage}: {label}"] = np.nan_to_num(values)
    total = np.sum(list(columns.values()), axis=0)
    p45, p55, p99 = np.percentile(total, [45, 55, 99])
    median_band = (total >= p45) & (total <= p55)
    tail = total >= p99
    return {
        "records": int(common.size),
        "e2e_p50_ms": round(float(np.percentile(total, 50)), 2),
        "e2e_p99_ms": round(float(p99), 2),
        "median": {k: round(float(v[median_band].mean()), 2) for k, v in columns.items()},
        "p99_tail": {k: round(float(v[tail].mean()), 2) for k, v in columns.items()},
    }


def markdown(summary: dict[str, Any], mode: str) -> str:
    lines = [f"Per-stage latency breakdown — {mode} (sampled records of the paced phase, ms):", "",
             "| stage | interval | records | p50 | p99 | mean |", "|---|---|---:|---:|---:|---:|"]
    for row in summary.get("rows", []):
        lines.append(f"| {row['stage']} | {row['interval']} | {row['records']:,} | {row['p50_ms']:.1f} "
                     f"| {row['p99_ms']:.1f} | {row['mean_ms']:.1f} |")
    comp = summary.get("composition", {})
    if comp.get("median"):
        lines += ["", f"What the e2e latency is made of ({comp['records']:,} records traced in every "
                      f"stage; e2e p50 {comp['e2e_p50_ms']:.1f} ms, p99 {comp['e2e_p99_ms']:.1f} ms), "
                      "mean ms:", "", "| interval | median records | p99 tail |", "|---|---:|---:|"]
        for key in comp["median"]:
            lines.append(f"| {key} | {comp['median'][key]:.1f} | {comp['p99_tail'][key]:.1f} |")
    return "\n".join(lines)


def write_chart(summaries: dict[str, dict[str, Any]], path: Path) -> Path | None:
    """Stacked bars per mode: the median records and the p99 tail, one colour per stage interval."""
    with_data = {m: s["composition"] for m, s in summaries.items() if s.get("composition", {}).get("median")}
    if not with_data:
        return None
    import matplotlib

    matplotlib.use("Agg")  # files only, never a display
    import matplotlib.pyplot as plt

    keys: list[str] = []
    for comp in with_data.values():
        keys += [k for k in comp["median"] if k not in keys]
    fig, ax = plt.subplots(figsize=(6.0 + 2.4 * len(with_data), 6.0))
    names, x = [], 0.0
    colours = plt.get_cmap("tab20")
    for mode, comp in with_data.items():
        for band, label in (("median", "median"), ("p99_tail", "p99 tail")):
            bottom = 0.0
            for index, key in enumerate(keys):
                value = comp[band].get(key, 0.0)
                ax.bar(x, value, 0.8, bottom=bottom, color=colours(index % 20),
                       label=key if x == 0.0 else None)
                bottom += value
            names.append(f"{mode.replace('-batched', '').replace('inferstream-', '')}\n{label}")
            x += 1.0
        x += 0.5
    ticks = [i + 0.5 * (i // 2) for i in range(len(names))]
    ax.set_xticks(ticks, names, fontsize=7, rotation=15, ha="right")
    ax.set_ylabel("ms (mean of the band's records)")
    ax.set_title("E2E latency by stage interval: median records vs the slowest 1 %", fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[: len(keys)], labels[: len(keys)], fontsize=6, loc="upper left",
              bbox_to_anchor=(1.0, 1.0))
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _by_partition(read: TopicRead) -> dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """Per partition: its records' offsets in ascending order and their tags in the same order."""
    found: dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = {}
    for partition in np.unique(read.partitions):
        where = np.flatnonzero(read.partitions == partition)
        where = where[np.argsort(read.offsets[where], kind="stable")]
        found[int(partition)] = (read.offsets[where], read.seqs[where])
    return found
