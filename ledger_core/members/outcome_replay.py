"""Outcome counters recomputed from the log in one pass, independently of the aggregates' code.

:func:`fold_members` reads entries in log order and keeps, per member, only what the figures need
(registration day, erasure, enrollment date, the result's day and sealed value, NPS answers, sealed
actions); :func:`recompute_counts` then opens the sealed values of members that are not erased and sums
their :func:`~ledger_core.members.outcomes.contribution`. It never loads an aggregate, so it is fast (one
sequential scan, no per-member queries) and it is a second, separate reading of the events: the
hypothesis property comparing it with the incremental counters checks the projection against the log
itself, not against its own code.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ledger_core.engine.chain import StoredRow
from ledger_core.engine.envelope import decode_entry
from ledger_core.members.member import member_subject
from ledger_core.members.outcomes import MemberFacts, contribution
from ledger_core.shared.vocabulary import HealthAction, NpsKind, ResultType

FIGURE_EVENTS = frozenset(
    {
        "member.registered",
        "member.personal_data_erased",
        "enrollment.enrolled",
        "enrollment.result_delivered",
        "enrollment.nps_recorded",
        "enrollment.action_reported",
    }
)
"""The only event types that move a member's figures."""

Opener = Callable[[str, str, Mapping[str, Any]], str]
"""``(subject, field, sealed) -> plaintext`` (``ledger_core.members.enrollments.open_choice`` bound to a vault)."""


@dataclass
class FoldedMember:
    """What the log says about one member, as far as the figures go."""

    partner_id: str
    partner_member_id: str
    registered_on: date
    erased: bool = False
    enrollment_date: date | None = None
    result_delivery_date: date | None = None
    sealed_result: Mapping[str, Any] | None = None
    nps: dict[NpsKind, int] = field(default_factory=dict)
    sealed_actions: list[Mapping[str, Any]] = field(default_factory=list)


def fold_members(rows: Iterable[StoredRow]) -> dict[tuple[str, str], FoldedMember]:
    """Fold the figure events of ``rows`` (in log order) into one record per ``(partner, member)``."""
    members: dict[tuple[str, str], FoldedMember] = {}
    by_aggregate: dict[str, tuple[str, str]] = {}  # member and enrollment aggregate ids -> member key
    for row in rows:
        if row.type not in FIGURE_EVENTS or row.partner_id is None:
            continue
        envelope = decode_entry(row.entry)
        payload = envelope.payload
        if row.type == "member.registered":
            key = (row.partner_id, str(payload["partner_member_id"]))
            members[key] = FoldedMember(*key, registered_on=date.fromisoformat(envelope.recorded_at[:10]))
            by_aggregate[row.aggregate_id] = key
            continue
        if row.type == "enrollment.enrolled":
            key = (row.partner_id, str(payload["partner_member_id"]))
            by_aggregate[row.aggregate_id] = key
            members[key].enrollment_date = date.fromisoformat(str(payload["enrollment_date"]))
            continue
        member = members[by_aggregate[row.aggregate_id]]
        if row.type == "member.personal_data_erased":
            member.erased = True
        elif row.type == "enrollment.result_delivered":
            member.result_delivery_date = date.fromisoformat(str(payload["result_delivery_date"]))
            member.sealed_result = payload["result_type"]
        elif row.type == "enrollment.nps_recorded":
            member.nps[NpsKind(payload["kind"])] = int(payload["score"])
        else:
            member.sealed_actions.append(payload["action"])
    return members


def facts_of(member: FoldedMember, open_sealed: Opener) -> MemberFacts | None:
    """The member's facts with sealed values opened; None for an erased member."""
    if member.erased:
        return None
    subject = member_subject(member.partner_id, member.partner_member_id)
    result = None
    if member.sealed_result is not None:
        result = ResultType(open_sealed(subject, "result_type", member.sealed_result))
    return MemberFacts(
        member.registered_on,
        member.enrollment_date,
        member.result_delivery_date,
        result,
        dict(member.nps),
        frozenset(HealthAction(open_sealed(subject, "action", sealed)) for sealed in member.sealed_actions),
    )


def recompute_counts(rows: Iterable[StoredRow], open_sealed: Opener) -> Counter[tuple[str, date, str]]:
    """``(partner, day, counter) -> value`` for the whole log."""
    total: Counter[tuple[str, date, str]] = Counter()
    for member in fold_members(rows).values():
        for (day, counter), value in contribution(facts_of(member, open_sealed)).items():
            total[member.partner_id, day, counter] += value
    return total
