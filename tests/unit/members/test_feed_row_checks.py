"""An eligibility batch checked in one place and sealed in another (:func:`check_batch`, :func:`seal_checked`)
gives what :func:`prepare_batch` gives in one step: the same problems, places and records, whose sealed fields
open to the rows' values."""

from __future__ import annotations

import pickle
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st
from unit.domain.fakes import InMemoryKeyStore

from ledger_core.members.feeds.parsing import RawRecord
from ledger_core.members.feeds.preparation import CheckedBatch, RowBatch, check_batch, prepare_batch, seal_checked
from ledger_core.members.member_batches import registration_fields
from ledger_core.members.member_record import CheckedRecord
from ledger_core.members.privacy import PersonalDataVault

ON = date(2026, 12, 7)
VALID = {
    "email": "a@example.org",
    "first_name": "Ann",
    "last_name": "Lee",
    "date_of_birth": "1980-02-02",
    "state": "IA",
    "policy_type": "Life",
}
BROKEN = {
    "state": {"state": "Iowa"},
    "minor": {"date_of_birth": "2015-01-01"},
    "date": {"date_of_birth": "02/02/1980"},
    "missing": {"email": ""},
    "gender": {"gender": "X"},
}
"""How a row may be wrong, each a change to :data:`VALID`."""


def _batch(kinds: list[str | None]) -> RowBatch:
    """One row per kind: valid (None) or broken the named way."""
    rows = [
        RawRecord(row, row + 1, {"partner_member_id": f"m{row}", **VALID, **(BROKEN[kind] if kind else {})})
        for row, kind in enumerate(kinds, start=1)
    ]
    return RowBatch(rows, [], len(kinds))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([None, *BROKEN]), min_size=1, max_size=12))
def test_checking_then_sealing_is_preparing(kinds: list[str | None]) -> None:
    vault = PersonalDataVault(InMemoryKeyStore())
    batch = _batch(kinds)
    whole = prepare_batch(vault, "acme", ON, batch)
    checked = pickle.loads(pickle.dumps(check_batch(ON, batch)))  # it crosses to a worker process
    split = seal_checked(vault, "acme", checked)
    assert isinstance(checked, CheckedBatch)
    assert (split.places, split.problems, split.through) == (whole.places, whole.problems, whole.through)
    assert [record.partner_member_id for record in split.records] == [
        f"m{row}" for row, kind in enumerate(kinds, 1) if kind is None
    ]
    assert [record.member_id for record in split.records] == [record.member_id for record in whole.records]
    assert prepare_batch(vault, "acme", ON, checked).places == whole.places  # a checked batch is not checked again
    for record in split.records:
        assert record.registration is not None
        (sealed, _commitments), plain = registration_fields(record.registration)
        subject = f"member:{record.member_id}"
        assert {field: vault.open(subject, field, value) for field, value in sealed.items()} == {
            "email": "a@example.org",
            "first_name": "Ann",
            "last_name": "Lee",
            "date_of_birth": "1980-02-02",
        }
        assert plain["state"] == "IA"


def test_a_checked_record_pickles_as_its_fields() -> None:
    record = CheckedRecord("m1", {"email": "a@example.org"}, {"state": "IA", "email_opt_in": False})
    assert pickle.loads(pickle.dumps(record)) == record
    assert CheckedRecord.__reduce__(record) == (CheckedRecord, ("m1", record.personal, record.plain))
