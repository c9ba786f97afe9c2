"""Members: sealed personal data, plain eligibility fields, no-op updates, erasure."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from typing import Any

import pytest

from ledger_core.engine.aggregate import derive_id
from ledger_core.engine.errors import InvalidCommand, InvalidTransition, NotFound
from ledger_core.members.errors import NotEligible, PersonalDataErased
from ledger_core.members.member import Member, MemberService, member_id, member_subject
from ledger_core.members.member_record import PERSONAL_FIELDS, EligibilityRecord, add_years, is_adult
from ledger_core.members.privacy import PersonalDataVault
from ledger_core.shared.vocabulary import PolicyType

from .fakes import FakeApp, FixedClock, replay, state

HEADER = {"originator_id", "originator_version", "originator_topic", "timestamp", "partner_id"}
DATE_LIKE = re.compile(r'"\d{4}-\d{2}-\d{2}')

PARTNER = "northwestern_mutual"
PLAIN = {"email": "john.doe@email.com", "first_name": "John", "last_name": "Doe", "date_of_birth": "1980-05-15"}
ROW = {"partner_member_id": "12345678", **PLAIN, "gender": "M", "state": "IA", "policy_type": "Life"}


def sealed_profile(vault: PersonalDataVault, plain: dict[str, str] = PLAIN, **overrides: Any) -> dict[str, Any]:
    subject = member_subject(PARTNER, "12345678")
    profile: dict[str, Any] = {
        "personal": {name: vault.seal(subject, name, plain[name]) for name in PERSONAL_FIELDS},
        "fingerprints": {name: vault.commit(subject, name, plain[name]) for name in PERSONAL_FIELDS},
        "gender": "M",
        "state": "IA",
        "policy_type": "Life",
        "policy_start_date": "2022-01-01",
    }
    return {**profile, **overrides}


def registered(vault: PersonalDataVault, **overrides: Any) -> Member:
    return Member.register(partner_id=PARTNER, partner_member_id="12345678", **sealed_profile(vault, **overrides))


def no_plaintext(events: list[Any]) -> None:
    text = json.dumps([vars(event) for event in events], default=str)
    for value in PLAIN.values():
        assert json.dumps(value) not in text  # the JSON string, not a base64 coincidence


def test_register(vault: PersonalDataVault) -> None:
    """Registration keeps plain fields plain and personal fields sealed; no plaintext in the event."""
    member = registered(vault)
    [event] = member.collect_events()
    assert isinstance(event, Member.Registered)
    assert type(event).EVENT_TYPE == "member.registered"
    assert member.id == derive_id("member", PARTNER, "12345678")
    assert (member.state, member.policy_type) == ("IA", PolicyType.LIFE)
    no_plaintext([event])
    assert set(vars(event)) - HEADER == {
        "partner_member_id",
        "personal",
        "fingerprints",
        "gender",
        "state",
        "policy_type",
        "policy_start_date",
        "email_opt_in",  # our extension: a plain boolean, not personal data (docs/feeds.md)
    }
    assert state(replay([event])) == state(member)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"state": "XX"}, "state"),
        ({"state": "ia"}, "state"),
        ({"policy_type": "life"}, "policy_type"),
        ({"gender": "X"}, "gender"),
        ({"policy_start_date": "2022-13-01"}, "policy_start_date"),
        ({"personal": {"email": "plaintext"}}, "personal"),
    ],
)
def test_register_validation(vault: PersonalDataVault, override: dict[str, Any], field: str) -> None:
    """Invalid plain fields raise InvalidCommand naming the field."""
    with pytest.raises(InvalidCommand) as caught:
        registered(vault, **override)
    assert caught.value.details["field"] == field


def test_personal_fields_must_be_sealed(vault: PersonalDataVault) -> None:
    """A plaintext value in place of a sealed one (or a non-commitment fingerprint) is refused."""
    profile = sealed_profile(vault)
    profile["personal"]["email"] = "john.doe@email.com"
    with pytest.raises(InvalidCommand) as caught:
        Member.register(partner_id=PARTNER, partner_member_id="12345678", **profile)
    assert caught.value.details == {"field": "email"}
    profile = sealed_profile(vault)
    profile["fingerprints"]["last_name"] = {"commitment": "Doe"}
    with pytest.raises(InvalidCommand):
        Member.register(partner_id=PARTNER, partner_member_id="12345678", **profile)


def test_optional_fields(vault: PersonalDataVault) -> None:
    """Gender and policy start date are optional (empty CSV cells count as absent for gender)."""
    member = registered(vault, gender="", policy_start_date=None)
    assert member.gender is None
    assert member.policy_start_date is None


def test_is_adult() -> None:
    """The 18+ rule holds from the 18th birthday inclusive (29 February: from 1 March)."""
    assert is_adult(date(1980, 5, 15), date(1998, 5, 15))
    assert not is_adult(date(1980, 5, 15), date(1998, 5, 14))
    assert not is_adult(date(2008, 2, 29), date(2026, 2, 28))
    assert is_adult(date(2008, 2, 29), date(2026, 3, 1))


def test_add_years_leap_day() -> None:
    """Someone born on 29 February turns 18 on 1 March in a common year."""
    assert add_years(date(2008, 2, 29), 18) == date(2026, 3, 1)
    assert add_years(date(2008, 2, 28), 18) == date(2026, 2, 28)


def test_identical_update_records_nothing(vault: PersonalDataVault) -> None:
    """Re-sealed identical data (new ciphertexts, same commitments) is not a change."""
    member = registered(vault)
    member.collect_events()
    original = dict(member.personal)
    assert member.update(**sealed_profile(vault)) == []
    assert member.collect_events() == []
    assert member.personal == original


def test_update_records_changes_and_keeps_unchanged_ciphertext(vault: PersonalDataVault) -> None:
    """Changed fields are listed; unchanged personal fields keep their old ciphertext."""
    member = registered(vault)
    member.collect_events()
    old_first_name = member.personal["first_name"]
    changed = member.update(**sealed_profile(vault, {**PLAIN, "email": "jd@new.example"}, state="TX"))
    assert changed == ["email", "state"]
    [event] = member.collect_events()
    assert isinstance(event, Member.Updated)
    assert type(event).EVENT_TYPE == "member.updated"
    assert event.changed == ["email", "state"]
    assert event.personal["first_name"] == old_first_name
    assert member.state == "TX"
    assert vault.open(member_subject(PARTNER, "12345678"), "email", member.personal["email"]) == "jd@new.example"
    no_plaintext([event])


def test_erasure(vault: PersonalDataVault) -> None:
    """mark_erased records once; an erased member cannot be updated."""
    member = registered(vault)
    member.collect_events()
    member.mark_erased(1)
    member.mark_erased(1)
    [event] = member.collect_events()
    assert isinstance(event, Member.PersonalDataErased)
    assert type(event).EVENT_TYPE == "member.personal_data_erased"
    assert event.keys_destroyed == 1
    with pytest.raises(InvalidTransition) as caught:
        member.update(**sealed_profile(vault))
    assert caught.value.details["current"] == "erased"


def test_eligibility_record_from_row() -> None:
    """CSV rows map to records; empty optional cells become None; missing required cells are errors."""
    record = EligibilityRecord.from_row({**ROW, "gender": "", "policy_start_date": "", "extra": "x"})
    assert record.gender is None
    assert record.policy_start_date is None
    assert record.state == "IA"
    with pytest.raises(InvalidCommand) as caught:
        EligibilityRecord.from_row({**ROW, "email": ""})
    assert caught.value.details["field"] == "email"


def test_service_upsert_reveal_erase(vault: PersonalDataVault) -> None:
    """The service seals, records nothing derived from the date of birth, treats unchanged rows as no-ops,
    and erases for good."""
    app = FakeApp()
    service = MemberService(app, vault, FixedClock())  # type: ignore[arg-type]
    created = service.upsert(PARTNER, EligibilityRecord.from_row(ROW))
    assert created.created
    assert created.positions == (0,)
    assert not hasattr(service.get(PARTNER, "12345678"), "adult_on")
    assert service.upsert(PARTNER, EligibilityRecord.from_row(ROW)).positions == ()
    updated = service.upsert(PARTNER, EligibilityRecord.from_row({**ROW, "last_name": "Doe-Smith"}))
    assert updated.changed == ("last_name",)
    assert service.reveal(PARTNER, "12345678")["last_name"] == "Doe-Smith"
    for payload in app.payloads():
        assert '"John"' not in json.dumps(payload)
        assert '"1980-05-15"' not in json.dumps(payload)
        assert not DATE_LIKE.search(json.dumps({k: v for k, v in payload.items() if k != "policy_start_date"}))
    erased = service.erase(PARTNER, "12345678")
    assert erased.keys_destroyed == 1
    assert erased.positions == (2,)
    with pytest.raises(PersonalDataErased):
        service.reveal(PARTNER, "12345678")
    with pytest.raises(InvalidTransition):
        service.upsert(PARTNER, EligibilityRecord.from_row(ROW))
    with pytest.raises(NotFound):
        service.erase(PARTNER, "unknown")


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"date_of_birth": "1980-02-30"}, "date_of_birth"),
        ({"date_of_birth": "2030-01-01"}, "date_of_birth"),
        ({"date_of_birth": "1890-01-01"}, "date_of_birth"),
        ({"first_name": "x" * 101}, "first_name"),
        ({"state": "XX"}, "state"),
    ],
)
def test_service_plaintext_validation(vault: PersonalDataVault, override: dict[str, str], field: str) -> None:
    """Bad personal values are refused by field name without echoing the value."""
    service = MemberService(FakeApp(), vault, FixedClock())  # type: ignore[arg-type]
    with pytest.raises(InvalidCommand) as caught:
        service.upsert(PARTNER, EligibilityRecord.from_row({**ROW, **override}))
    assert caught.value.details["field"] == field
    if field != "state":
        assert "value" not in caught.value.details


def test_service_refuses_under_18_without_echoing_the_date(vault: PersonalDataVault) -> None:
    """A row whose member is under 18 today is NotEligible (field date_of_birth, no value); nothing is recorded.

    The clock is 2026-01-15: born 2008-01-15 is 18 today, born 2008-01-16 turns 18 tomorrow.
    """
    app = FakeApp()
    clock = FixedClock()
    service = MemberService(app, vault, clock)  # type: ignore[arg-type]
    with pytest.raises(NotEligible) as caught:
        service.upsert(PARTNER, EligibilityRecord.from_row({**ROW, "date_of_birth": "2008-01-16"}))
    assert caught.value.code == "NOT_ELIGIBLE"
    assert caught.value.rule == "age_18_plus"
    assert caught.value.details["field"] == "date_of_birth"
    assert "2008" not in json.dumps(caught.value.details) + str(caught.value)
    assert app.log == []
    assert service.upsert(PARTNER, EligibilityRecord.from_row({**ROW, "date_of_birth": "2008-01-15"})).created
    with pytest.raises(NotEligible):  # an update that makes the member a minor is refused too
        service.upsert(PARTNER, EligibilityRecord.from_row({**ROW, "date_of_birth": "2010-01-01"}))
    clock.advance(timedelta(days=1))
    other = {**ROW, "partner_member_id": "other", "date_of_birth": "2008-01-16"}
    assert service.upsert(PARTNER, EligibilityRecord.from_row(other)).created
    assert len(app.log) == 2


def test_member_events_carry_no_date_derived_from_birth(vault: PersonalDataVault) -> None:
    """member.registered and member.updated payloads hold no plaintext date except policy_start_date."""
    app = FakeApp()
    service = MemberService(app, vault, FixedClock())  # type: ignore[arg-type]
    service.upsert(PARTNER, EligibilityRecord.from_row(ROW))
    service.upsert(PARTNER, EligibilityRecord.from_row({**ROW, "date_of_birth": "1981-06-16"}))
    assert app.types() == ["member.registered", "member.updated"]
    for payload in app.payloads():
        assert "adult_on" not in payload
        text = json.dumps({k: v for k, v in payload.items() if k != "policy_start_date"})
        assert not DATE_LIKE.search(text)
        for year in ("1980", "1981", "1998", "1999"):
            assert f'"{year}' not in text


def test_register_sealed_records_the_event_register_records(vault: PersonalDataVault, clock: FixedClock) -> None:
    """The bulk path's ``register_sealed`` (values from ``check`` and ``seal_many``) records the same event payload
    and reaches the same state (after replay through the mapper) as ``register`` given the same values."""
    checked = MemberService(FakeApp(), vault, clock).check(EligibilityRecord.from_row(ROW))  # type: ignore[arg-type]
    subject = member_subject(PARTNER, checked.partner_member_id)
    sealed = vault.seal_many({subject: checked.personal})[subject]
    bulk = Member.register_sealed(
        member_id(PARTNER, checked.partner_member_id), PARTNER, checked.partner_member_id, sealed, checked.plain
    )
    single = Member.register(
        partner_id=PARTNER,
        partner_member_id=checked.partner_member_id,
        personal=sealed[0],
        fingerprints=sealed[1],
        **checked.plain,
    )
    (bulk_event,), (single_event,) = bulk.collect_events(), single.collect_events()
    assert type(bulk_event) is type(single_event)
    assert bulk_event.originator_id == single_event.originator_id
    assert {k: v for k, v in vars(bulk_event).items() if k != "timestamp"} == {
        k: v for k, v in vars(single_event).items() if k != "timestamp"
    }
    assert state(replay([bulk_event])) == state(replay([single_event]))
