"""``PersonalDataVault.seal_fields``: one key lookup for a whole record, the same values as one call per field."""

from __future__ import annotations

import hmac

import pytest
from unit.domain.fakes import ErasingKeyStore, InMemoryKeyStore

from ledger_core.engine.errors import InvalidCommand
from ledger_core.members.privacy import HmacSha256, PersonalDataVault, check_sealed

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


def test_seal_many_opens_and_commits_like_the_single_calls() -> None:
    """seal_many (fields checked once per call, one HMAC setup per subject) gives values that open to their
    plaintext and commitments equal to commit()'s, for every subject; a bad label is refused before any key."""
    keys = CountingKeyStore()
    vault = PersonalDataVault(keys)
    subjects = {f"member:{index}": {**VALUES, "email": f"ann.{index}@example.org"} for index in range(3)}
    sealed = vault.seal_many(subjects)
    assert sorted(sealed) == sorted(subjects)
    for subject, values in subjects.items():
        values_sealed, commitments = sealed[subject]
        for field, plaintext in values.items():
            assert vault.open(subject, field, values_sealed[field]) == plaintext
            assert commitments[field] == vault.commit(subject, field, plaintext)
    lookups = keys.lookups
    with pytest.raises(InvalidCommand):
        vault.seal_many({"member:9": {"bad\x1ffield": "x"}})
    assert keys.lookups == lookups


@pytest.mark.parametrize("key_size", [0, 16, 32, 64, 65, 200])
def test_hmac_sha256_is_rfc_2104_hmac(key_size: int) -> None:
    """HmacSha256 (pads hashed once per key) equals the standard library's HMAC-SHA256, short and long keys."""
    key = bytes(index % 251 for index in range(key_size))
    mac = HmacSha256(key)
    for message in (b"", b"email\x1fann@example.org", bytes(range(256)) * 3):
        assert mac.hexdigest(message) == hmac.digest(key, message, "sha256").hex()


def test_seal_many_gives_every_value_its_own_nonce_around_an_erased_subject() -> None:
    """The batch's nonces come from one random read and one base64 encoding: each value still has its own
    12-byte nonce (no two alike), opens to its plaintext, and an erased subject in the middle shifts nothing."""
    keys = ErasingKeyStore()
    vault = PersonalDataVault(keys)
    vault.seal_fields("member:1", VALUES)
    vault.erase("member:1")
    subjects = {f"member:{index}": {**VALUES, "first_name": f"Ann{index}"} for index in range(3)}
    sealed = vault.seal_many(subjects)
    assert sorted(sealed) == ["member:0", "member:2"]
    nonces = [value["sealed"]["nonce"] for fields, _ in sealed.values() for value in fields.values()]
    assert len(set(nonces)) == len(nonces) == 6
    assert all(len(nonce) == 16 for nonce in nonces)  # 12 bytes, unpadded base64url
    for subject in ("member:0", "member:2"):
        for field, plaintext in subjects[subject].items():
            assert vault.open(subject, field, sealed[subject][0][field]) == plaintext
