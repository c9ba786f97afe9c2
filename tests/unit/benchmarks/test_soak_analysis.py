"""The soak's pure verdicts (benchmarks/_soak_analysis.py) on synthetic series: RSS growth after warm-up,
per-window p99 and its steadiness."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root: benchmarks/ as a package

from benchmarks._soak_analysis import (
    RSS_GROWTH_LIMIT,
    LatencyWindow,
    edge_span,
    latency_windows,
    p99_steady,
    percentile,
    rss_growth,
)


def test_a_flat_series_after_a_warm_up_climb_is_flat() -> None:
    climb = [100_000.0 + 10_000 * i for i in range(10)]  # warm-up: the first 20 %
    plateau = [200_000.0 + (i % 3) * 500 for i in range(40)]
    growth = rss_growth(climb + plateau)
    assert growth is not None
    assert growth.samples == 40
    assert abs(growth.fraction) < 0.01
    assert growth.flat()


def test_a_leak_of_ten_percent_over_the_run_is_not_flat() -> None:
    series = [100_000.0 * (1 + 0.1 * i / 99) for i in range(100)]
    growth = rss_growth(series)
    assert growth is not None
    assert 0.06 < growth.fraction < 0.1
    assert not growth.flat()


def test_too_few_samples_give_no_verdict() -> None:
    assert rss_growth([1.0, 2.0]) is None
    assert edge_span([1.0, 2.0]) is None


def test_the_span_is_between_the_two_averaged_windows() -> None:
    """100 samples 5 s apart: 20 are warm-up; of the 80 left, the first 16 (t 100-175 s, mean 137.5) and the
    last 16 (t 420-495 s, mean 457.5) are averaged: a linear growth of g per second grows the means by 320 g."""
    times = [5.0 * i for i in range(100)]
    assert edge_span(times) == 320.0
    growth = rss_growth([1000.0 + 2 * t for t in times])
    assert growth is not None
    assert growth.last_mean_kib - growth.first_mean_kib == 2 * 320.0


@given(st.floats(min_value=1_000, max_value=10_000_000), st.integers(min_value=4, max_value=400))
def test_a_constant_series_never_grows(level: float, count: int) -> None:
    growth = rss_growth([level] * count)
    assert growth is not None
    assert growth.fraction == 0.0
    assert growth.fraction < RSS_GROWTH_LIMIT


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 51.0
    assert percentile(values, 0.99) == 100.0
    assert percentile([], 0.99) is None


def test_windows_split_samples_by_scheduled_time_and_merge_a_short_tail() -> None:
    samples = [(t / 10, 0.010 if t < 600 else 0.030) for t in range(1250)]  # 125 s, 10 requests a second
    windows = latency_windows(samples, 60.0, 125.0)
    assert [(w.start_s, w.seconds, w.requests) for w in windows] == [(0.0, 60.0, 600), (60.0, 65.0, 650)]
    assert windows[0].p99_ms == 10.0
    assert windows[1].p99_ms == 30.0


def _windows(p99s: list[float | None]) -> list[LatencyWindow]:
    return [LatencyWindow(60.0 * i, 60.0, 0 if p is None else 100, p, p, p) for i, p in enumerate(p99s)]


def test_steady_p99_with_a_slow_warm_up() -> None:
    verdict = p99_steady(_windows([400.0, 40.0, 42.0, 39.0, 45.0, 41.0, 40.0, 43.0, 44.0, 40.0]))
    assert verdict.steady, verdict.reason
    assert verdict.windows == 8


def test_a_rising_p99_is_not_steady() -> None:
    verdict = p99_steady(_windows([40.0, 40.0, 50.0, 60.0, 75.0, 90.0, 110.0, 130.0, 150.0, 170.0]))
    assert not verdict.steady
    assert "last third" in verdict.reason


def test_one_spike_window_is_not_steady() -> None:
    verdict = p99_steady(_windows([40.0, 40.0, 41.0, 39.0, 400.0, 41.0, 40.0, 43.0, 44.0, 40.0]))
    assert not verdict.steady
    assert "worst window" in verdict.reason


def test_an_empty_window_is_not_steady() -> None:
    verdict = p99_steady(_windows([40.0, 40.0, 41.0, None, 40.0]))
    assert not verdict.steady
