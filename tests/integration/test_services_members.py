"""Member service contract on real storage (SQLite and PostgreSQL): eligibility upserts, reveal, erasure.

The erasure test searches the whole database for the member's plaintext and data key: the SQLite file and
its WAL byte by byte, and on PostgreSQL every row of every table in the test's schema as text (bytea shows
as hex there, so every needle is searched raw and hex-encoded).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.clock import SteppingClock
from support.databases import execute, key_store_url
from support.storage_dump import database_dump, found

from adapters.opening import open_ledger
from adapters.storage import StorageConfig
from ledger_core.engine.errors import InvalidCommand, InvalidTransition, NotFound
from ledger_core.ledger import Ledger
from ledger_core.members.errors import NotEligible, PersonalDataErased
from ledger_core.members.member import member_id
from ledger_core.members.member_record import EligibilityRecord

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
PARTNER = "northwestern_mutual"
PMID = "pmid-7f3a9c"
PLAIN = {
    "email": "zebulon.quixoteworth@example.org",
    "first_name": "Zebulon",
    "last_name": "Quixoteworth",
    "date_of_birth": "1979-11-23",
}
ROW = {"partner_member_id": PMID, **PLAIN, "gender": "O", "state": "IA", "policy_type": "Life"}


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock(NOW)


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> StorageConfig:
    return StorageConfig(tmp_path, database_url)


@pytest.fixture
def ledger(config: StorageConfig, clock: SteppingClock) -> Iterator[Ledger]:
    with open_ledger(config, clock=clock) as opened:
        yield opened


def record(**overrides: str) -> EligibilityRecord:
    return EligibilityRecord.from_row({**ROW, **overrides})


def test_upsert_noop_update_reveal_and_reopen(ledger: Ledger, config: StorageConfig, clock: SteppingClock) -> None:
    """Register, an unchanged row records nothing, a changed row records the changed fields; all survive reopen."""
    created = ledger.members.upsert(PARTNER, record())
    assert created.created
    assert created.positions == (0,)
    assert created.member_id == member_id(PARTNER, PMID)
    again = ledger.members.upsert(PARTNER, record())
    assert (again.created, again.positions, again.changed) == (False, (), ())
    assert ledger.size() == 1
    updated = ledger.members.upsert(PARTNER, record(last_name="Quixoteworth-Smythe", state="TX"))
    assert updated.changed == ("last_name", "state")
    assert updated.positions == (1,)
    assert ledger.members.reveal(PARTNER, PMID) == {**PLAIN, "last_name": "Quixoteworth-Smythe"}
    [registered, changed] = ledger.history(created.member_id)
    assert registered.type == "member.registered"
    assert set(registered.payload) == {
        "partner_member_id",
        "personal",
        "fingerprints",
        "gender",
        "state",
        "policy_type",
        "policy_start_date",
        "email_opt_in",  # our extension: a plain boolean (docs/feeds.md)
    }
    assert changed.type == "member.updated"
    assert changed.payload["changed"] == ["last_name", "state"]
    with open_ledger(config, clock=clock) as reopened:
        member = reopened.members.get(PARTNER, PMID)
        assert (member.state, member.version, member.erased) == ("TX", 2, False)
        assert reopened.members.reveal(PARTNER, PMID)["last_name"] == "Quixoteworth-Smythe"
        assert reopened.members.upsert(PARTNER, record(last_name="Quixoteworth-Smythe", state="TX")).positions == ()
        reopened.verify()


def test_upsert_refusals_record_nothing_and_echo_nothing(ledger: Ledger) -> None:
    """Bad plaintext is InvalidCommand by field; under 18 today is NotEligible (age_18_plus); no value echoed."""
    with pytest.raises(InvalidCommand) as bad_email:
        ledger.members.upsert(PARTNER, record(email="zebulon-at-example"))
    assert bad_email.value.details == {"field": "email"}
    with pytest.raises(InvalidCommand) as bad_date:
        ledger.members.upsert(PARTNER, record(date_of_birth="1979-02-30"))
    assert bad_date.value.details == {"field": "date_of_birth"}
    with pytest.raises(NotEligible) as minor:  # 18 on 2026-01-16, the day after the clock's today
        ledger.members.upsert(PARTNER, record(date_of_birth="2008-01-16"))
    assert minor.value.rule == "age_18_plus"
    assert minor.value.details["field"] == "date_of_birth"
    assert "2008" not in json.dumps(minor.value.details) + str(minor.value)
    with pytest.raises(InvalidCommand) as bad_state:
        ledger.members.upsert(PARTNER, record(state="XX"))
    assert bad_state.value.details["field"] == "state"
    assert ledger.size() == 0
    assert ledger.members.upsert(PARTNER, record(date_of_birth="2008-01-15")).created  # 18 today
    with pytest.raises(NotFound):
        ledger.members.get(PARTNER, "nobody")
    with pytest.raises(NotFound):
        ledger.members.reveal(PARTNER, "nobody")


def test_erase_leaves_no_plaintext_anywhere_and_the_log_verifies(
    ledger: Ledger, config: StorageConfig, clock: SteppingClock
) -> None:
    """After erasure the member's plaintext and data key are nowhere in the database; every check still passes."""
    other = {**ROW, "partner_member_id": "pmid-keep", "email": "keeper@example.org", "first_name": "Keeper"}
    ledger.members.upsert(PARTNER, record())
    ledger.members.upsert(PARTNER, EligibilityRecord.from_row(other))
    ledger.members.upsert(PARTNER, record(first_name="Zebediah"))  # a second ciphertext of a first name
    ledger.enrollments.enroll(PARTNER, PMID, "2026-01-10")
    ledger.enrollments.order_kit(PARTNER, PMID, "2026-01-11")
    ledger.enrollments.receive_sample(PARTNER, PMID, "2026-01-12", "2026-01-14")
    ledger.enrollments.deliver_result(PARTNER, PMID, "2026-01-14", "ZZ")
    subject = f"member:{member_id(PARTNER, PMID)}"
    [(wrapped,)] = execute(
        key_store_url(config.database_url or ""), "SELECT wrapped FROM subject_keys WHERE subject = ?", (subject,)
    )
    before = database_dump(config)
    assert found(before, PMID.encode())  # the search sees the data (positive controls)
    assert found(before, bytes(wrapped))
    needles = [value.encode() for value in (*PLAIN.values(), "Zebediah", "1997-11-23")] + [b'"ZZ"']
    for needle in needles:
        assert not found(before, needle), needle  # never in plaintext, even before erasure

    erased = ledger.members.erase(PARTNER, PMID)
    assert erased.keys_destroyed == 1
    assert len(erased.positions) == 1
    with pytest.raises(PersonalDataErased) as caught:
        ledger.members.reveal(PARTNER, PMID)
    assert caught.value.subject == subject
    with pytest.raises(PersonalDataErased):
        ledger.enrollments.reveal_result(PARTNER, PMID)
    with pytest.raises(InvalidTransition):
        ledger.members.upsert(PARTNER, record())
    assert ledger.members.erase(PARTNER, PMID).positions == ()  # idempotent: nothing new recorded
    assert ledger.members.reveal(PARTNER, "pmid-keep")["email"] == "keeper@example.org"

    after = database_dump(config)
    assert found(after, PMID.encode())
    assert not found(after, bytes(wrapped)), "the erased member's wrapped data key is still stored"
    for needle in needles:
        assert not found(after, needle), needle
    summary = ledger.verify()
    assert summary.size == ledger.size() == 8

    with open_ledger(config, clock=clock) as reopened:
        assert reopened.members.get(PARTNER, PMID).erased
        with pytest.raises(PersonalDataErased):
            reopened.members.reveal(PARTNER, PMID)
        assert reopened.verify().head_leaf_hash == summary.head_leaf_hash
    closed = database_dump(config)
    assert not found(closed, bytes(wrapped))
    for needle in needles:
        assert not found(closed, needle), needle
