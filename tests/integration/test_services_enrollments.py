"""Enrollment service contract on real storage (SQLite and PostgreSQL): the lifecycle, the 18+ rule checked on
the sealed date of birth, restricted states, and the result and health actions sealed in the log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.clock import SteppingClock

from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from ledger_core.engine.canonical import canonical_json
from ledger_core.engine.errors import InvalidCommand, InvalidTransition, NotFound
from ledger_core.ledger import Ledger
from ledger_core.members.enrollments import Stage, enrollment_id
from ledger_core.members.errors import NotEligible, PersonalDataErased
from ledger_core.members.member_record import EligibilityRecord

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
PARTNER = "northwestern_mutual"
PMID = "12345678"


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> StorageConfig:
    return StorageConfig(tmp_path, database_url)


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock(NOW)


@pytest.fixture
def ledger(config: StorageConfig, clock: SteppingClock) -> Iterator[Ledger]:
    with open_ledger(config, clock=clock, restricted_states={"NY"}) as opened:
        yield opened


def add_member(ledger: Ledger, pmid: str = PMID, date_of_birth: str = "1980-05-15", state: str = "IA") -> None:
    ledger.members.upsert(
        PARTNER,
        EligibilityRecord(
            partner_member_id=pmid,
            email=f"{pmid}@example.org",
            first_name="Alex",
            last_name="Member",
            date_of_birth=date_of_birth,
            state=state,
            policy_type="Health",
        ),
    )


def log_text(ledger: Ledger) -> bytes:
    return b"\n".join(canonical_json(envelope.payload) for envelope in ledger.entries())


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"sealed"} and value["sealed"]["alg"] == "A256GCM"


def test_full_lifecycle_sealed_result_and_reopen(ledger: Ledger, config: StorageConfig, clock: SteppingClock) -> None:
    """enrolled -> kit -> sample -> result, then counseling, NPS and actions; result and actions sealed."""
    add_member(ledger)
    first = ledger.enrollments.enroll(PARTNER, PMID, "2026-01-10")
    assert (first.stage, first.positions, first.enrollment_id) == ("enrolled", (1,), enrollment_id(PARTNER, PMID))
    assert ledger.enrollments.enroll(PARTNER, PMID, "2026-01-10").positions == ()
    with pytest.raises(InvalidTransition):
        ledger.enrollments.enroll(PARTNER, PMID, "2026-01-11")
    with pytest.raises(InvalidTransition):
        ledger.enrollments.receive_sample(PARTNER, PMID, "2026-01-12", "2026-01-20")
    assert ledger.enrollments.order_kit(PARTNER, PMID, "2026-01-11").stage == "kit_ordered"
    assert ledger.enrollments.order_kit(PARTNER, PMID, "2026-01-11").positions == ()
    with pytest.raises(InvalidCommand) as early:
        ledger.enrollments.receive_sample(PARTNER, PMID, "2026-01-10", "2026-01-20")
    assert early.value.details["not_before"] == "2026-01-11"
    ledger.enrollments.receive_sample(PARTNER, PMID, "2026-01-15", "2026-01-22")
    assert ledger.enrollments.reveal_result(PARTNER, PMID) is None
    with pytest.raises(InvalidCommand):
        ledger.enrollments.deliver_result(PARTNER, PMID, "2026-01-22", "QQ")
    assert ledger.enrollments.deliver_result(PARTNER, PMID, "2026-01-22", "MZ").stage == "result_delivered"
    with pytest.raises(InvalidTransition):
        ledger.enrollments.deliver_result(PARTNER, PMID, "2026-01-22", "MZ")
    ledger.enrollments.schedule_counseling(PARTNER, PMID, "2026-01-29T15:00:00Z")
    ledger.enrollments.record_nps(PARTNER, PMID, 9, "overall")
    ledger.enrollments.record_nps(PARTNER, PMID, 10, "counseling")
    with pytest.raises(InvalidTransition):
        ledger.enrollments.record_nps(PARTNER, PMID, 3, "overall")
    ledger.enrollments.report_action(PARTNER, PMID, "family_testing")
    ledger.enrollments.report_action(PARTNER, PMID, "smoking_cessation")
    assert ledger.enrollments.report_action(PARTNER, PMID, "family_testing").positions == ()

    history = ledger.history(enrollment_id(PARTNER, PMID))
    assert [e.type for e in history] == [
        "enrollment.enrolled",
        "enrollment.kit_ordered",
        "enrollment.sample_received",
        "enrollment.result_delivered",
        "enrollment.counseling_scheduled",
        "enrollment.nps_recorded",
        "enrollment.nps_recorded",
        "enrollment.action_reported",
        "enrollment.action_reported",
    ]
    assert history[0].payload == {"partner_member_id": PMID, "enrollment_date": "2026-01-10", "state": "IA"}
    assert is_sealed(history[3].payload["result_type"])
    assert all(is_sealed(e.payload["action"]) for e in history[7:])
    text = log_text(ledger)
    for plaintext in (b'"MZ"', b"family_testing", b"smoking_cessation", b'"1980-05-15"', b'"1998-05-15"'):
        assert plaintext not in text
    assert ledger.enrollments.reveal_result(PARTNER, PMID) == "MZ"
    assert ledger.enrollments.reveal_actions(PARTNER, PMID) == ["family_testing", "smoking_cessation"]

    with open_ledger(config, clock=clock) as reopened:
        enrollment = reopened.enrollments.get(PARTNER, PMID)
        assert enrollment.stage is Stage.RESULT_DELIVERED
        assert enrollment.counseling_at == "2026-01-29T15:00:00.000000Z"
        assert len(enrollment.sealed_actions) == 2
        assert reopened.enrollments.reveal_result(PARTNER, PMID) == "MZ"
        assert reopened.enrollments.report_action(PARTNER, PMID, "smoking_cessation").positions == ()
        reopened.verify()


def test_age_rule_uses_the_sealed_date_of_birth(ledger: Ledger) -> None:
    """18 on 2026-01-01: eligible at upsert (today 2026-01-15) but not for an enrollment dated before that."""
    add_member(ledger, "young", date_of_birth="2008-01-01")
    size = ledger.size()
    with pytest.raises(NotEligible) as caught:
        ledger.enrollments.enroll(PARTNER, "young", "2025-12-31")
    assert caught.value.details["rule"] == "age_18_plus"
    assert "2008" not in str(caught.value.details)
    assert ledger.size() == size
    assert ledger.enrollments.enroll(PARTNER, "young", "2026-01-01").stage == "enrolled"
    with pytest.raises(NotEligible):  # under 18 today: refused at the eligibility upsert already
        add_member(ledger, "younger", date_of_birth="2008-06-01")
    with pytest.raises(NotFound):
        ledger.enrollments.enroll(PARTNER, "younger", "2026-07-01")


def test_restricted_state_erased_and_unknown_members(ledger: Ledger) -> None:
    """Restricted state: NotEligible(state_allowed); erased member: PersonalDataErased; unknown: NotFound."""
    add_member(ledger, "ny", state="NY")
    with pytest.raises(NotEligible) as restricted:
        ledger.enrollments.enroll(PARTNER, "ny", "2026-01-10")
    assert restricted.value.details["rule"] == "state_allowed"
    add_member(ledger, "gone")
    ledger.members.erase(PARTNER, "gone")
    with pytest.raises(PersonalDataErased):
        ledger.enrollments.enroll(PARTNER, "gone", "2026-01-10")
    with pytest.raises(NotFound):
        ledger.enrollments.enroll(PARTNER, "nobody", "2026-01-10")
    with pytest.raises(NotFound):
        ledger.enrollments.order_kit(PARTNER, "nobody", "2026-01-10")
    add_member(ledger)
    ledger.enrollments.enroll(PARTNER, PMID, "2026-01-10")
    ledger.enrollments.order_kit(PARTNER, PMID, "2026-01-11")
    ledger.enrollments.receive_sample(PARTNER, PMID, "2026-01-12", "2026-01-14")
    ledger.members.erase(PARTNER, PMID)
    size = ledger.size()
    with pytest.raises(PersonalDataErased):  # would seal the result under a fresh key for an erased person
        ledger.enrollments.deliver_result(PARTNER, PMID, "2026-01-14", "MM")
    assert ledger.size() == size
    assert ledger.enrollments.get(PARTNER, PMID).stage is Stage.SAMPLE_RECEIVED
    ledger.verify()
