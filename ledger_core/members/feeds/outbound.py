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

from array import array
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import orjson

from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.chain import StoredRow
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
_DATE_FIELDS = {  # type -> (payload field, date column)
    "enrollment.enrolled": ("enrollment_date", 0),
    "enrollment.kit_ordered": ("kit_order_date", 1),
    "enrollment.sample_received": ("sample_received_date", 2),
    "enrollment.result_delivered": ("result_delivery_date", 3),
}
_SUBSCRIPTION = {
    "subscription.started": SubscriptionStatus.ACTIVE,
    "subscription.restarted": SubscriptionStatus.ACTIVE,
    "subscription.cancelled": SubscriptionStatus.CANCELLED,
}
_READ_CHUNK = 5_000
PERCENT_METRICS_PREFIXES = ("action_rate_",)
PERCENT_METRICS = frozenset({"enrollment_rate", "mz_detection_rate"})
MONEY_METRICS = frozenset({"projected_savings_5yr", "cost_per_mz"})
SUPPRESSED = "suppressed"


class EnrollmentState:
    """The folded state of a partner's enrollments, column-wise: per enrollment (by ordinal, in the order
    members enrolled) its partner member id (UTF-8, packed into one buffer), four date indices into one table
    of distinct dates (0: none), its subscription status and whether the delivery's range touched it. The
    enrollments are found by the 16 bytes of their aggregate id.

    About 130 bytes per enrollment (the dict entry and its 16-byte key are most of it), where one list per
    enrollment keyed by the id's text cost ~300.
    """

    def __init__(self) -> None:
        self.ordinal: dict[bytes, int] = {}  # enrollment aggregate id (UUID bytes) -> ordinal
        self._pmids = bytearray()
        self._pmid_ends = array("Q")
        self.dates: tuple[array[int], ...] = tuple(array("I") for _ in _DATE_FIELDS)
        self.status = bytearray()  # index into _STATUSES
        self.touched = bytearray()
        self.date_values: list[str] = [""]
        self._date_index: dict[str, int] = {"": 0}

    def __len__(self) -> int:
        return len(self._pmid_ends)

    def enroll(self, key: bytes, pmid: str) -> int:
        found = self.ordinal.get(key)
        if found is not None:  # an aggregate is created once; a replayed creation keeps its place
            return found
        ordinal = self.ordinal[key] = len(self._pmid_ends)
        self._pmids += pmid.encode()
        self._pmid_ends.append(len(self._pmids))
        for column in self.dates:
            column.append(0)
        self.status.append(0)
        self.touched.append(0)
        return ordinal

    def pmid(self, ordinal: int) -> str:
        start = self._pmid_ends[ordinal - 1] if ordinal else 0
        return self._pmids[start : self._pmid_ends[ordinal]].decode()

    def set_date(self, ordinal: int, column: int, day: str) -> None:
        index = self._date_index.get(day)
        if index is None:
            index = self._date_index[day] = len(self.date_values)
            self.date_values.append(day)
        self.dates[column][ordinal] = index

    def row(self, ordinal: int) -> tuple[str, ...]:
        values, dates = self.date_values, self.dates
        status = _STATUSES[self.status[ordinal]].feed_value
        return (self.pmid(ordinal), *(values[column[ordinal]] for column in dates), "", status)


def id_key(aggregate_id: str) -> bytes:
    """The 16 bytes of a UUID's canonical text (the state's key: 49 bytes of object against 85 for the text)."""
    return bytes.fromhex(aggregate_id.replace("-", ""))


_STATUSES = (SubscriptionStatus.NONE, SubscriptionStatus.ACTIVE, SubscriptionStatus.CANCELLED)
_STATUS_CODE = {status: code for code, status in enumerate(_STATUSES)}


class EnrollmentRows:
    """The rows of one enrollment file, in the order members enrolled: :attr:`count` of them, produced one at
    a time when iterated (from the folded state; no list of rows is built)."""

    def __init__(self, state: EnrollmentState, since: int, erased: frozenset[str], partner_id: str) -> None:
        self._state = state
        self._since = since
        self._erased = erased
        self._partner_id = partner_id
        self.count = sum(1 for ordinal in range(len(state)) if self._wanted(ordinal))

    def _wanted(self, ordinal: int) -> bool:
        if self._since > 0 and not self._state.touched[ordinal]:
            return False
        return not (self._erased and str(member_id(self._partner_id, self._state.pmid(ordinal))) in self._erased)

    def __iter__(self) -> Iterator[tuple[str, ...]]:
        state = self._state
        for ordinal in range(len(state)):
            if self._wanted(ordinal):
                yield state.row(ordinal)


class EnrollmentFeed:
    """Computes enrollment-feed rows for a log range."""

    def __init__(self, app: LedgerApplication, log: FeedLogReader) -> None:
        self.app = app
        self.log = log

    def rows(self, partner_id: str, since: int, through: int) -> EnrollmentRows:
        """Rows for enrollments touched in ``[since, through)``, as of ``through`` (``since = 0``: all).

        One pass over the partner's enrollment, subscription and erasure entries (the log's index on partner,
        type and position: the partner's other entries are not read) into an :class:`EnrollmentState`.
        """
        state = EnrollmentState()
        subscriber: dict[str, str] = {}  # subscription aggregate id -> pmid
        erased: set[str] = set()
        position = 0
        while position < through:
            chunk = self.log.partner_rows_of_types(
                partner_id, ENROLLMENT_TYPES, start=position, stop=through, limit=_READ_CHUNK
            )
            if not chunk:
                break
            for row in chunk:
                self._fold(partner_id, state, subscriber, erased, row, row.position >= since)
            position = chunk[-1].position + 1
        return EnrollmentRows(state, since, frozenset(erased), partner_id)

    @staticmethod
    def _fold(
        partner_id: str,
        state: EnrollmentState,
        subscriber: dict[str, str],
        erased: set[str],
        row: StoredRow,
        touched: bool,
    ) -> None:
        kind = row.type
        if kind == "member.personal_data_erased":
            erased.add(row.aggregate_id)
            return
        payload = orjson.loads(row.entry)["payload"]
        if kind in _SUBSCRIPTION:
            pmid = payload.get("partner_member_id") or subscriber.get(row.aggregate_id)
            if pmid is None:
                return
            subscriber[row.aggregate_id] = pmid
            ordinal = state.ordinal.get(enrollment_id(partner_id, pmid).bytes)
            if ordinal is not None:
                state.status[ordinal] = _STATUS_CODE[_SUBSCRIPTION[kind]]
                state.touched[ordinal] |= touched
            return
        name, column = _DATE_FIELDS[kind]
        if kind == "enrollment.enrolled":
            ordinal = state.enroll(id_key(row.aggregate_id), payload["partner_member_id"])
        else:
            found = state.ordinal.get(id_key(row.aggregate_id))
            if found is None:
                return
            ordinal = found
        state.set_date(ordinal, column, payload.get(name) or "")
        state.touched[ordinal] |= touched

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
