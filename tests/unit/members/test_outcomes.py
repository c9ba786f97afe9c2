"""The pure outcome computation: contributions, the seed's example month, suppression, NPS and the cost model."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_core.engine.errors import InvalidCommand
from ledger_core.members.cost_model import CostModel, whole_units
from ledger_core.members.outcomes import (
    ELIGIBLE,
    ENROLLED,
    MZ_DETECTED,
    TESTS_COMPLETED,
    ZZ_DETECTED,
    MemberFacts,
    MemoryOutcomeStore,
    build_report,
    contribution,
    difference,
    report_from_store,
)
from ledger_core.shared.vocabulary import HealthAction, NpsKind, ResultType

JAN1, JAN31 = date(2026, 1, 1), date(2026, 1, 31)
SEED_PERIOD = {
    ENROLLED: 842,
    TESTS_COMPLETED: 785,
    MZ_DETECTED: 32,
    ZZ_DETECTED: 2,
    "nps_overall_responses": 100,
    "nps_overall_promoters": 70,
    "nps_overall_detractors": 6,
    "nps_counseling_responses": 50,
    "nps_counseling_promoters": 36,
    "nps_counseling_detractors": 2,
    "action_smoking_cessation": 267,
    "action_doctor_visit": 636,
}


def report(period: dict[str, int], eligible: int, threshold: int = 11) -> dict[str, int | float | None]:
    months = {"2026-01": period}
    return build_report("nm", JAN1, JAN31, months, eligible, cost_model=CostModel(), threshold=threshold).metrics


def test_a_members_contribution_lands_on_the_days_of_its_steps() -> None:
    """Eligible on the registration day, enrolled on the enrollment date, the rest on the result day."""
    facts = MemberFacts(
        registered_on=date(2026, 1, 2),
        enrollment_date=date(2026, 1, 10),
        result_delivery_date=date(2026, 1, 22),
        result_type=ResultType.MZ,
        nps={NpsKind.OVERALL: 9, NpsKind.COUNSELING: 4},
        actions=frozenset({HealthAction.DOCTOR_VISIT}),
    )
    day = date(2026, 1, 22)
    assert contribution(facts) == Counter(
        {
            (date(2026, 1, 2), ELIGIBLE): 1,
            (date(2026, 1, 10), ENROLLED): 1,
            (day, TESTS_COMPLETED): 1,
            (day, MZ_DETECTED): 1,
            (day, "nps_overall_responses"): 1,
            (day, "nps_overall_promoters"): 1,
            (day, "nps_counseling_responses"): 1,
            (day, "nps_counseling_detractors"): 1,
            (day, "action_doctor_visit"): 1,
        }
    )
    assert contribution(None) == Counter()
    assert difference(Counter(), contribution(facts)) == dict.fromkeys(contribution(facts), -1)


def test_the_seeds_example_month() -> None:
    """Seed 001 §2.4: 10,000 eligible, 842 enrolled, 785 tests, 32 MZ, 2 ZZ... (NPS and actions our inputs)."""
    metrics = report(SEED_PERIOD, 10_000, threshold=1)
    assert metrics["eligible_members"] == 10_000
    assert metrics["enrollment_rate"] == 0.0842
    assert metrics["mz_detection_rate"] == 0.0408
    assert (metrics["mz_detected"], metrics["zz_detected"]) == (32, 2)
    assert (metrics["nps_overall"], metrics["nps_counseling"]) == (64, 68)
    assert (metrics["action_rate_smoking_cessation"], metrics["action_rate_doctor_visit"]) == (0.3401, 0.8102)
    assert metrics["projected_savings_5yr"] == 57_600
    assert metrics["cost_per_mz"] == 9_209  # 842 x $350 / 32; the seed prints 9,208 without its inputs


def test_counts_from_one_to_ten_and_their_derived_figures_are_suppressed() -> None:
    """1..threshold-1 hidden with everything computed from them; 0 and >= threshold shown."""
    month = {**SEED_PERIOD, ZZ_DETECTED: 3, MZ_DETECTED: 0}
    built = build_report("nm", JAN1, JAN31, {"2026-01": month}, 10_000, cost_model=CostModel())
    assert built.metrics["zz_detected"] is None
    assert built.metrics["mz_detected"] == 0
    assert built.metrics["mz_detection_rate"] == 0.0
    assert built.metrics["projected_savings_5yr"] is None  # depends on the hidden ZZ count
    assert built.metrics["cost_per_mz"] is None  # undefined without an MZ, not suppressed
    assert built.suppressed == ("zz_detected", "projected_savings_5yr")
    small = report({ENROLLED: 5, TESTS_COMPLETED: 12, "nps_overall_responses": 10}, 10)
    hidden = ("eligible_members", "enrolled_members", "enrollment_rate", "nps_overall")
    assert [small[name] for name in hidden] == [None] * len(hidden)
    assert small["tests_completed"] == 12


month_counts = st.dictionaries(st.sampled_from(sorted(SEED_PERIOD)), st.integers(0, 40), max_size=len(SEED_PERIOD))
SHOWN_COUNTS = (("enrolled_members", ENROLLED), ("tests_completed", TESTS_COMPLETED), ("mz_detected", MZ_DETECTED))


@given(january=month_counts, february=month_counts, eligible=st.integers(0, 40), threshold=st.integers(1, 20))
def test_no_shown_figure_rests_on_a_small_count_in_any_month(
    january: dict[str, int], february: dict[str, int], eligible: int, threshold: int
) -> None:
    """A shown count is 0 or >= threshold in each month of the period and hidden ones are listed, so the
    difference of two answers (whole months) never reveals a small count either."""
    months = {"2026-01": january, "2026-02": february}
    model = CostModel()
    built = build_report("nm", JAN1, date(2026, 2, 28), months, eligible, cost_model=model, threshold=threshold)
    alone = build_report("nm", JAN1, JAN31, {"2026-01": january}, eligible, cost_model=model, threshold=threshold)
    for name, counter in SHOWN_COUNTS:
        if built.metrics[name] is not None:
            assert all(m.get(counter, 0) == 0 or m.get(counter, 0) >= threshold for m in months.values())
        both, first = built.metrics[name], alone.metrics[name]
        if isinstance(both, int) and isinstance(first, int):
            february_alone = both - first  # what a partner could compute
            assert february_alone == 0 or february_alone >= threshold
    assert all(built.metrics[name] is None for name in built.suppressed)
    if 0 < january.get(MZ_DETECTED, 0) < threshold:
        assert (built.metrics["projected_savings_5yr"], built.metrics["mz_detection_rate"]) == (None, None)


def test_periods_are_whole_months() -> None:
    """A period starts on a month's first day and ends on a month's last day (leap years included)."""
    for start, end in ((date(2026, 1, 2), JAN31), (JAN1, date(2026, 1, 30)), (date(2024, 2, 1), date(2024, 2, 28))):
        with pytest.raises(InvalidCommand):
            build_report("nm", start, end, {}, 0, cost_model=CostModel())
    assert build_report("nm", date(2024, 2, 1), date(2024, 2, 29), {}, 0, cost_model=CostModel()).metrics


def test_store_reports_sum_a_period_and_the_eligible_stock() -> None:
    """Period counters sum inside the period; eligible is every registration up to its end."""
    store = MemoryOutcomeStore()
    store.apply("nm", {(date(2025, 12, 1), ELIGIBLE): 20, (date(2026, 1, 5), ENROLLED): 12})
    store.apply("nm", {(date(2026, 2, 1), ENROLLED): 30, (date(2026, 1, 5), ENROLLED): -1})
    built = report_from_store(store, "nm", JAN1, JAN31, cost_model=CostModel())
    assert (built.metrics["eligible_members"], built.metrics["enrolled_members"]) == (20, 11)
    feb = date(2026, 2, 28)
    assert store.month_sums("nm", JAN1, feb) == {"2026-01": {ENROLLED: 11}, "2026-02": {ENROLLED: 30}}
    assert report_from_store(store, "nm", JAN1, feb, cost_model=CostModel()).metrics["enrolled_members"] == 41
    with pytest.raises(InvalidCommand):
        report_from_store(store, "nm", JAN31, JAN1, cost_model=CostModel())
    with pytest.raises(InvalidCommand):
        report_from_store(store, "nm", date(2000, 1, 1), JAN31, cost_model=CostModel())


def test_cost_model_configuration() -> None:
    """Overrides by name; unknown names and negative or non-decimal values are refused; half-even dollars."""
    model = CostModel.from_mapping({"cost_per_test": "120", "savings_per_zz_5yr": 25000})
    assert model.program_cost(10, 5) == Decimal(4100)
    assert model.projected_savings_5yr(2, 1) == Decimal(28_600)
    assert model.cost_per_mz(10, 5, 0) is None
    bad_values: list[dict[str, str | int | float]] = [
        {"cost_per_kit": "1"},
        {"cost_per_test": "-1"},
        {"cost_per_test": "abc"},
    ]
    for bad in bad_values:
        with pytest.raises(InvalidCommand):
            CostModel.from_mapping(bad)
    assert (whole_units(Decimal("2.5")), whole_units(Decimal("3.5"))) == (2, 4)
