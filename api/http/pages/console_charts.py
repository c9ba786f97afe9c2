"""The outcome dashboard's charts: horizontal bar charts drawn server-side as inline SVG.

Each chart is built from the SAME :class:`~ledger_core.members.outcomes.OutcomeReport` that
``GET /api/v1/outcomes`` renders, with the same small-cell suppression: a suppressed figure is ``None``
in the report and is drawn as a hatched "suppressed" bar with no number, never a value. The template
(``templates/console/chart.html``) gives every chart a ``<title>``/``<desc>`` (WAI-ARIA graphics: the
SVG has ``role="img"`` and ``aria-labelledby``) and a data table with the same figures as the text
alternative.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ledger_core.members.outcomes import MetricValue, OutcomeReport

WIDTH = 480
LABEL_WIDTH = 180
VALUE_WIDTH = 96
BAR_HEIGHT = 24
GAP = 12
TOP = 8
PLOT_WIDTH = WIDTH - LABEL_WIDTH - VALUE_WIDTH
SUPPRESSED = "suppressed"
NOT_AVAILABLE = "no data"


@dataclass(frozen=True, slots=True)
class Bar:
    """One row of a chart: its label, the figure as shown, and its geometry (SVG user units)."""

    label: str
    metric: str
    text: str
    """The figure as printed (``suppressed`` or ``no data`` when there is none to show)."""
    suppressed: bool
    x: float
    y: float
    width: float

    @property
    def shown(self) -> bool:
        return not self.suppressed and self.text != NOT_AVAILABLE


@dataclass(frozen=True, slots=True)
class BarChart:
    """A titled horizontal bar chart on the scale ``[low, high]`` (the zero line at ``zero_x``)."""

    chart_id: str
    title: str
    description: str
    bars: tuple[Bar, ...]
    zero_x: float
    height: int
    width: int = WIDTH
    label_width: int = LABEL_WIDTH
    bar_height: int = BAR_HEIGHT

    @property
    def any_suppressed(self) -> bool:
        return any(bar.suppressed for bar in self.bars)


Formatter = Callable[[float], str]


def count(value: float) -> str:
    return f"{int(value):,}"


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def signed(value: float) -> str:
    return f"{int(value):+d}"


def money(value: float) -> str:
    return f"${int(value):,}"


def bar_chart(
    chart_id: str,
    title: str,
    description: str,
    report: OutcomeReport,
    rows: Sequence[tuple[str, str]],
    formatter: Formatter,
    *,
    scale: tuple[float, float] | None = None,
) -> BarChart:
    """Bars for the report's metrics ``rows`` (``(metric, label)``); ``scale`` defaults to 0..largest shown."""
    values: list[MetricValue] = [report.metrics.get(metric) for metric, _ in rows]
    shown = [float(v) for v in values if v is not None]
    low, high = scale if scale is not None else (0.0, max([*shown, 0.0]) or 1.0)
    span = (high - low) or 1.0
    zero_x = LABEL_WIDTH + PLOT_WIDTH * (max(low, min(0.0, high)) - low) / span
    bars = []
    for index, ((metric, label), value) in enumerate(zip(rows, values, strict=True)):
        y = TOP + index * (BAR_HEIGHT + GAP)
        suppressed = metric in report.suppressed
        if value is None:
            text = SUPPRESSED if suppressed else NOT_AVAILABLE
            bars.append(Bar(label, metric, text, suppressed, zero_x, y, PLOT_WIDTH * 0.25 if suppressed else 0.0))
            continue
        end = LABEL_WIDTH + PLOT_WIDTH * (min(max(float(value), low), high) - low) / span
        bars.append(Bar(label, metric, formatter(float(value)), False, min(zero_x, end), y, abs(end - zero_x)))
    height = TOP * 2 + len(rows) * (BAR_HEIGHT + GAP) - GAP
    return BarChart(chart_id, title, description, tuple(bars), zero_x, height)


@dataclass(frozen=True, slots=True)
class ChartSpec:
    """One chart of the console: its id, title, description (``{period}`` filled in), metric rows, format."""

    chart_id: str
    title: str
    description: str
    rows: tuple[tuple[str, str], ...]
    formatter: Formatter
    scale: tuple[float, float] | None = None


RATE = (0.0, 1.0)
OUTCOME_CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec(
        "funnel",
        "Enrollment funnel",
        "Members at each step, {period}: eligible, enrolled, tested, MZ detected.",
        (
            ("eligible_members", "Eligible"),
            ("enrolled_members", "Enrolled"),
            ("tests_completed", "Tests completed"),
            ("mz_detected", "MZ detected"),
        ),
        count,
    ),
    ChartSpec(
        "detection",
        "MZ detection",
        "Members whose completed test found the MZ or the ZZ genotype, {period}.",
        (("mz_detected", "MZ detected"), ("zz_detected", "ZZ detected")),
        count,
    ),
    ChartSpec(
        "rates",
        "Enrollment and detection rates",
        "Enrolled share of eligible members, and MZ share of completed tests, {period}.",
        (("enrollment_rate", "Enrollment rate"), ("mz_detection_rate", "MZ detection rate")),
        percent,
        RATE,
    ),
    ChartSpec(
        "nps",
        "Net Promoter Score",
        "NPS from -100 to +100, overall and after genetic counseling, {period}.",
        (("nps_overall", "Overall"), ("nps_counseling", "Counseling")),
        signed,
        (-100.0, 100.0),
    ),
    ChartSpec(
        "actions",
        "Health action rates",
        "Share of tested members who took each recommended action, {period}.",
        (
            ("action_rate_smoking_cessation", "Smoking cessation"),
            ("action_rate_doctor_visit", "Doctor visit"),
            ("action_rate_lung_function_test", "Lung function test"),
            ("action_rate_liver_function_test", "Liver function test"),
            ("action_rate_family_testing", "Family testing"),
            ("action_rate_alcohol_reduction", "Alcohol reduction"),
        ),
        percent,
        RATE,
    ),
    ChartSpec(
        "roi",
        "Return on investment",
        "The cost model's projected five-year savings and the cost per MZ detected, {period}.",
        (("projected_savings_5yr", "Savings, 5 years"), ("cost_per_mz", "Cost per MZ")),
        money,
    ),
)
"""The charts of issue 17 item 4: enrollment funnel, MZ detection (counts and rates), NPS, action rates, ROI."""


def outcome_charts(report: OutcomeReport) -> list[BarChart]:
    """:data:`OUTCOME_CHARTS` drawn for ``report``."""
    period = f"{report.period_start.isoformat()} to {report.period_end.isoformat()}"
    return [
        bar_chart(
            spec.chart_id,
            spec.title,
            spec.description.format(period=period),
            report,
            spec.rows,
            spec.formatter,
            scale=spec.scale,
        )
        for spec in OUTCOME_CHARTS
    ]
