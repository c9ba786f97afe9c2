"""``PersonalDataVault.seal_fields``: one key lookup for a whole record, the same values as one call per field."""

from __future__ import annotations

import pytest
from unit.domain.fakes import InMemoryKeyStore

from ledger_core.engine.errors import InvalidCommand
from ledger_core.members.privacy import PersonalDataVault, check_sealed

VALUES = {"email": "ann@example.org", "first_name": "Ann", "date_of_birth": "1980-02-02"}


class CountingKeyStore(InMemoryKeyStore):
    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    def get_or_create(self, subject: str) -> tuple[str, bytes]:
        self.lookups += 1
        return super().get_or_create(subject)


def test_seal_fields_opens_like_seal_and_commits_like_commit() -> None:
    """Every sealed value opens to its plaintext; commitments equal commit()'s; one key lookup in all."""
    keys = CountingKeyStore()
    vault = PersonalDataVault(keys)
    sealed, commitments = vault.seal_fields("member:1", VALUES)
    assert keys.lookups == 1
    for field, plaintext in VALUES.items():
        check_sealed(sealed[field], field)
        assert vault.open("member:1", field, sealed[field]) == plaintext
        assert commitments[field] == vault.commit("member:1", field, plaintext)


def test_seal_fields_checks_every_field_before_touching_keys() -> None:
    """A bad label or value is refused before a key is created for the subject."""
    keys = CountingKeyStore()
    vault = PersonalDataVault(keys)
    with pytest.raises(InvalidCommand):
        vault.seal_fields("member:1", {"email": "x" * 5000})
    with pytest.raises(InvalidCommand):
        vault.seal_fields("member:1", {"bad\x1ffield": "x"})
    assert keys.lookups == 0
