"""Real OpenPGP keys (Sequoia): decrypt and verify inbound files, encrypt and sign outbound ones."""

from __future__ import annotations

from pathlib import Path

import pysequoia
import pytest

from adapters.feed_exchange import PgpFailure, PgpRejected
from adapters.feeds.openpgp import (
    certificate_of,
    decrypt_inbound,
    encrypt_outbound,
    fingerprint_of,
    generate_secret_key,
)

CSV = b"partner_member_id,email\n" + b"".join(b"%d,m%d@example.com\n" % (i, i) for i in range(500))


@pytest.fixture(scope="module")
def keys() -> dict[str, bytes]:
    return {name: generate_secret_key(f"{name} <{name}@example.com>") for name in ("ledger", "partner", "mallory")}


def _sealed(tmp_path: Path, keys: dict[str, bytes], signer: str | None, data: bytes = CSV) -> Path:
    recipient = pysequoia.Cert.from_bytes(certificate_of(keys["ledger"]))
    signing = None if signer is None else pysequoia.Tsk.from_bytes(keys[signer]).signer()
    path = tmp_path / "eligibility_acme_20260115.csv.pgp"
    path.write_bytes(pysequoia.encrypt(data, recipients=[recipient], signer=signing, armor=False))
    return path


def test_signed_file_decrypts_and_verifies(tmp_path: Path, keys: dict[str, bytes]) -> None:
    source = _sealed(tmp_path, keys, "partner")
    target = tmp_path / "work" / "plain.csv"
    signers = decrypt_inbound(source, target, keys["ledger"], certificate_of(keys["partner"]), require_signature=True)
    assert target.read_bytes() == CSV
    assert signers == [fingerprint_of(keys["partner"])]
    assert target.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("damage", "signer", "reason"),
    [
        ("truncate", "partner", PgpFailure.DAMAGED),
        ("flip", "partner", PgpFailure.DAMAGED),
        ("none", "mallory", PgpFailure.BAD_SIGNATURE),
        ("none", None, PgpFailure.BAD_SIGNATURE),
        ("garbage", "partner", PgpFailure.DAMAGED),
    ],
)
def test_damaged_or_wrongly_signed_files_are_rejected_whole(
    tmp_path: Path, keys: dict[str, bytes], damage: str, signer: str | None, reason: PgpFailure
) -> None:
    source = _sealed(tmp_path, keys, signer)
    data = source.read_bytes()
    if damage == "truncate":
        source.write_bytes(data[: len(data) - 40])
    elif damage == "flip":
        flipped = bytearray(data)
        flipped[len(flipped) // 2] ^= 0x01
        source.write_bytes(bytes(flipped))
    elif damage == "garbage":
        source.write_bytes(CSV)
    target = tmp_path / "work" / "plain.csv"
    with pytest.raises(PgpRejected) as rejected:
        decrypt_inbound(source, target, keys["ledger"], certificate_of(keys["partner"]), require_signature=True)
    assert rejected.value.reason is reason
    assert not target.exists()  # nothing of it reaches the loader


def test_not_encrypted_to_us(tmp_path: Path, keys: dict[str, bytes]) -> None:
    source = tmp_path / "x.csv.pgp"
    other = pysequoia.Cert.from_bytes(certificate_of(keys["mallory"]))
    source.write_bytes(pysequoia.encrypt(CSV, recipients=[other]))
    with pytest.raises(PgpRejected) as rejected:
        decrypt_inbound(source, tmp_path / "out", keys["ledger"], None, require_signature=False)
    assert rejected.value.reason is PgpFailure.NOT_FOR_US


def test_unsigned_accepted_when_not_required(tmp_path: Path, keys: dict[str, bytes]) -> None:
    source = _sealed(tmp_path, keys, None)
    target = tmp_path / "plain.csv"
    assert decrypt_inbound(source, target, keys["ledger"], None, require_signature=False) == []
    assert target.read_bytes() == CSV


def test_outbound_is_encrypted_to_the_partner_and_signed_by_us(tmp_path: Path, keys: dict[str, bytes]) -> None:
    plain = tmp_path / "enrollment_acme_20260115.csv"
    plain.write_bytes(CSV)
    sealed = tmp_path / "enrollment_acme_20260115.csv.pgp"
    encrypt_outbound(plain, sealed, certificate_of(keys["partner"]), keys["ledger"])
    assert CSV not in sealed.read_bytes()
    ours = pysequoia.Cert.from_bytes(certificate_of(keys["ledger"]))
    result = pysequoia.decrypt(
        sealed.read_bytes(), decryptor=pysequoia.Tsk.from_bytes(keys["partner"]).decryptor(), store=lambda _ids: [ours]
    )
    assert result.bytes == CSV
    assert [str(sig.certificate) for sig in result.valid_sigs] == [fingerprint_of(keys["ledger"])]
