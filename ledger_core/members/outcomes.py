"""Aggregate outcomes of a partner's population (seed 001 §2.4 outcome feed, §3.3 endpoint 3): pure computation.

Counting model. Each member contributes counters keyed by ``(day, counter)``; the projection
(:mod:`ledger_core.members.outcome_projection`) stores per-partner sums per day, and a report sums a date range:

* ``eligible``: +1 on the day the member entered the partner's eligibility data (the ``recordedAt`` day
  of its ``member.registered`` entry) until it is erased. ``eligible_members`` of a period is a stock:
  every day up to ``period_end``. It counts the eligibility data as the partner sent it (the seed's
  "eligible members"), independent of the deployment's state allow-list, so the figures never depend on
  configuration.
* ``enrolled``: +1 on the enrollment date. ``enrollment_rate`` = enrolled / eligible.
* ``tests_completed``, ``mz_detected``, ``zz_detected``: +1 on the result delivery date (MZ/ZZ from the
  sealed result, opened internally; partners only ever see these sums).
* The result-day cohort also carries the member's answers and actions: NPS responses by kind
  (``nps_<kind>_responses|promoters|detractors``) and ``action_<action>`` for each reported follow-up
  action. NPS = % promoters (9-10) - % detractors (0-6), an integer from -100 to 100; an action rate is the
  share of the period's tested members who reported the action.

Privacy: an erased member contributes nothing (crypto-shredding removes them from every figure), and
any count from 1 to ``threshold - 1`` (default 11: the CMS cell-size suppression policy's 1-10) is
suppressed, as is every figure computed from a suppressed count (rates, NPS, money). Zero singles out
nobody and is shown. Suppressed figures are null and named in ``suppressed``.

Differencing: with arbitrary dates, two answers that both pass the threshold (1 Jan-26 Jan and 1 Jan-27
Jan) could differ by one MZ, and a partner who got that day's ``result.delivered`` webhook for one member
would learn their result. So periods are whole calendar months (the seed's outcome feed is monthly), and
a count is shown only when it passes the rule in every month of the period: the difference of any two
answers is a set of whole months, each of which passed the rule on its own.
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from ledger_core.engine.aggregate import LedgerAggregate
from ledger_core.engine.errors import InvalidCommand
from ledger_core.members.cost_model import CostModel, whole_units
from ledger_core.shared.vocabulary import HealthAction, NpsKind, ResultType

DEFAULT_SUPPRESSION_THRESHOLD = 11
MAX_PERIOD_DAYS = 366 * 10

ELIGIBLE = "eligible"
ENROLLED = "enrolled"
TESTS_COMPLETED = "tests_completed"
MZ_DETECTED = "mz_detected"
ZZ_DETECTED = "zz_detected"
PROMOTER_MIN = 9
DETRACTOR_MAX = 6


NPS_PARTS = ("responses", "promoters", "detractors")


def nps_counter(kind: NpsKind, part: str) -> str:
    return f"nps_{kind.value}_{part}"


def action_counter(action: HealthAction) -> str:
    return f"action_{action.value}"


COUNTERS: tuple[str, ...] = (
    ELIGIBLE,
    ENROLLED,
    TESTS_COMPLETED,
    MZ_DETECTED,
    ZZ_DETECTED,
    *(nps_counter(kind, part) for kind in NpsKind for part in NPS_PARTS),
    *(action_counter(action) for action in HealthAction),
)
"""Every counter name a contribution may carry (the projection stores nothing else)."""

Contribution = Counter[tuple[date, str]]
"""``(day, counter) -> count`` for one member (or a sum of members)."""


@dataclass(frozen=True, slots=True)
class MemberFacts:
    """What one member contributes, in plaintext, assembled internally (never shown to a partner).

    ``registered_on`` is the day the member entered the eligibility data; an erased member has no facts
    at all (its contribution is empty).
    """

    registered_on: date
    enrollment_date: date | None = None
    result_delivery_date: date | None = None
    result_type: ResultType | None = None
    nps: Mapping[NpsKind, int] = field(default_factory=dict)
    actions: frozenset[HealthAction] = frozenset()


def contribution(facts: MemberFacts | None) -> Contribution:
    """The counters one member adds (empty for None: unknown or erased)."""
    counts: Contribution = Counter()
    if facts is None:
        return counts
    counts[facts.registered_on, ELIGIBLE] += 1
    if facts.enrollment_date is not None:
        counts[facts.enrollment_date, ENROLLED] += 1
    day = facts.result_delivery_date
    if day is None or facts.result_type is None:
        return counts
    counts[day, TESTS_COMPLETED] += 1
    if facts.result_type is ResultType.MZ:
        counts[day, MZ_DETECTED] += 1
    elif facts.result_type is ResultType.ZZ:
        counts[day, ZZ_DETECTED] += 1
    for kind, score in facts.nps.items():
        counts[day, nps_counter(kind, "responses")] += 1
        if score >= PROMOTER_MIN:
            counts[day, nps_counter(kind, "promoters")] += 1
        elif score <= DETRACTOR_MAX:
            counts[day, nps_counter(kind, "detractors")] += 1
    for action in facts.actions:
        counts[day, action_counter(action)] += 1
    return counts


def difference(after: Contribution, before: Contribution) -> dict[tuple[date, str], int]:
    """``after - before`` as signed deltas, zeros left out (what the projection must add)."""
    keys = set(after) | set(before)
    deltas = {key: after.get(key, 0) - before.get(key, 0) for key in keys}
    return {key: value for key, value in deltas.items() if value}


@dataclass(frozen=True, slots=True)
class OpenChange:
    """A command on a member whose effect on the counters is not settled yet (the projection's journal).

    Written (durably for a crash of the process) before the command runs and deleted in the same
    transaction that adds the command's deltas, so a change is settled exactly once: by the command
    itself, or after a crash by :meth:`~ledger_core.members.outcome_projection.OutcomeProjection.recover`,
    which recomputes the member's contribution from the log and adds ``after - before``.
    """

    change_id: str
    partner_id: str
    partner_member_id: str
    before: Mapping[tuple[date, str], int]
    opened_at: str


class OutcomeStore(Protocol):
    """Per partner, per day, per counter sums (the outcome projection's storage). Adapters implement it."""

    def open_change(self, change: OpenChange) -> None:
        """Record ``change`` (committed before the command it covers runs)."""
        ...

    def settle_change(self, change_id: str, partner_id: str, deltas: Mapping[tuple[date, str], int]) -> bool:
        """In one transaction: delete the open change and, only if it was still open, add ``deltas``.

        Returns whether this call settled it (False: somebody else already did; nothing was added).
        """
        ...

    def open_changes(self, partner_id: str | None = None, partner_member_id: str | None = None) -> list[OpenChange]:
        """Changes not settled yet (of one member when both are given), oldest first."""
        ...

    def apply(self, partner_id: str, deltas: Mapping[tuple[date, str], int]) -> None:
        """Add signed ``deltas`` to the partner's counters atomically (all or nothing)."""
        ...

    def period_sums(self, partner_id: str, start: date, end: date) -> dict[str, int]:
        """Each counter summed over ``start <= day <= end`` (counters with no rows are absent)."""
        ...

    def month_sums(self, partner_id: str, start: date, end: date) -> dict[str, dict[str, int]]:
        """``"YYYY-MM" -> counter -> sum`` over ``start <= day <= end`` (empty months and counters absent)."""
        ...

    def total_through(self, partner_id: str, counter: str, end: date) -> int:
        """One counter summed over every day up to and including ``end``."""
        ...

    def replace_all(self, counts: Mapping[tuple[str, date, str], int]) -> None:
        """Replace every stored counter with ``(partner, day, counter) -> value`` (a rebuild) and forget
        every open change (the recomputation already counts whatever they covered)."""
        ...


class ChangeTracker(Protocol):
    """What the member and enrollment services call around a command that may change a member's figures
    (implemented by :class:`~ledger_core.members.outcome_projection.OutcomeProjection`)."""

    def tracking(self, partner_id: str, partner_member_id: str) -> AbstractContextManager[None]: ...

    def registering(self, partner_id: str, partner_member_id: str) -> AbstractContextManager[Callable[[int], None]]:
        """Around saving a new member; the yielded callable is told the ``member.registered`` entry's position
        (the fast path of an upsert)."""
        ...

    def registering_batch(
        self, partner_id: str, marker: LedgerAggregate
    ) -> AbstractContextManager[Callable[[Sequence[int]], None]]:
        """Around ONE save of many new members ending with ``marker``'s one pending event; the yielded callable
        is told the positions of the save's ``member.registered`` entries (the eligibility feed's bulk path)."""
        ...


class NoTracking:
    """A :class:`ChangeTracker` that keeps no figures (services built without a projection)."""

    @contextmanager
    def registering_batch(self, partner_id: str, marker: LedgerAggregate) -> Iterator[Callable[[Sequence[int]], None]]:
        yield lambda positions: None

    @contextmanager
    def tracking(self, partner_id: str, partner_member_id: str) -> Iterator[None]:
        yield

    @contextmanager
    def registering(self, partner_id: str, partner_member_id: str) -> Iterator[Callable[[int], None]]:
        yield lambda position: None


class MemoryOutcomeStore:
    """An in-memory :class:`OutcomeStore` (tests, recomputation from the log, embedding without storage)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, date, str]] = Counter()
        self.changes: dict[str, OpenChange] = {}

    def open_change(self, change: OpenChange) -> None:
        self.changes[change.change_id] = change

    def settle_change(self, change_id: str, partner_id: str, deltas: Mapping[tuple[date, str], int]) -> bool:
        if self.changes.pop(change_id, None) is None:
            return False
        self.apply(partner_id, deltas)
        return True

    def open_changes(self, partner_id: str | None = None, partner_member_id: str | None = None) -> list[OpenChange]:
        changes = [
            change
            for change in self.changes.values()
            if partner_id is None or (change.partner_id, change.partner_member_id) == (partner_id, partner_member_id)
        ]
        return sorted(changes, key=lambda change: (change.opened_at, change.change_id))

    def apply(self, partner_id: str, deltas: Mapping[tuple[date, str], int]) -> None:
        for (day, counter), value in deltas.items():
            self.counts[partner_id, day, counter] += value

    def period_sums(self, partner_id: str, start: date, end: date) -> dict[str, int]:
        sums: Counter[str] = Counter()
        for (partner, day, counter), value in self.counts.items():
            if partner == partner_id and start <= day <= end and value:
                sums[counter] += value
        return dict(sums)

    def month_sums(self, partner_id: str, start: date, end: date) -> dict[str, dict[str, int]]:
        sums: dict[str, Counter[str]] = {}
        for (partner, day, counter), value in self.counts.items():
            if partner == partner_id and start <= day <= end and value:
                sums.setdefault(month_key(day), Counter())[counter] += value
        return {month: {c: v for c, v in counters.items() if v} for month, counters in sums.items()}

    def total_through(self, partner_id: str, counter: str, end: date) -> int:
        return sum(v for (p, day, c), v in self.counts.items() if p == partner_id and c == counter and day <= end)

    def replace_all(self, counts: Mapping[tuple[str, date, str], int]) -> None:
        self.counts = Counter({key: value for key, value in counts.items() if value})
        self.changes.clear()


def month_end(day: date) -> date:
    """The last day of ``day``'s month (December 9999 included: no following month is computed)."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def check_period(start: date, end: date) -> None:
    """A period is whole calendar months (see the module docstring: differencing), at most ten years."""
    if end < start:
        raise InvalidCommand("end_date is before start_date", field="end_date", not_before=start.isoformat())
    if (end - start).days > MAX_PERIOD_DAYS:  # first: month_end of the last representable month overflows
        raise InvalidCommand(f"the period may span at most {MAX_PERIOD_DAYS} days", field="end_date")
    if start.day != 1:
        raise InvalidCommand("start_date must be the first day of a month", field="start_date")
    if end != month_end(end):
        raise InvalidCommand("end_date must be the last day of a month", field="end_date")


def month_key(day: date) -> str:
    return day.isoformat()[:7]


MetricValue = int | float | None
MonthlySums = Mapping[str, Mapping[str, int]]
"""``"YYYY-MM" -> counter -> sum`` for the months of a period (months without rows may be absent)."""


@dataclass(frozen=True, slots=True)
class OutcomeReport:
    """The seed's outcome metrics for one partner and period; suppressed figures are None and listed."""

    partner_id: str
    period_start: date
    period_end: date
    metrics: dict[str, MetricValue]
    suppressed: tuple[str, ...]
    suppression_threshold: int


class _Suppressor:
    """Decides what may be shown: a count is shown when, in EVERY month of the period, it is 0 or at least
    the threshold (so the difference of two answers, itself a set of whole months, obeys the rule too);
    the eligible stock when it is 0 or at least the threshold. Remembers what it hid."""

    def __init__(self, threshold: int, months: MonthlySums, eligible: int) -> None:
        self.threshold = threshold
        self.months = months
        self.eligible = eligible
        self.hidden: list[str] = []

    def _safe(self, count: int) -> bool:
        return count == 0 or count >= self.threshold

    def shown(self, counter: str) -> bool:
        if counter == ELIGIBLE:
            return self._safe(self.eligible)
        return all(self._safe(month.get(counter, 0)) for month in self.months.values())

    def figure(self, name: str, value: float | int | None, *counters: str) -> float | int | None:
        """``value`` computed from ``counters``: None if undefined, hidden (and listed) if any is not shown."""
        if value is None:
            return None
        if all(self.shown(counter) for counter in counters):
            return value
        self.hidden.append(name)
        return None


def _rate(numerator: int, denominator: int) -> float | None:
    return None if denominator <= 0 else round(numerator / denominator, 4)


def _nps(sums: Mapping[str, int], kind: NpsKind) -> int | None:
    responses = sums.get(nps_counter(kind, "responses"), 0)
    if responses <= 0:
        return None
    promoters = sums.get(nps_counter(kind, "promoters"), 0)
    detractors = sums.get(nps_counter(kind, "detractors"), 0)
    return round(100 * (promoters - detractors) / responses)


def build_report(
    partner_id: str,
    start: date,
    end: date,
    months: MonthlySums,
    eligible: int,
    *,
    cost_model: CostModel,
    threshold: int = DEFAULT_SUPPRESSION_THRESHOLD,
) -> OutcomeReport:
    """Metrics from the period's per-month counter sums and the eligible stock at ``end``."""
    check_period(start, end)
    if threshold < 1:
        raise InvalidCommand("the suppression threshold must be >= 1", field="threshold")
    hide = _Suppressor(threshold, months, eligible)
    period: Counter[str] = Counter()
    for month in months.values():
        period.update(month)
    enrolled, tests = period[ENROLLED], period[TESTS_COMPLETED]
    mz, zz = period[MZ_DETECTED], period[ZZ_DETECTED]
    metrics: dict[str, MetricValue] = {
        "eligible_members": hide.figure("eligible_members", eligible, ELIGIBLE),
        "enrolled_members": hide.figure("enrolled_members", enrolled, ENROLLED),
        "enrollment_rate": hide.figure("enrollment_rate", _rate(enrolled, eligible), ENROLLED, ELIGIBLE),
        "tests_completed": hide.figure("tests_completed", tests, TESTS_COMPLETED),
        "mz_detected": hide.figure("mz_detected", mz, MZ_DETECTED),
        "mz_detection_rate": hide.figure("mz_detection_rate", _rate(mz, tests), MZ_DETECTED, TESTS_COMPLETED),
        "zz_detected": hide.figure("zz_detected", zz, ZZ_DETECTED),
    }
    for kind in NpsKind:
        name = f"nps_{kind.value}"
        metrics[name] = hide.figure(name, _nps(period, kind), nps_counter(kind, "responses"))
    for action in HealthAction:
        name = f"action_rate_{action.value}"
        counter = action_counter(action)
        metrics[name] = hide.figure(name, _rate(period[counter], tests), counter, TESTS_COMPLETED)
    savings = whole_units(cost_model.projected_savings_5yr(mz, zz))
    metrics["projected_savings_5yr"] = hide.figure("projected_savings_5yr", savings, MZ_DETECTED, ZZ_DETECTED)
    per_mz = cost_model.cost_per_mz(enrolled, tests, mz)
    metrics["cost_per_mz"] = hide.figure(
        "cost_per_mz", None if per_mz is None else whole_units(per_mz), ENROLLED, TESTS_COMPLETED, MZ_DETECTED
    )
    return OutcomeReport(partner_id, start, end, metrics, tuple(hide.hidden), threshold)


def report_from_store(
    store: OutcomeStore,
    partner_id: str,
    start: date,
    end: date,
    *,
    cost_model: CostModel,
    threshold: int = DEFAULT_SUPPRESSION_THRESHOLD,
) -> OutcomeReport:
    """Two range queries on ``store`` (per-month sums of the period, the eligible stock), then :func:`build_report`."""
    check_period(start, end)
    months = store.month_sums(partner_id, start, end)
    eligible = store.total_through(partner_id, ELIGIBLE, end)
    return build_report(partner_id, start, end, months, eligible, cost_model=cost_model, threshold=threshold)
