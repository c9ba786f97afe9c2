"""Enrollments: stage order, date order, eligibility, sealed results, follow-ups."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from ledger_core.engine.aggregate import derive_id
from ledger_core.engine.errors import InvalidCommand, InvalidTransition, NotFound
from ledger_core.members.enrollments import Enrollment, EnrollmentService, Stage
from ledger_core.members.errors import NotEligible, PersonalDataErased
from ledger_core.members.member import MemberService, member_subject
from ledger_core.members.member_record import EligibilityRecord
from ledger_core.members.privacy import PersonalDataVault

from .fakes import FakeApp, FixedClock, event_types, replay, state

PARTNER = "northwestern_mutual"
PMID = "12345678"
BORN = date(1980, 5, 15)  # 18 on 1998-05-15


def enrolled(**overrides: Any) -> Enrollment:
    args: dict[str, Any] = {
        "partner_id": PARTNER,
        "partner_member_id": PMID,
        "enrollment_date": "2026-01-10",
        "date_of_birth": BORN,
        "state": "IA",
    }
    return Enrollment.enroll(**{**args, **overrides})


def sealed_result(vault: PersonalDataVault, value: str = "MZ") -> dict[str, Any]:
    return vault.seal(member_subject(PARTNER, PMID), "result_type", value)


def sealed_action(vault: PersonalDataVault, action: str) -> tuple[dict[str, Any], dict[str, str]]:
    subject = member_subject(PARTNER, PMID)
    return vault.seal(subject, "action", action), vault.commit(subject, "action", action)


def delivered(vault: PersonalDataVault) -> Enrollment:
    enrollment = enrolled()
    enrollment.order_kit("2026-01-11")
    enrollment.receive_sample("2026-01-15", "2026-01-22")
    enrollment.deliver_result("2026-01-22", sealed_result(vault))
    return enrollment


def test_full_path(vault: PersonalDataVault) -> None:
    """The four stages in order, then counseling, NPS and an action; replay reproduces the state."""
    enrollment = delivered(vault)
    enrollment.schedule_counseling("2026-01-29T15:00:00Z")
    enrollment.record_nps(9, "overall")
    enrollment.record_nps(10, "counseling")
    enrollment.report_action(*sealed_action(vault, "smoking_cessation"))
    events = enrollment.collect_events()
    assert event_types(events) == [
        "enrollment.enrolled",
        "enrollment.kit_ordered",
        "enrollment.sample_received",
        "enrollment.result_delivered",
        "enrollment.counseling_scheduled",
        "enrollment.nps_recorded",
        "enrollment.nps_recorded",
        "enrollment.action_reported",
    ]
    assert enrollment.id == derive_id("enrollment", PARTNER, PMID)
    assert enrollment.stage is Stage.RESULT_DELIVERED
    assert enrollment.counseling_at == "2026-01-29T15:00:00.000000Z"
    text = json.dumps([vars(e) for e in events], default=str)
    assert '"MZ"' not in text
    assert "smoking" not in text
    assert '"1980-05-15"' not in text
    assert '"1998-05-15"' not in text
    assert state(replay(events)) == state(enrollment)


def test_eligibility_rules() -> None:
    """Under-18 and restricted-state enrollments raise NotEligible naming the rule."""
    with pytest.raises(NotEligible) as young:
        enrolled(enrollment_date="1998-05-14")
    assert young.value.details["rule"] == "age_18_plus"
    assert young.value.code == "NOT_ELIGIBLE"
    assert enrolled(enrollment_date="1998-05-15").stage is Stage.ENROLLED
    with pytest.raises(NotEligible) as restricted:
        enrolled(restricted_states={"IA"})
    assert restricted.value.details["rule"] == "state_allowed"
    assert restricted.value.details["state"] == "IA"
    with pytest.raises(NotEligible):
        enrolled(state="XX")
    with pytest.raises(InvalidCommand):
        enrolled(enrollment_date="2026-1-10")


def test_steps_cannot_be_skipped_or_repeated_differently(vault: PersonalDataVault) -> None:
    """Skipping a stage or repeating one with other data is an InvalidTransition with evidence."""
    enrollment = enrolled()
    with pytest.raises(InvalidTransition) as caught:
        enrollment.receive_sample("2026-01-15", "2026-01-22")
    assert caught.value.details == {"entity": "enrollment", "current": "enrolled", "attempted": "sample_received"}
    with pytest.raises(InvalidTransition):
        enrollment.deliver_result("2026-01-22", sealed_result(vault))
    enrollment.order_kit("2026-01-11")
    with pytest.raises(InvalidTransition):
        enrollment.order_kit("2026-01-12")
    enrollment.receive_sample("2026-01-15", "2026-01-22")
    with pytest.raises(InvalidTransition):
        enrollment.order_kit("2026-01-12")
    enrollment.deliver_result("2026-01-22", sealed_result(vault))
    with pytest.raises(InvalidTransition):
        enrollment.deliver_result("2026-01-22", sealed_result(vault))


def test_identical_repeats_record_nothing() -> None:
    """Repeating a step with the same data is a no-op."""
    enrollment = enrolled()
    enrollment.order_kit("2026-01-11")
    enrollment.receive_sample("2026-01-15", "2026-01-22")
    enrollment.collect_events()
    enrollment.order_kit("2026-01-11")
    enrollment.receive_sample("2026-01-15", "2026-01-22")
    assert enrollment.collect_events() == []


def test_dates_cannot_go_backwards() -> None:
    """A step dated before the previous step is refused with the bound as evidence."""
    enrollment = enrolled()
    with pytest.raises(InvalidCommand) as kit:
        enrollment.order_kit("2026-01-09")
    assert kit.value.details["field"] == "kit_order_date"
    assert kit.value.details["not_before"] == "2026-01-10"
    enrollment.order_kit("2026-01-11")
    with pytest.raises(InvalidCommand) as sample:
        enrollment.receive_sample("2026-01-10", "2026-01-20")
    assert sample.value.details["field"] == "sample_received_date"
    assert sample.value.details["not_before"] == "2026-01-11"
    with pytest.raises(InvalidCommand) as estimate:
        enrollment.receive_sample("2026-01-15", "2026-01-14")
    assert estimate.value.details["field"] == "estimated_result_date"
    assert estimate.value.details["not_before"] == "2026-01-15"


def test_result_rules(vault: PersonalDataVault) -> None:
    """The result must be sealed and not predate the sample."""
    enrollment = enrolled()
    enrollment.order_kit("2026-01-11")
    enrollment.receive_sample("2026-01-15", "2026-01-22")
    with pytest.raises(InvalidCommand) as caught:
        enrollment.deliver_result("2026-01-22", {"plain": "MZ"})
    assert caught.value.details["field"] == "result_type"
    with pytest.raises(InvalidCommand):
        enrollment.deliver_result("2026-01-14", sealed_result(vault))


def test_follow_ups_need_the_result(vault: PersonalDataVault) -> None:
    """Counseling, NPS and actions require a delivered result."""
    enrollment = enrolled()
    with pytest.raises(InvalidTransition):
        enrollment.schedule_counseling("2026-01-29T15:00:00Z")
    with pytest.raises(InvalidTransition):
        enrollment.record_nps(9, "overall")
    with pytest.raises(InvalidTransition):
        enrollment.report_action(*sealed_action(vault, "doctor_visit"))


def test_counseling_nps_actions(vault: PersonalDataVault) -> None:
    """Counseling reschedules; NPS once per kind (counseling only after scheduling); actions once each."""
    enrollment = delivered(vault)
    enrollment.collect_events()
    with pytest.raises(InvalidCommand):
        enrollment.schedule_counseling("2026-01-21T23:00:00Z")
    with pytest.raises(InvalidTransition) as caught:
        enrollment.record_nps(8, "counseling")
    assert caught.value.details["current"] == "counseling_not_scheduled"
    enrollment.schedule_counseling("2026-01-29T15:00:00Z")
    enrollment.schedule_counseling("2026-01-29T16:00:00+01:00")  # same instant: no-op
    enrollment.schedule_counseling("2026-01-30T15:00:00Z")
    enrollment.record_nps(8, "counseling")
    enrollment.record_nps(8, "counseling")
    with pytest.raises(InvalidTransition):
        enrollment.record_nps(9, "counseling")
    for bad in ((11, "overall"), (-1, "overall"), (True, "overall"), (5, "support")):
        with pytest.raises(InvalidCommand):
            enrollment.record_nps(*bad)
    enrollment.report_action(*sealed_action(vault, "doctor_visit"))
    enrollment.report_action(*sealed_action(vault, "doctor_visit"))  # same commitment: recorded once
    with pytest.raises(InvalidCommand) as plain:
        enrollment.report_action("doctor_visit", {"commitment": "0" * 64})  # type: ignore[arg-type]
    assert plain.value.details["field"] == "action"
    with pytest.raises(InvalidCommand) as uncommitted:
        enrollment.report_action(vault.seal(member_subject(PARTNER, PMID), "action", "x"), {})
    assert uncommitted.value.details["field"] == "action_commitment"
    assert event_types(enrollment.collect_events()) == [
        "enrollment.counseling_scheduled",
        "enrollment.counseling_scheduled",
        "enrollment.nps_recorded",
        "enrollment.action_reported",
    ]


def test_service_flow(vault: PersonalDataVault) -> None:
    """The service checks the member, seals the result and can reveal it internally."""
    app = FakeApp()
    members = MemberService(app, vault, FixedClock())  # type: ignore[arg-type]
    service = EnrollmentService(app, vault, restricted_states={"NY"})  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        service.enroll(PARTNER, PMID, "2026-01-10")
    row: dict[str, Any] = {"partner_member_id": PMID, "email": "a@b.co", "first_name": "A", "last_name": "B"}
    members.upsert(PARTNER, EligibilityRecord(**row, date_of_birth="1980-05-15", state="IA", policy_type="Life"))
    assert service.enroll(PARTNER, PMID, "2026-01-10").stage == "enrolled"
    assert service.enroll(PARTNER, PMID, "2026-01-10").positions == ()
    with pytest.raises(InvalidTransition):
        service.enroll(PARTNER, PMID, "2026-01-11")
    service.order_kit(PARTNER, PMID, "2026-01-11")
    service.receive_sample(PARTNER, PMID, "2026-01-15", "2026-01-22")
    with pytest.raises(InvalidCommand):
        service.deliver_result(PARTNER, PMID, "2026-01-22", "XY")
    result = service.deliver_result(PARTNER, PMID, "2026-01-22", "MZ")
    assert result.stage == "result_delivered"
    assert '"MZ"' not in json.dumps(app.payloads())
    assert service.reveal_result(PARTNER, PMID) == "MZ"
    service.schedule_counseling(PARTNER, PMID, "2026-01-29T15:00:00Z")
    service.record_nps(PARTNER, PMID, 9, "overall")
    service.report_action(PARTNER, PMID, "doctor_visit")
    service.report_action(PARTNER, PMID, "family_testing")
    assert service.report_action(PARTNER, PMID, "doctor_visit").positions == ()
    with pytest.raises(InvalidCommand):
        service.report_action(PARTNER, PMID, "skydiving")
    assert service.reveal_actions(PARTNER, PMID) == ["doctor_visit", "family_testing"]
    assert "family_testing" not in json.dumps(app.payloads())
    assert "doctor_visit" not in json.dumps(app.payloads())
    young = {**row, "partner_member_id": "young"}
    with pytest.raises(NotEligible):  # under 18 today (the clock says 2026-01-15): refused at upsert already
        members.upsert(PARTNER, EligibilityRecord(**young, date_of_birth="2010-01-01", state="IA", policy_type="Life"))
    # 18 on 2026-01-01: eligible today, but not for an enrollment dated before the birthday
    members.upsert(PARTNER, EligibilityRecord(**young, date_of_birth="2008-01-01", state="IA", policy_type="Life"))
    with pytest.raises(NotEligible) as caught:
        service.enroll(PARTNER, "young", "2025-12-31")
    assert caught.value.details["rule"] == "age_18_plus"
    assert "2008" not in json.dumps(caught.value.details)
    assert service.enroll(PARTNER, "young", "2026-01-01").stage == "enrolled"
    new_yorker = {**row, "partner_member_id": "ny"}
    members.upsert(PARTNER, EligibilityRecord(**new_yorker, date_of_birth="1980-01-01", state="NY", policy_type="Life"))
    with pytest.raises(NotEligible):
        service.enroll(PARTNER, "ny", "2026-01-10")
    members.erase(PARTNER, PMID)
    assert service.get(PARTNER, PMID).stage is Stage.RESULT_DELIVERED
    with pytest.raises(PersonalDataErased):
        service.reveal_result(PARTNER, PMID)
    with pytest.raises(PersonalDataErased):
        service.reveal_actions(PARTNER, PMID)
    with pytest.raises(PersonalDataErased):  # would seal under a fresh key for an erased subject
        service.report_action(PARTNER, PMID, "alcohol_reduction")


def test_service_enroll_reads_the_sealed_date_of_birth(vault: PersonalDataVault) -> None:
    """Enrolling opens the member's sealed date of birth; an erased member cannot enroll (PersonalDataErased),
    whether the erasure was recorded or only the key was destroyed."""
    app = FakeApp()
    members = MemberService(app, vault, FixedClock())  # type: ignore[arg-type]
    service = EnrollmentService(app, vault)  # type: ignore[arg-type]
    row: dict[str, Any] = {"email": "a@b.co", "first_name": "A", "last_name": "B", "state": "IA", "policy_type": "Life"}
    for pmid in ("m1", "m2", "m3"):
        members.upsert(PARTNER, EligibilityRecord(partner_member_id=pmid, date_of_birth="1990-01-01", **row))
    members.erase(PARTNER, "m1")
    with pytest.raises(PersonalDataErased) as erased:
        service.enroll(PARTNER, "m1", "2026-01-10")
    assert erased.value.code == "PERSONAL_DATA_ERASED"
    assert erased.value.subject == member_subject(PARTNER, "m1")
    vault.erase(member_subject(PARTNER, "m2"))  # key destroyed, erasure not (yet) recorded
    with pytest.raises(PersonalDataErased):
        service.enroll(PARTNER, "m2", "2026-01-10")
    before = len(app.log)
    assert service.enroll(PARTNER, "m3", "2026-01-10").positions == (before,)
    [payload] = app.payloads()[before:]
    assert payload == {"partner_member_id": "m3", "enrollment_date": "2026-01-10", "state": "IA"}
