"""Sealed records of the eligibility bulk path: built in a worker, pickled back to the loader, planned there."""

from __future__ import annotations

import pickle
from datetime import date

from unit.domain.fakes import ErasingKeyStore

from ledger_core.engine.envelope import CanonicalPayload, payload_value
from ledger_core.members.member import member_id
from ledger_core.members.member_batches import MemberBatches, registration_payload
from ledger_core.members.member_record import EligibilityRecord, check_record
from ledger_core.members.privacy import PersonalDataVault

ON = date(2026, 12, 7)


def _record(number: int, *, opt_in: bool) -> EligibilityRecord:
    return EligibilityRecord(
        f"m{number}", f"m{number}@example.org", "Ann", "Lee", "1980-02-02", "IA", "Life", "F", None, opt_in
    )


def test_sealed_records_survive_pickling_and_give_back_their_fields() -> None:
    """The pickled record equals the original (its draft's payload as canonical bytes), its fields are those
    its registration payload was built from, and an erased member's record crosses with no fields."""
    keys = ErasingKeyStore()
    vault = PersonalDataVault(keys)
    checked = [check_record(_record(number, opt_in=number == 1), ON) for number in range(3)]
    keys.destroy(f"member:{member_id('acme', 'm2')}")
    records = MemberBatches.seal_records(vault, "acme", checked)
    assert pickle.loads(pickle.dumps(records)) == records
    flagged = [record._replace(key_created=True) for record in records]  # as a batch key store reports it
    assert pickle.loads(pickle.dumps(flagged)) == flagged
    assert [record.email_opt_in for record in records] == [False, True, False]
    for record, source in zip(records[:2], checked[:2], strict=True):
        assert record.member_id == member_id("acme", source.partner_member_id)
        assert record.registration is not None
        assert isinstance(record.registration.payload, CanonicalPayload)
        fields = record.fields()
        assert fields is not None
        assert fields[1] == source.plain
        expected = registration_payload(source.partner_member_id, fields[0], source.plain)
        assert payload_value(record.registration.payload) == expected
        subject = f"member:{record.member_id}"
        assert {name: vault.open(subject, name, fields[0][0][name]) for name in source.personal} == source.personal
    assert records[2].registration is None
    assert records[2].fields() is None
