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
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from decimal import Decimal

import orjson

from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.chain import StoredRow
from ledger_core.members.enrollments import enrollment_id
from ledger_core.members.feeds.compact import IdOrdinals, Mapped, PackedStrings
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
_READ_CHUNK = 2_000  # rows per read: 5,000 held ~8.5 MiB more at the peak on PostgreSQL (the result, its rows)
PERCENT_METRICS_PREFIXES = ("action_rate_",)
PERCENT_METRICS = frozenset({"enrollment_rate", "mz_detection_rate"})
MONEY_METRICS = frozenset({"projected_savings_5yr", "cost_per_mz"})
SUPPRESSED = "suppressed"


class EnrollmentState:
    """The folded state of a partner's enrollments, column-wise: per enrollment (by ordinal, in the order
    members enrolled) its partner member id, four date indices into one table of distinct dates (0: none),
    its subscription status and whether the delivery's range touched it. The enrollments are found by the
    16 bytes of their aggregate id (:class:`~ledger_core.members.feeds.compact.IdOrdinals`).

    No Python object per enrollment: about 55 bytes each (the id 16, its hash slots 16-32, the member id's
    UTF-8 and its end offset ~13, the dates 8, status and touched 2), where a ``dict`` from the id's bytes to
    an ordinal and one list per enrollment cost ~170 and ~300.
    """

    def __init__(self) -> None:
        self._count = 0
        self._room = 0  # enrollments the fixed-width columns have room for
        self.ids = IdOrdinals()  # enrollment aggregate id (UUID bytes) -> ordinal
        self.pmids = PackedStrings()
        self.dates = Mapped("H")  # _DATE_COLUMNS per enrollment; "I" once there are 65,536 distinct dates
        self.status = Mapped("B")  # index into _STATUSES
        self.touched = Mapped("B")
        self.date_values: list[str] = [""]
        self._date_index: dict[str, int] = {"": 0}

    def __len__(self) -> int:
        return self._count

    def enroll(self, key: bytes, pmid: str) -> int:
        ordinal = self.ids.add(key)
        if ordinal < self._count:  # an aggregate is created once; a replayed creation keeps its place
            return ordinal
        self._count = ordinal + 1
        self.pmids.append(pmid)
        if ordinal == self._room:  # zero until written: a new enrollment has no date nor status
            self._room = max(2 * self._room, _MIN_ROOM)
            self.status.reserve(self._room)
            self.touched.reserve(self._room)
            self.dates.reserve(self._room * _DATE_COLUMNS)
        return ordinal

    def find(self, key: bytes) -> int:
        """The ordinal of the enrollment whose aggregate id has bytes ``key``, or -1."""
        return self.ids.find(key)

    def set_date(self, ordinal: int, column: int, day: str) -> None:
        index = self._date_index.get(day)
        if index is None:
            index = self._date_index[day] = len(self.date_values)
            self.date_values.append(day)
            if index > 0xFFFF and self.dates.typecode == "H":
                self._widen_dates()
        self.dates.items[ordinal * _DATE_COLUMNS + column] = index

    def _widen_dates(self) -> None:
        used = self._count * _DATE_COLUMNS
        wider = Mapped("I", len(self.dates))
        wider.items[:used] = memoryview(array("I", self.dates.items[:used]))
        self.dates = wider

    def row(self, ordinal: int) -> tuple[str, ...]:
        values, dates, at = self.date_values, self.dates.items, ordinal * _DATE_COLUMNS
        return (
            self.pmids[ordinal],
            values[dates[at]],
            values[dates[at + 1]],
            values[dates[at + 2]],
            values[dates[at + 3]],
            "",
            _STATUS_VALUES[self.status.items[ordinal]],
        )


def id_key(aggregate_id: str) -> bytes:
    """The 16 bytes of a UUID's canonical text."""
    return bytes.fromhex(aggregate_id.replace("-", ""))


_STATUSES = (SubscriptionStatus.NONE, SubscriptionStatus.ACTIVE, SubscriptionStatus.CANCELLED)
_STATUS_CODE = {status: code for code, status in enumerate(_STATUSES)}
_STATUS_VALUES = tuple(status.feed_value for status in _STATUSES)
_DATE_COLUMNS = len(_DATE_FIELDS)
_MIN_ROOM = 4096


