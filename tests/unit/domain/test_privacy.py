"""Crypto-shredding: sealed values, commitments and erasure."""

from __future__ import annotations

import base64
import json

import pytest

from ledger_core.engine.errors import InvalidCommand
from ledger_core.members.errors import PersonalDataErased, SealedValueInvalid
from ledger_core.members.privacy import PersonalDataVault, check_commitment, check_sealed

from .fakes import InMemoryKeyStore

SUBJECT = "member:1"


def test_seal_open_round_trip(vault: PersonalDataVault) -> None:
    """A sealed value opens to its plaintext and holds no plaintext itself."""
    sealed = vault.seal(SUBJECT, "email", "john.doe@email.com")
    assert set(sealed["sealed"]) == {"alg", "kid", "nonce", "ct"}
    assert sealed["sealed"]["alg"] == "A256GCM"
    assert '"john.doe@email.com"' not in json.dumps(sealed)
    assert check_sealed(sealed, "email") == sealed
    assert vault.open(SUBJECT, "email", sealed) == "john.doe@email.com"


def test_nonces_are_fresh(vault: PersonalDataVault) -> None:
    """Sealing the same value twice gives different ciphertexts (random 96-bit nonces)."""
    first = vault.seal(SUBJECT, "email", "a@b.co")["sealed"]
    second = vault.seal(SUBJECT, "email", "a@b.co")["sealed"]
    assert first["nonce"] != second["nonce"]
    assert first["ct"] != second["ct"]


def test_ciphertext_is_bound_to_subject_and_field(vault: PersonalDataVault) -> None:
    """A ciphertext moved to another field or person fails authentication (AAD)."""
    sealed = vault.seal(SUBJECT, "first_name", "John")
    with pytest.raises(SealedValueInvalid) as caught:
        vault.open(SUBJECT, "last_name", sealed)
    assert caught.value.details == {"subject": SUBJECT, "field": "last_name"}
    with pytest.raises(SealedValueInvalid):
        vault.open("member:2", "first_name", sealed)


def test_tampered_ciphertext_fails(vault: PersonalDataVault) -> None:
    """Flipping one ciphertext bit is detected."""
    sealed = vault.seal(SUBJECT, "email", "x@y.co")
    raw = bytearray(base64.urlsafe_b64decode(sealed["sealed"]["ct"] + "=="))
    raw[0] ^= 1
    sealed["sealed"]["ct"] = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(SealedValueInvalid):
        vault.open(SUBJECT, "email", sealed)


def test_erase_destroys_keys(vault: PersonalDataVault, key_store: InMemoryKeyStore) -> None:
    """After erase, opening raises PersonalDataErased naming the subject; other subjects are untouched."""
    sealed = vault.seal(SUBJECT, "email", "x@y.co")
    other = vault.seal("member:2", "email", "z@y.co")
    assert vault.erase(SUBJECT) == 1
    with pytest.raises(PersonalDataErased) as caught:
        vault.open(SUBJECT, "email", sealed)
    assert caught.value.subject == SUBJECT
    assert vault.open("member:2", "email", other) == "z@y.co"
    assert vault.erase(SUBJECT) == 0


def test_commitments(vault: PersonalDataVault) -> None:
    """Commitments are deterministic per subject key, differ by field and subject, and are hex."""
    first = vault.commit(SUBJECT, "email", "x@y.co")
    assert first == vault.commit(SUBJECT, "email", "x@y.co")
    assert check_commitment(first, "email") == first
    assert len(first["commitment"]) == 64
    assert first != vault.commit(SUBJECT, "first_name", "x@y.co")
    assert first != vault.commit("member:2", "email", "x@y.co")
    assert first != vault.commit(SUBJECT, "email", "x@y.com")


def test_commitment_unlinkable_after_erasure(vault: PersonalDataVault) -> None:
    """Once the key is destroyed the same value no longer yields the old commitment."""
    before = vault.commit(SUBJECT, "email", "x@y.co")
    vault.erase(SUBJECT)
    assert vault.commit(SUBJECT, "email", "x@y.co") != before


def test_commitment_separates_field_and_value(vault: PersonalDataVault) -> None:
    """field || 0x1f || value: a field name cannot contain the separator, so pairs never collide."""
    with pytest.raises(InvalidCommand):
        vault.commit(SUBJECT, "a\x1fb", "c")
    with pytest.raises(InvalidCommand):
        vault.seal("a\x1fb", "f", "c")


def test_shape_checks() -> None:
    """Malformed sealed values and commitments are refused without any key."""
    good = {"sealed": {"alg": "A256GCM", "kid": "k1", "nonce": "A" * 16, "ct": "B" * 24}}
    assert check_sealed(good, "f") == good
    bad_values: list[object] = [
        "plaintext",
        {"sealed": {**good["sealed"], "alg": "none"}},
        {"sealed": {**good["sealed"], "nonce": "A" * 8}},
        {"sealed": {**good["sealed"], "ct": "+/=="}},
        {"sealed": {**good["sealed"], "extra": 1}},
        {**good, "commitment": "0" * 64},
    ]
    for bad in bad_values:
        with pytest.raises(InvalidCommand):
            check_sealed(bad, "f")
    for bad in ({"commitment": "A" * 64}, {"commitment": "0" * 63}, "0" * 64, {"commitment": "0" * 64, "x": 1}):
        with pytest.raises(InvalidCommand):
            check_commitment(bad, "f")


def test_plaintext_limits(vault: PersonalDataVault) -> None:
    """Plaintext must be a string of at most 4 KiB."""
    with pytest.raises(InvalidCommand):
        vault.seal(SUBJECT, "f", "x" * 4097)
    with pytest.raises(InvalidCommand):
        vault.seal(SUBJECT, "f", 12)  # type: ignore[arg-type]
