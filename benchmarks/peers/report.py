"""Medians, ratios against the fastest peer, the Markdown tables and the plot of a peers run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from benchmarks.harness import Row, at_least, at_most, fmt, median, percentile
from benchmarks.peers.rounds import Sample
from benchmarks.peers.systems import System


@dataclass(frozen=True)
class Figure:
    """One workload's column: how to read it from samples and which way is better."""

    key: str
    title: str
    unit: str
    higher_is_better: bool
    read: Callable[[list[Sample]], float | None]


def _median_of(attr: str) -> Callable[[list[Sample]], float | None]:
    return lambda samples: median([v for v in (getattr(s, attr) for s in samples) if v is not None])


def _pooled(pct: float) -> Callable[[list[Sample]], float | None]:
    def read(samples: list[Sample]) -> float | None:
        pooled = [ms for s in samples for ms in s.latency_ms]
        return percentile(pooled, pct) if pooled else None
    return read


FIGURES = [
    Figure("w1", "W1 no-op jobs/s", "jobs/s", True, _median_of("noop_jobs_per_s")),
    Figure("p50", "W2 latency p50 ms", "ms", False, _pooled(50)),
    Figure("p99", "W2 latency p99 ms", "ms", False, _pooled(99)),
    Figure("w3", "W3 `time.sleep(0.01)` jobs s", "s", False, _median_of("sleep_s")),
    Figure("w4", "W4 `async def` sleep jobs s", "s", False, _median_of("async_s")),
    Figure("cold", "cold start → first result s", "s", False, _median_of("cold_s")),
]


def speed(figure: Figure, value: float | None, best: float | None) -> float | None:
    """How many times faster than ``best`` (1.0 = as fast; above 1 = faster), whichever way the unit runs."""
    if value is None or best is None or value == 0 or best == 0:
        return None
    return value / best if figure.higher_is_better else best / value


def fastest_peer(figure: Figure, results: dict[System, list[Sample]]) -> tuple[System | None, float | None]:
    """The peer (not jobfleet) with the best median of ``figure``, and that median."""
    scored = [(s, figure.read(samples)) for s, samples in results.items() if not s.is_jobfleet and samples]
    scored = [(s, v) for s, v in scored if v is not None]
    if not scored:
        return None, None
    pick = max if figure.higher_is_better else min
    return pick(scored, key=lambda sv: sv[1])


def _cell(figure: Figure, samples: list[Sample], best: float | None, sizes_note: str = "") -> str:
    value = figure.read(samples)
    if value is None:
        if figure.key == "w4" and samples and samples[0].async_error:
            return f"not supported yet ({samples[0].async_error})"
        return "-"
    ratio = speed(figure, value, best)
    return f"{fmt(value)} ({ratio:.2f}×)" if ratio is not None else fmt(value)


def matrix(results: dict[System, list[Sample]], labels: dict[System, str], failures: dict[System, str]) -> str:
    """Every system's medians; each cell's ratio is its speed against the fastest peer (1.00× = that peer)."""
    bests = {f.key: fastest_peer(f, results)[1] for f in FIGURES}
    head = "| system | version | rounds | " + " | ".join(f.title for f in FIGURES) + " |"
    lines = ["### Peers, medians (× = speed against the fastest peer in that column; above 1 is faster)", "",
             head, "| --- | --- | ---: |" + " ---: |" * len(FIGURES)]
    for system, samples in results.items():
        if not samples:
            continue
        cells = [_cell(f, samples, bests[f.key]) for f in FIGURES]
        lines.append(f"| {labels[system]} | {samples[0].version} | {len(samples)} | " + " | ".join(cells) + " |")
    for system, why in failures.items():
        lines.append(f"| {labels[system]} | - | - | " + " | ".join(["-"] * len(FIGURES)) + " |")
        lines.append(f"|   ↳ could not run: {why.splitlines()[0]} |" + " |" * (len(FIGURES) + 2))
    return "\n".join(lines) + "\n"


def spread(results: dict[System, list[Sample]]) -> str:
    """Each round's W1, W3 and cold-start figure, to show how far the medians hide a noisy round."""
    lines = ["Per round (W1 jobs/s; W3 s; cold start s):"]
    for system, samples in results.items():
        w1 = ", ".join(fmt(s.noop_jobs_per_s) for s in samples)
        w3 = ", ".join(fmt(s.sleep_s) for s in samples)
        cold = ", ".join(fmt(s.cold_s) for s in samples)
        lines.append(f"  {system.key}: {w1}; {w3}; {cold}")
    return "\n".join(lines) + "\n"


def target_rows(results: dict[System, list[Sample]]) -> list[Row]:
    """jobfleet against the fastest peer, with issue 15's targets (ratio = jobfleet / reference)."""
    by_key = {s.key: s for s in results}
    fleet = next((s for s in results if s.is_jobfleet), None)
    jf_samples = results.get(fleet, []) if fleet else []
    rows = []
    for figure in FIGURES:
        peer, best = fastest_peer(figure, results)
        if figure.key == "w4":
            peers = {s: v for s, v in results.items() if s.async_jobs}
            peer, best = fastest_peer(figure, peers)
        jf = figure.read(jf_samples) if jf_samples else None
        note = ""
        if figure.key == "w4" and jf is None and jf_samples and jf_samples[0].async_error:
            note = "not supported yet: " + jf_samples[0].async_error
        rows.append(Row(figure.title, f"fastest peer: {peer.key if peer else '-'}", best, jf, figure.unit,
                        note=note))
    w1, p50, p99, w3, w4, cold = rows
    w1.target, w1.met = "≥ 6×", at_least(w1.ratio, 6.0)
    p50.target, p50.met = "≤ 0.5 ms", at_most(p50.jobfleet, 0.5)
    p99.target, p99.met = "≤ 1.5 ms", at_most(p99.jobfleet, 1.5)
    dramatiq = by_key.get("dramatiq")
    dramatiq_s = FIGURES[3].read(results[dramatiq]) if dramatiq and results[dramatiq] else None
    async_best = fastest_peer(FIGURES[3], {s: v for s, v in results.items() if s.async_jobs})[1]
    w3.target = "≤ Dramatiq / 1.5 and < every asyncio peer"
    if w3.jobfleet is not None and dramatiq_s is not None and async_best is not None:
        w3.met = w3.jobfleet <= dramatiq_s / 1.5 and w3.jobfleet < async_best
    w4.target, w4.met = "≤ 1.0×", at_most(w4.ratio, 1.0)
    cold.target, cold.met = "≤ 0.5 s", at_most(cold.jobfleet, 0.5)
    return rows


def plot(results: dict[System, list[Sample]], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(14, 7.5))
    for ax, figure in zip(axes.flat, FIGURES):
        points = [(s.key, figure.read(v)) for s, v in results.items() if v]
        points = [(k, val) for k, val in points if val is not None]
        names = [k for k, _ in points]
        values = [val for _, val in points]
        colours = ["tab:red" if k == "jobfleet" else "tab:blue" for k in names]
        ax.barh(names, values, color=colours)
        ax.invert_yaxis()
        better = "higher" if figure.higher_is_better else "lower"
        ax.set_title(f"{figure.title} ({better} is better)", fontsize=10)
        ax.grid(True, axis="x", alpha=0.3)
        for y, val in enumerate(values):
            ax.text(val, y, f" {fmt(val)}", va="center", fontsize=8)
        ax.margins(x=0.2)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