class EnrollmentRows:
    """The rows of one enrollment file, in the order members enrolled: :attr:`count` of them, produced one at
    a time when iterated (from the folded state; no list of rows is built)."""

    def __init__(self, state: EnrollmentState, since: int, erased: frozenset[str], partner_id: str) -> None:
        self._state = state
        self._since = since
        # One byte per enrollment to leave out, when any is (erased, or untouched by an incremental range).
        self._skip: bytearray | None = None
        if erased:
            self._skip = bytearray(
                str(member_id(partner_id, state.pmids[ordinal])) in erased for ordinal in range(len(state))
            )
        self.count = sum(1 for _ in self._ordinals())

    def _ordinals(self) -> Iterator[int]:
        state, skip = self._state, self._skip
        if self._since > 0:
            touched = state.touched.items
            return (o for o in range(len(state)) if touched[o] and not (skip and skip[o]))
        if skip is not None:
            return (o for o in range(len(state)) if not skip[o])
        return iter(range(len(state)))

    def __iter__(self) -> Iterator[tuple[str, ...]]:
        row = self._state.row
        for ordinal in self._ordinals():
            yield row(ordinal)


class EnrollmentFeed:
    """Computes enrollment-feed rows for a log range."""

    def __init__(self, app: LedgerApplication, log: FeedLogReader) -> None:
        self.app = app
        self.log = log

    def rows(self, partner_id: str, since: int, through: int) -> EnrollmentRows:
        """Rows for enrollments touched in ``[since, through)``, as of ``through`` (``since = 0``: all).

        One pass over the partner's enrollment, subscription and erasure entries (the log's index on partner,
        type and position: the partner's other entries are not read), :data:`_READ_CHUNK` rows at a time, into
        an :class:`EnrollmentState`.
        """
        fold = _Fold(partner_id)
        position = 0
        while position < through:
            chunk = self.log.partner_rows_of_types(
                partner_id, ENROLLMENT_TYPES, start=position, stop=through, limit=_READ_CHUNK
            )
            if not chunk:
                break
            fold.fold(chunk, since)
            position = chunk[-1].position + 1
            del chunk
        return EnrollmentRows(fold.state, since, frozenset(fold.erased), partner_id)

    @staticmethod
    def header() -> tuple[str, ...]:
        return ENROLLMENT_COLUMNS


class _Fold:
    """Folds one partner's enrollment, subscription and erasure rows, in log order, into :attr:`state`.

    A subscription is found by its aggregate id (only ``subscription.started`` names the member) and its
    member's enrollment by the member's enrollment id; a subscription event before the member's enrollment
    changes no row. A later date event of a step replaces its date."""

    def __init__(self, partner_id: str) -> None:
        self.partner_id = partner_id
        self.state = EnrollmentState()
        self.subscriptions = IdOrdinals()  # subscription aggregate id -> index into subscriber_pmids
        self.subscriber_pmids = PackedStrings()
        self.erased: set[str] = set()

    def fold(self, rows: Sequence[StoredRow], since: int) -> None:
        """Fold ``rows`` (the next ones in log order); those at ``since`` or after touch their enrollment."""
        state, erased = self.state, self.erased
        enroll, find, set_date, touched = state.enroll, state.find, state.set_date, state.touched
        loads, fromhex = orjson.loads, bytes.fromhex
        for row in rows:
            kind = row.type
            if kind == "member.personal_data_erased":
                erased.add(row.aggregate_id)
                continue
            payload = loads(row.entry)["payload"]
            if kind in _SUBSCRIPTION:
                self._subscription(row.aggregate_id, payload.get("partner_member_id"), kind, row.position >= since)
                continue
            name, column = _DATE_FIELDS[kind]
            key = fromhex(row.aggregate_id.replace("-", ""))  # id_key, inline: this loop runs per row
            if kind == "enrollment.enrolled":
                ordinal = enroll(key, payload["partner_member_id"])
            else:
                ordinal = find(key)
                if ordinal < 0:
                    continue
            set_date(ordinal, column, payload.get(name) or "")
            if row.position >= since:
                touched.items[ordinal] = 1  # items: enrolling may have grown the column

    def _subscription(self, aggregate_id: str, pmid: str | None, kind: str, touched: bool) -> None:
        known = self.subscriptions.find(id_key(aggregate_id))
        if known >= 0:
            pmid = pmid or self.subscriber_pmids[known]
        elif pmid:
            self.subscriptions.add(id_key(aggregate_id))
            self.subscriber_pmids.append(pmid)
        else:
            return
        state = self.state
        ordinal = state.find(enrollment_id(self.partner_id, pmid).bytes)
        if ordinal >= 0:
            state.status.items[ordinal] = _STATUS_CODE[_SUBSCRIPTION[kind]]
            if touched:
                state.touched.items[ordinal] = 1


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
