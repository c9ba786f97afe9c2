"""The console's outcome charts draw the API's report: every metric once or more, suppressed figures never as
a number, bars inside the plot; and the dashboard's month inputs make whole-month periods."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.http.pages.console_charts import LABEL_WIDTH, PLOT_WIDTH, SUPPRESSED, outcome_charts
from api.http.pages.console_views import Period
from ledger_core.engine.errors import InvalidCommand
from ledger_core.members.cost_model import CostModel
from ledger_core.members.outcomes import (
    ENROLLED,
    MZ_DETECTED,
    TESTS_COMPLETED,
    ZZ_DETECTED,
    OutcomeReport,
    build_report,
)

JAN1, FEB28 = date(2026, 1, 1), date(2026, 2, 28)
COUNTERS = [
    ENROLLED,
    TESTS_COMPLETED,
    MZ_DETECTED,
    ZZ_DETECTED,
    "nps_overall_responses",
    "nps_overall_promoters",
    "nps_overall_detractors",
    "action_doctor_visit",
    "action_smoking_cessation",
]
small_or_large = st.one_of(st.integers(0, 12), st.integers(11, 5000))
months = st.fixed_dictionaries(dict.fromkeys(COUNTERS, small_or_large))


def report_of(january: dict[str, int], february: dict[str, int], eligible: int) -> OutcomeReport:
    return build_report("nm", JAN1, FEB28, {"2026-01": january, "2026-02": february}, eligible, cost_model=CostModel())


@given(january=months, february=months, eligible=small_or_large)
def test_suppressed_figures_are_drawn_as_suppressed_and_never_as_a_number(
    january: dict[str, int], february: dict[str, int], eligible: int
) -> None:
    report = report_of(january, february, eligible)
    bars = [bar for chart in outcome_charts(report) for bar in chart.bars]
    assert {bar.metric for bar in bars} == set(report.metrics)  # every figure of the API is on the dashboard
    for bar in bars:
        if bar.metric in report.suppressed:
            assert bar.suppressed
            assert bar.text == SUPPRESSED
            assert not re.search(r"\d", bar.text)
        else:
            assert not bar.suppressed
        assert bar.x >= LABEL_WIDTH - 0.001
        assert bar.x + bar.width <= LABEL_WIDTH + PLOT_WIDTH + 0.001


def test_shown_figures_are_the_reports_values_formatted() -> None:
    january = {
        ENROLLED: 40,
        TESTS_COMPLETED: 40,
        MZ_DETECTED: 20,
        ZZ_DETECTED: 3,
        "nps_overall_responses": 40,
        "nps_overall_promoters": 30,
        "nps_overall_detractors": 10,
        "action_doctor_visit": 20,
    }
    report = report_of(january, {}, 100)
    text = {bar.metric: bar.text for chart in outcome_charts(report) for bar in chart.bars}
    assert text["eligible_members"] == "100"
    assert text["enrollment_rate"] == "40.0%"
    assert text["mz_detection_rate"] == "50.0%"
    assert text["nps_overall"] == "+50"
    assert text["action_rate_doctor_visit"] == "50.0%"
    assert text["zz_detected"] == SUPPRESSED  # 3 is a small cell
    assert text["projected_savings_5yr"] == SUPPRESSED  # computed from it
    assert text["nps_counseling"] == "no data"  # no response: undefined, not suppressed


def test_negative_nps_bars_grow_left_of_the_zero_line() -> None:
    january = {"nps_overall_responses": 20, "nps_overall_promoters": 0, "nps_overall_detractors": 20}
    nps = next(chart for chart in outcome_charts(report_of(january, {}, 0)) if chart.chart_id == "nps")
    overall = nps.bars[0]
    assert overall.text == "-100"
    assert overall.x + overall.width == pytest.approx(nps.zero_x)
    assert overall.x == pytest.approx(LABEL_WIDTH)


def test_period_inputs_are_whole_months() -> None:
    period = Period.parse("2025-11", "2026-02", date(2026, 12, 6))
    assert (period.start, period.end) == (date(2025, 11, 1), date(2026, 2, 28))
    default = Period.parse(None, None, date(2026, 3, 15))
    assert (default.start, default.end) == (date(2025, 4, 1), date(2026, 3, 31))
    assert (default.start_month, default.end_month) == ("2025-04", "2026-03")
    with pytest.raises(InvalidCommand):
        Period.parse("2026-13", None, date(2026, 3, 15))
