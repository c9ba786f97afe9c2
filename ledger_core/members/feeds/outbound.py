"""The outbound feeds' rows: enrollments (seed 001 §2.3) and outcomes (§2.4), computed from the log.

Enrollment rows fold each enrollment's and subscription's events (read set-at-a-time through
:class:`~ledger_core.members.feeds.ports.FeedLogReader`) up to the delivery's ``through_position``, so a
delivery's rows are a function of its recorded range (:mod:`ledger_core.members.feeds.deliveries`). An
incremental file holds the enrollments with an event in ``[since, through)``; a full file every
enrollment. Erased members are left out. ``result_type`` is always empty: a partner never sees an
individual result (seed 001 §4.3 and §2.3's "aggregate-only" privacy rule; the seed's example row with
``MZ`` contradicts its own rule, and the rule wins). Partners read result counts in the outcome feed.

Outcome rows are the figures of ``GET /api/v1/outcomes`` for the prior calendar month (the same projection
and small-cell suppression: :meth:`OutcomeProjection.report`), formatted as the seed shows them: counts and
NPS as integers, rates as percentages with at most two decimals (``8.42%``, ``34%``), money as whole
dollars (``$57600``). A suppressed figure is written ``suppressed``; a figure with no data (a rate over
zero) is left empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import orjson

from ledger_core.engine.application import LedgerApplication
from ledger_core.members.enrollments import enrollment_id
from ledger_core.members.feeds.formats import ENROLLMENT_COLUMNS
from ledger_core.members.feeds.ports import FeedLogReader
from ledger_core.members.member import member_id
from ledger_core.members.outcome_projection import OutcomeProjection
from ledger_core.members.outcomes import MetricValue, OutcomeReport, month_end
from ledger_core.shared.vocabulary import SubscriptionStatus

ENROLLMENT_TYPES: tuple[str, ...] = (
    "enrollment.enrolled",
    "enrollment.kit_ordered",
    "enrollment.sample_received",
    "enrollment.result_delivered",
    "subscription.started",
    "subscription.restarted",
    "subscription.cancelled",
    "member.personal_data_erased",
)
_DATE_FIELDS = {
    "enrollment.enrolled": ("enrollment_date", 1),
    "enrollment.kit_ordered": ("kit_order_date", 2),
    "enrollment.sample_received": ("sample_received_date", 3),
    "enrollment.result_delivered": ("result_delivery_date", 4),
}
_SUBSCRIPTION = {
    "subscription.started": SubscriptionStatus.ACTIVE,
    "subscription.restarted": SubscriptionStatus.ACTIVE,
    "subscription.cancelled": SubscriptionStatus.CANCELLED,
}
_READ_CHUNK = 20_000
PERCENT_METRICS_PREFIXES = ("action_rate_",)
PERCENT_METRICS = frozenset({"enrollment_rate", "mz_detection_rate"})
MONEY_METRICS = frozenset({"projected_savings_5yr", "cost_per_mz"})
SUPPRESSED = "suppressed"


class EnrollmentRows:
    """The rows of one enrollment file, in the order members enrolled: :attr:`count` of them, produced one at
    a time when iterated (from the folded state; no list of rows is built)."""

    def __init__(self, state: dict[str, list[Any]], since: int, erased: frozenset[str], partner_id: str) -> None:
        self._state = state
        self._since = since
        self._erased = erased
        self._partner_id = partner_id
        self.count = sum(1 for record in state.values() if self._wanted(record))

    def _wanted(self, record: list[Any]) -> bool:
        if self._since > 0 and not record[6]:
            return False
        return not (self._erased and str(member_id(self._partner_id, record[0])) in self._erased)

    def __iter__(self) -> Iterator[tuple[str, ...]]:
        for record in self._state.values():
            if self._wanted(record):
                status = (record[5] or SubscriptionStatus.NONE).feed_value
                yield (record[0], record[1], record[2], record[3], record[4], "", status)


class EnrollmentFeed:
    """Computes enrollment-feed rows for a log range."""

    def __init__(self, app: LedgerApplication, log: FeedLogReader) -> None:
        self.app = app
        self.log = log

    def rows(self, partner_id: str, since: int, through: int) -> EnrollmentRows:
        """Rows for enrollments touched in ``[since, through)``, as of ``through`` (``since = 0``: all).

        One pass over the partner's enrollment, subscription and erasure entries; per enrollment it keeps
        one small list (member id, four dates, subscription status, touched), dates shared between rows.
        """
        state: dict[str, list[Any]] = {}  # enrollment aggregate id -> [pmid, 4 dates, status, touched]
        subscriber: dict[str, str] = {}  # subscription aggregate id -> pmid
        dates: dict[str, str] = {}  # one string object per distinct date
        erased: set[str] = set()
        position = 0
        while position < through:
            chunk = self.log.partner_rows_of_types(
                partner_id, ENROLLMENT_TYPES, start=position, stop=through, limit=_READ_CHUNK
            )
            if not chunk:
                break
            for row in chunk:
                kind = row.type
                payload = orjson.loads(row.entry)["payload"]
                touched = row.position >= since
                if kind == "member.personal_data_erased":
                    erased.add(row.aggregate_id)
                elif kind in _SUBSCRIPTION:
                    pmid = payload.get("partner_member_id") or subscriber.get(row.aggregate_id)
                    if pmid is None:
                        continue
                    subscriber[row.aggregate_id] = pmid
                    record = state.get(str(enrollment_id(partner_id, pmid)))
                    if record is not None:
                        record[5] = _SUBSCRIPTION[kind]
                        record[6] = record[6] or touched
                else:
                    name, index = _DATE_FIELDS[kind]
                    if kind == "enrollment.enrolled":
                        state[row.aggregate_id] = [payload["partner_member_id"], "", "", "", "", None, False]
                    record = state.get(row.aggregate_id)
                    if record is None:
                        continue
                    day = payload.get(name) or ""
                    record[index] = dates.setdefault(day, day)
                    record[6] = record[6] or touched
            position = chunk[-1].position + 1
        return EnrollmentRows(state, since, frozenset(erased), partner_id)

    @staticmethod
    def header() -> tuple[str, ...]:
        return ENROLLMENT_COLUMNS


def prior_month(day: date) -> date:
    """The first day of the month before ``day``'s (the outcome feed of the 1st covers the prior month)."""
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def format_metric(name: str, value: MetricValue, suppressed: bool) -> str:
    """A metric as the seed writes it: ``842``, ``8.42%``, ``$57600``; ``suppressed``; empty when undefined."""
    if suppressed:
        return SUPPRESSED
    if value is None:
        return ""
    if name in PERCENT_METRICS or name.startswith(PERCENT_METRICS_PREFIXES):
        percent = (Decimal(str(value)) * 100).quantize(Decimal("0.01")).normalize()
        return f"{percent:f}%"
    if name in MONEY_METRICS:
        return f"${int(value)}"
    return str(int(value))


class OutcomeFeed:
    """The outcome feed's rows from the outcome projection (the same report as ``GET /api/v1/outcomes``)."""

    def __init__(self, outcomes: OutcomeProjection) -> None:
        self.outcomes = outcomes

    def report(self, partner_id: str, month: date) -> OutcomeReport:
        start = month.replace(day=1)
        return self.outcomes.report(partner_id, start, month_end(start))

    def rows(self, partner_id: str, month: date) -> Iterator[tuple[str, str, str, str]]:
        """``(metric, value, period_start, period_end)`` for every metric of the month, in the report's order."""
        report = self.report(partner_id, month)
        hidden = set(report.suppressed)
        start, end = report.period_start.isoformat(), report.period_end.isoformat()
        for name, value in report.metrics.items():
            yield name, format_metric(name, value, name in hidden), start, end
