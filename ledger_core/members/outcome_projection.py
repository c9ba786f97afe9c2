"""The outcome projection: per partner, per day counters kept current as members change, and rebuilt from the log.

Every command that can change a member's contribution (:func:`ledger_core.members.outcomes.contribution`) runs
inside :meth:`OutcomeProjection.tracking`: the member's contribution is computed before and after the
command, and the difference is added to the :class:`~ledger_core.members.outcomes.OutcomeStore` once the
command's events are saved. A contribution is a pure function of the member's aggregates (and of the
sealed result and actions, opened internally while the member's key exists), so

    stored counters == sum of contribution(member) over every member in the log

which :meth:`OutcomeProjection.recompute` computes from one scan of the full log with its own reading of
the events (:mod:`ledger_core.members.outcome_replay`), and which the hypothesis property
in ``tests/integration/test_outcomes_properties.py`` checks against the incremental counters.

Why deltas at command time rather than a log follower: erasing a member must remove their result from
the figures, and after erasure the result can no longer be opened (its key is gone), so the projection
subtracts the member's contribution while the key still exists (:meth:`MemberService.erase` destroys the
key inside the tracked block, after the "before" snapshot). A follower would have to keep every
member's result in plaintext to subtract it later.

Limits (documented in ``docs/eligibility.md``): commands on the same member are serialised within a
process; two processes changing the member and its enrollment at the same instant could each see the
other's change in their "after" snapshot. A crash between the log commit and the counter update leaves an
:class:`OpenChange` that :meth:`recover` settles from the log. ``ledger outcomes rebuild`` (:meth:`rebuild`)
restores the exact counters from the log in any case.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from ledger_core.engine.aggregate import LedgerAggregate
from ledger_core.engine.application import LedgerApplication
from ledger_core.engine.chain import StoredRow
from ledger_core.engine.envelope import decode_entry
from ledger_core.engine.ports import Clock
from ledger_core.members.cost_model import CostModel
from ledger_core.members.enrollments import Enrollment, enrollment_id, open_choice
from ledger_core.members.member import Member, member_id, member_subject
from ledger_core.members.outcome_replay import recompute_counts
from ledger_core.members.outcomes import (
    DEFAULT_SUPPRESSION_THRESHOLD,
    ELIGIBLE,
    Contribution,
    MemberFacts,
    MemoryOutcomeStore,
    OpenChange,
    OutcomeReport,
    OutcomeStore,
    contribution,
    difference,
    report_from_store,
)
from ledger_core.members.privacy import PersonalDataVault
from ledger_core.shared.validation import format_timestamp
from ledger_core.shared.vocabulary import HealthAction, ResultType

_LOCK_STRIPES = 64
RECOVERY_MIN_AGE = timedelta(seconds=60)
"""Open changes younger than this are left to the command still running them (see :meth:`recover`)."""
_SCAN_CHUNK = 5_000
BATCH_MARK = "\x1fbatch:"
"""Prefix of the member-id column of a bulk save's open change (no member id holds a control character)."""


def batch_change_key(aggregate_id: UUID, version: int) -> str:
    return f"{BATCH_MARK}{aggregate_id}:{version}"


def parse_batch_change_key(key: str) -> tuple[str, int]:
    aggregate_id, _, version = key.removeprefix(BATCH_MARK).rpartition(":")
    return aggregate_id, int(version)


