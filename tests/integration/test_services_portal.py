"""The member portal's use cases and portal origins on real storage (SQLite and PostgreSQL).

Enrolling in the portal is the operations enrollment: the same event, with the same fields, as
``Membership.enroll`` writes; a member who is not eligible records nothing; the result opens only through
:meth:`MemberPortal.own_result`; the subscription starts on the seed's annual plan and cancels.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.clock import SteppingClock

from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from ledger_core.engine.errors import InvalidCommand, NotFound
from ledger_core.ledger import Ledger
from ledger_core.members.enrollments import Stage
from ledger_core.members.errors import ConsentRequired, MemberNotEligible, MemberNotFound
from ledger_core.members.member_record import EligibilityRecord
from ledger_core.members.portal import ANNUAL_MONITORING, PortalMember
from ledger_core.shared.vocabulary import ResultType, SubscriptionStatus

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
PARTNER = "northwestern_mutual"


@pytest.fixture
def ledger(tmp_path: Path, database_url: str) -> Iterator[Ledger]:
    with open_ledger(
        StorageConfig(tmp_path, database_url), clock=SteppingClock(NOW), restricted_states={"NY"}
    ) as opened:
        opened.partners.register(
            partner_id=PARTNER, name="Northwestern Mutual", category="insurance_carrier", tier="standard", scopes=[]
        )
        yield opened


def member(ledger: Ledger, pmid: str, state: str = "IA") -> PortalMember:
    ledger.members.upsert(
        PARTNER,
        EligibilityRecord(
            partner_member_id=pmid,
            email=f"{pmid}@example.org",
            first_name="Alex",
            last_name="Member",
            date_of_birth="1980-05-15",
            state=state,
            policy_type="Health",
        ),
    )
    return PortalMember(PARTNER, pmid)


def enrolled_payloads(ledger: Ledger) -> dict[str, dict[str, object]]:
    return {
        str(e.payload["partner_member_id"]): dict(e.payload)
        for e in ledger.entries()
        if e.type == "enrollment.enrolled"
    }


def test_portal_enrollment_is_the_operations_enrollment(ledger: Ledger) -> None:
    in_portal, by_operations = member(ledger, "M-1"), member(ledger, "M-2")
    ledger.portal.enroll(in_portal, consented=True)
    ledger.membership.enroll(PARTNER, by_operations.partner_member_id, NOW.date().isoformat())
    payloads = enrolled_payloads(ledger)
    assert {k: v for k, v in payloads["M-1"].items() if k != "partner_member_id"} == {
        k: v for k, v in payloads["M-2"].items() if k != "partner_member_id"
    }
    overview = ledger.portal.overview(in_portal)
    assert overview.enrolled
    assert not overview.can_enroll
    assert [step.stage for step in overview.steps if step.reached_on] == [Stage.ENROLLED]


def test_a_member_who_is_not_eligible_records_nothing(ledger: Ledger) -> None:
    restricted = member(ledger, "M-NY", state="NY")
    size = ledger.size()
    with pytest.raises(MemberNotEligible):
        ledger.portal.enroll(restricted, consented=True)
    assert ledger.size() == size
    with pytest.raises(MemberNotFound):
        ledger.portal.overview(PortalMember(PARTNER, "nobody"))


def test_enrolling_without_consent_is_refused_and_records_nothing(ledger: Ledger) -> None:
    person = member(ledger, "M-NC")
    size = ledger.size()
    with pytest.raises(ConsentRequired) as refused:
        ledger.portal.enroll(person, consented=False)
    assert (refused.value.code, refused.value.partner_member_id) == ("CONSENT_REQUIRED", "M-NC")
    assert ledger.size() == size
    assert ledger.portal.overview(person).can_enroll


def test_the_result_opens_only_for_its_member_after_delivery(ledger: Ledger) -> None:
    person = member(ledger, "M-3")
    assert ledger.portal.own_result(person).result_type is None
    ledger.portal.enroll(person, consented=True)
    day = NOW.date().isoformat()
    ledger.membership.order_kit(PARTNER, "M-3", day)
    ledger.membership.receive_sample(PARTNER, "M-3", day, day)
    assert ledger.portal.own_result(person).result_type is None
    ledger.membership.deliver_result(PARTNER, "M-3", day, "MZ")
    own = ledger.portal.own_result(person)
    assert own.result_type is ResultType.MZ
    assert own.delivered_on == NOW.date()
    assert ledger.portal.overview(person).result_ready


def test_monitoring_starts_on_the_annual_plan_and_cancels(ledger: Ledger) -> None:
    person = member(ledger, "M-4")
    ledger.portal.enroll(person, consented=True)
    ledger.portal.subscribe(person)
    started = next(e for e in ledger.entries() if e.type == "subscription.started")
    assert (started.payload["amount"], started.payload["frequency"]) == (
        ANNUAL_MONITORING.amount,
        ANNUAL_MONITORING.frequency.value,
    )
    assert ledger.portal.overview(person).subscribed
    ledger.portal.cancel_subscription(person)
    assert ledger.portal.overview(person).status.subscription is SubscriptionStatus.CANCELLED


def test_portal_origins_of_a_registered_partner(ledger: Ledger) -> None:
    assert ledger.embedding.origins(PARTNER).origins == ()
    changed = ledger.embedding.set_origins(PARTNER, ["https://Benefits.NM.example:443"])
    assert changed.origins == ("https://benefits.nm.example",)
    assert changed.positions
    assert ledger.embedding.set_origins(PARTNER, ["https://benefits.nm.example"]).positions == ()
    with pytest.raises(NotFound):
        ledger.embedding.set_origins("unknown_partner", ["https://x.example"])
    with pytest.raises(InvalidCommand):
        ledger.embedding.set_origins(PARTNER, ["https://x.example/path"])
