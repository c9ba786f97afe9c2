"""The soak's verdicts, as pure functions over recorded series (no I/O, no clock): tested on synthetic series
in tests/unit/benchmarks/test_soak_analysis.py.

* :func:`rss_growth`: after a warm-up share of the run, the mean of the first window of samples against the
  mean of the last window; the soak calls a process flat when the growth is under :data:`RSS_GROWTH_LIMIT`.
* :func:`edge_span`: the seconds between those two windows (what a known per-operation growth is scaled by).
* :func:`latency_windows` / :func:`p99_steady`: p50/p99/max per fixed window (a minute in the full soak);
  p99 counts as steady when, after the warm-up, no window's p99 exceeds :data:`P99_SPREAD_LIMIT` times the
  median window p99 (plus a small absolute allowance for sub-millisecond noise) and the last third of the
  windows is not slower than the first third by more than :data:`P99_TREND_LIMIT`.
* :func:`percentile`: nearest-rank on sorted values, the definition the other benchmarks use.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

RSS_GROWTH_LIMIT = 0.05
"""Largest acceptable growth of a process's mean RSS from the first to the last window after warm-up."""
WARMUP_SHARE = 0.20
"""Share of the run (by sample count for RSS, by time for latency) left out as warm-up."""
EDGE_WINDOW_SHARE = 0.20
"""Share of the post-warm-up samples averaged at each end for :func:`rss_growth`."""
P99_SPREAD_LIMIT = 2.0
P99_TREND_LIMIT = 1.5
P99_ALLOWANCE_MS = 5.0
"""Absolute slack added to both p99 bounds: a window at 12 ms against a median of 5 ms is not a trend."""


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of ``values`` (``fraction`` in [0, 1]); ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass(frozen=True, slots=True)
class Growth:
    """RSS means (KiB) of the first and last windows after warm-up, and the relative growth between them."""

    samples: int
    first_mean_kib: float
    last_mean_kib: float

    @property
    def fraction(self) -> float:
        if self.first_mean_kib <= 0:
            return 0.0
        return (self.last_mean_kib - self.first_mean_kib) / self.first_mean_kib

    def flat(self, limit: float = RSS_GROWTH_LIMIT) -> bool:
        return self.fraction < limit


def rss_growth(
    series_kib: Sequence[float], warmup_share: float = WARMUP_SHARE, edge_share: float = EDGE_WINDOW_SHARE
) -> Growth | None:
    """Growth of an RSS series sampled at a steady interval; ``None`` with fewer than 3 samples after warm-up.

    The first ``warmup_share`` of the samples is dropped; of the rest, the first and last ``edge_share``
    (at least one sample each) are averaged.
    """
    kept = list(series_kib[int(len(series_kib) * warmup_share) :])
    if len(kept) < 3:
        return None
    edge = max(1, int(len(kept) * edge_share))
    return Growth(len(kept), statistics.fmean(kept[:edge]), statistics.fmean(kept[-edge:]))


def edge_span(
    times_s: Sequence[float], warmup_share: float = WARMUP_SHARE, edge_share: float = EDGE_WINDOW_SHARE
) -> float | None:
    """Seconds between the mean instants of the two windows :func:`rss_growth` averages (same cut), i.e. the
    time over which its growth happened; ``None`` where :func:`rss_growth` gives ``None``."""
    kept = list(times_s[int(len(times_s) * warmup_share) :])
    if len(kept) < 3:
        return None
    edge = max(1, int(len(kept) * edge_share))
    return statistics.fmean(kept[-edge:]) - statistics.fmean(kept[:edge])


@dataclass(frozen=True, slots=True)
class LatencyWindow:
    """Latencies of the requests scheduled in ``[start_s, start_s + seconds)`` of the run."""

    start_s: float
    seconds: float
    requests: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


def latency_windows(samples: Sequence[tuple[float, float]], window_s: float, run_s: float) -> list[LatencyWindow]:
    """Cut ``(scheduled at s, latency s)`` samples into windows of ``window_s`` covering ``[0, run_s)``.

    A last window shorter than half of ``window_s`` is merged into the one before it.
    """
    if window_s <= 0 or run_s <= 0:
        raise ValueError("window and run length must be positive")
    edges = [0.0]
    while edges[-1] + window_s < run_s:
        edges.append(edges[-1] + window_s)
    if len(edges) > 1 and run_s - edges[-1] < window_s / 2:
        edges.pop()
    edges.append(run_s)
    buckets: list[list[float]] = [[] for _ in range(len(edges) - 1)]
    for at, latency in samples:
        if 0 <= at < run_s:
            index = min(int(at // window_s), len(buckets) - 1)
            buckets[index].append(latency * 1000)
    windows = []
    for index, bucket in enumerate(buckets):
        worst = max(bucket) if bucket else None
        windows.append(
            LatencyWindow(
                edges[index],
                edges[index + 1] - edges[index],
                len(bucket),
                percentile(bucket, 0.50),
                percentile(bucket, 0.99),
                worst,
            )
        )
    return windows


@dataclass(frozen=True, slots=True)
class Steadiness:
    """What :func:`p99_steady` concluded, with the figures it compared."""

    steady: bool
    windows: int
    median_p99_ms: float | None
    worst_p99_ms: float | None
    first_third_p99_ms: float | None
    last_third_p99_ms: float | None
    reason: str


def p99_steady(windows: Sequence[LatencyWindow], warmup_share: float = WARMUP_SHARE) -> Steadiness:
    """Whether the per-window p99 stays steady after the first ``warmup_share`` of the windows (at least
    one window is kept). Needs three windows with requests after warm-up; an empty window is not steady."""
    kept = list(windows[int(len(windows) * warmup_share) :]) or list(windows[-1:])
    if any(window.p99_ms is None for window in kept):
        return Steadiness(False, len(kept), None, None, None, None, "a window had no completed request")
    p99s = [window.p99_ms for window in kept if window.p99_ms is not None]
    if len(p99s) < 3:
        return Steadiness(False, len(p99s), None, None, None, None, "fewer than 3 windows after warm-up")
    median = statistics.median(p99s)
    worst = max(p99s)
    third = max(1, len(p99s) // 3)
    first, last = statistics.fmean(p99s[:third]), statistics.fmean(p99s[-third:])
    reasons = []
    if worst > P99_SPREAD_LIMIT * median + P99_ALLOWANCE_MS:
        reasons.append(f"worst window p99 {worst:.1f} ms > {P99_SPREAD_LIMIT:g} x median {median:.1f} ms")
    if last > P99_TREND_LIMIT * first + P99_ALLOWANCE_MS:
        reasons.append(f"last third p99 {last:.1f} ms > {P99_TREND_LIMIT:g} x first third {first:.1f} ms")
    return Steadiness(not reasons, len(p99s), median, worst, first, last, "; ".join(reasons) or "steady")