class OutcomeProjection:
    """Keeps an :class:`OutcomeStore` equal to the sum of every member's contribution."""

    def __init__(
        self,
        app: LedgerApplication,
        vault: PersonalDataVault,
        store: OutcomeStore,
        *,
        cost_model: CostModel | None = None,
        threshold: int = DEFAULT_SUPPRESSION_THRESHOLD,
        clock: Clock | None = None,
    ) -> None:
        self.app = app
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.vault = vault
        self.store = store
        self.cost_model = cost_model or CostModel()
        self.threshold = threshold
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]

    # -- one member --------------------------------------------------------------------------------
    def facts(self, partner_id: str, partner_member_id: str) -> MemberFacts | None:
        """The member's plaintext facts (internal only); None when unknown or erased."""
        member = self.app.find(Member, member_id(partner_id, partner_member_id))
        if member is None or member.erased:
            return None
        registered_on = self._registered_on(member.id)
        enrollment = self.app.find(Enrollment, enrollment_id(partner_id, partner_member_id))
        if enrollment is None:
            return MemberFacts(registered_on)
        subject = member_subject(partner_id, member.partner_member_id)
        result = None
        if enrollment.sealed_result_type is not None:
            result = ResultType(open_choice(self.vault, subject, "result_type", enrollment.sealed_result_type))
        actions = frozenset(
            HealthAction(open_choice(self.vault, subject, "action", sealed)) for sealed in enrollment.sealed_actions
        )
        return MemberFacts(
            registered_on,
            enrollment.enrollment_date,
            enrollment.result_delivery_date,
            result,
            dict(enrollment.nps),
            actions,
        )

    def contribution_of(self, partner_id: str, partner_member_id: str) -> Contribution:
        return contribution(self.facts(partner_id, partner_member_id))

    @contextmanager
    def tracking(self, partner_id: str, partner_member_id: str) -> Iterator[None]:
        """Run a command on the member and add the change in its contribution to the store.

        Before the command an :class:`OpenChange` (the "before" contribution) is committed; afterwards the
        difference between what the log now says and "before" is added in the same transaction that
        settles it, also when the block raised (then usually nothing changed). A crash in between leaves
        the change open for :meth:`recover`.
        """
        lock = self._locks[hash((partner_id, partner_member_id)) % _LOCK_STRIPES]
        with lock:
            change = self._open(partner_id, partner_member_id, self.contribution_of(partner_id, partner_member_id))
            try:
                yield
            finally:
                self._settle(change)

    @contextmanager
    def registering(self, partner_id: str, partner_member_id: str) -> Iterator[Callable[[int], None]]:
        """Around saving a new member: yields ``saved(position)``, which counts the member's one ``eligible``
        on that entry's day without re-reading the member. A crash before ``saved`` leaves the change
        open for :meth:`recover`; a block that raises settles it from the log."""
        change = self._open(partner_id, partner_member_id, Counter())
        settled = False

        def saved(position: int) -> None:
            nonlocal settled
            rows = self.app.log_reader.read_rows(position, 1)
            day = date.fromisoformat(decode_entry(rows[0].entry).recorded_at[:10])
            self.store.settle_change(change.change_id, partner_id, {(day, ELIGIBLE): 1})
            settled = True

        try:
            yield saved
        finally:
            if not settled:
                self._settle(change)

    @contextmanager
    def registering_batch(self, partner_id: str, marker: LedgerAggregate) -> Iterator[Callable[[Sequence[int]], None]]:
        """Around ONE save of many new members that ends with ``marker``'s single pending event, whose payload
        says how many events of the same save precede it (``member_events``): the bulk path's journal.

        One :class:`OpenChange` names the marker event (aggregate id and version, known before the save);
        ``saved(positions)`` adds one ``eligible`` per new member on its entry's day and settles it. A crash
        in between leaves it open: :meth:`recover` (or :meth:`recover_batch`) finds the marker in the log,
        or not (the save never committed: nothing to add), and counts that save's ``member.registered``
        entries, exactly once.
        """
        version = marker.pending_events[-1].originator_version
        change = OpenChange(
            uuid4().hex, partner_id, batch_change_key(marker.id, version), {}, format_timestamp(self.clock())
        )
        self.store.open_change(change)
        settled = False

        def saved(positions: Sequence[int]) -> None:
            nonlocal settled
            self.store.settle_change(change.change_id, partner_id, self._registered_days(positions))
            settled = True

        try:
            yield saved
        finally:
            if not settled:
                self.recover_batch(change)

    def _registered_days(self, positions: Sequence[int]) -> dict[tuple[date, str], int]:
        """``(day, eligible) -> count`` for entries at ``positions`` (sorted): two reads when the first and
        the last fall on the same day (``recordedAt`` never decreases along the log), else one per entry."""
        if not positions:
            return {}
        first, last = (self._day(self.app.log_reader.read_rows(p, 1)[0]) for p in (positions[0], positions[-1]))
        if first == last:
            return {(first, ELIGIBLE): len(positions)}
        days: Counter[tuple[date, str]] = Counter()
        for position in positions:
            days[self._day(self.app.log_reader.read_rows(position, 1)[0]), ELIGIBLE] += 1
        return dict(days)

    @staticmethod
    def _day(row: StoredRow) -> date:
        return date.fromisoformat(decode_entry(row.entry).recorded_at[:10])

    def recover_batch(self, change: OpenChange) -> bool:
        """Settle a bulk save's open change from the log: its marker event committed or it did not."""
        aggregate_id, version = parse_batch_change_key(change.partner_member_id)
        marker = next(
            (row for row in self.app.log_reader.read_aggregate_rows(aggregate_id) if row.aggregate_version == version),
            None,
        )
        if marker is None:
            return self.store.settle_change(change.change_id, change.partner_id, {})
        count = int(decode_entry(marker.entry).payload.get("member_events", 0))
        rows = self.app.log_reader.read_rows(marker.position - count, count) if count else []
        registered = [row.position for row in rows if row.type == "member.registered"]
        return self.store.settle_change(change.change_id, change.partner_id, self._registered_days(registered))

    def recover(self, min_age: timedelta = RECOVERY_MIN_AGE) -> int:
        """Settle changes left open (by a crash) for at least ``min_age``, from the log; return how many.

        A member's open changes chain: each one's effect is the next one's "before" minus its own, the
        last one's is the member's contribution now minus its "before". Settling is exactly-once (see
        :meth:`OutcomeStore.settle_change`); a member with a change younger than ``min_age`` (perhaps a
        command still running in another process) is left for a later round.
        """
        cutoff = format_timestamp(self.clock() - min_age)
        by_member: dict[tuple[str, str], list[OpenChange]] = {}
        recovered = 0
        for change in self.store.open_changes():
            if change.partner_member_id.startswith(BATCH_MARK):
                if change.opened_at <= cutoff and self.recover_batch(change):
                    recovered += 1
                continue
            by_member.setdefault((change.partner_id, change.partner_member_id), []).append(change)
        for (partner_id, partner_member_id), changes in by_member.items():
            if any(change.opened_at > cutoff for change in changes):
                continue
            now = self.contribution_of(partner_id, partner_member_id)
            recovered += self._settle_chain(changes, now)
        return recovered

    def _open(self, partner_id: str, partner_member_id: str, before: Contribution) -> OpenChange:
        """Commit a change for the member; first settle its stale ones (a crash or failed settle left them
        open, and this command must not be counted into them): they chain up to ``before``."""
        cutoff = format_timestamp(self.clock() - RECOVERY_MIN_AGE)
        stale = [c for c in self.store.open_changes(partner_id, partner_member_id) if c.opened_at <= cutoff]
        if stale:
            self._settle_chain(stale, before)
        change = OpenChange(uuid4().hex, partner_id, partner_member_id, dict(before), format_timestamp(self.clock()))
        self.store.open_change(change)
        return change

    def _settle_chain(self, changes: list[OpenChange], end: Contribution) -> int:
        """Settle one member's ``changes`` (oldest first), the last one up to the contribution ``end``."""
        settled = 0
        for change, following in zip(changes, [*changes[1:], None], strict=True):
            after = end if following is None else Counter(following.before)
            if self.store.settle_change(change.change_id, change.partner_id, difference(after, Counter(change.before))):
                settled += 1
        return settled

    def _settle(self, change: OpenChange) -> bool:
        after = self.contribution_of(change.partner_id, change.partner_member_id)
        deltas = difference(after, Counter(change.before))
        return self.store.settle_change(change.change_id, change.partner_id, deltas)

    def _registered_on(self, aggregate_id: UUID) -> date:
        """The ``recordedAt`` day of the member's first log entry (the day it entered the eligibility data)."""
        first = self.app.recorder.select_events(aggregate_id, limit=1)
        return date.fromisoformat(decode_entry(first[0].state).recorded_at[:10])

    # -- reports -----------------------------------------------------------------------------------
    def report(
        self,
        partner_id: str,
        start: date,
        end: date,
        *,
        cost_model: CostModel | None = None,
        threshold: int | None = None,
    ) -> OutcomeReport:
        """The partner's outcomes for ``[start, end]`` from the stored counters (two range sums); the cost
        model and suppression threshold default to the projection's."""
        return report_from_store(
            self.store,
            partner_id,
            start,
            end,
            cost_model=cost_model or self.cost_model,
            threshold=self.threshold if threshold is None else threshold,
        )

    # -- from the full log -------------------------------------------------------------------------
    def rows(self) -> Iterator[StoredRow]:
        """Every stored row, in log order (read in chunks)."""
        reader = self.app.log_reader
        position = 0
        while rows := reader.read_rows(position, _SCAN_CHUNK):
            yield from rows
            position = rows[-1].position + 1

    def recompute(self) -> MemoryOutcomeStore:
        """Every member's contribution summed from one scan of the log (ignores the stored counters)."""

        def open_sealed(subject: str, field: str, sealed: Mapping[str, Any]) -> str:
            return open_choice(self.vault, subject, field, sealed)

        store = MemoryOutcomeStore()
        store.replace_all(recompute_counts(self.rows(), open_sealed))
        return store

    def recomputed_report(
        self,
        partner_id: str,
        start: date,
        end: date,
        *,
        cost_model: CostModel | None = None,
        threshold: int | None = None,
    ) -> OutcomeReport:
        """As :meth:`report`, from a recomputation of the full log (one scan of every entry)."""
        return report_from_store(
            self.recompute(),
            partner_id,
            start,
            end,
            cost_model=cost_model or self.cost_model,
            threshold=self.threshold if threshold is None else threshold,
        )

    def rebuild(self) -> int:
        """Replace the stored counters with a recomputation; return the number of counter rows written."""
        recomputed = self.recompute()
        self.store.replace_all(recomputed.counts)
        return len(recomputed.counts)
