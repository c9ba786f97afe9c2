"""Decrypt and verify inbound feed files, encrypt and sign outbound ones (seed 001 section 2.5, "File encryption").

Inbound: a file encrypted to our key is decrypted into a private work file; when the partner requires
signatures the message must carry a valid signature by the partner's certificate, checked by Sequoia's
streaming verifier at the end of the message. Any failure (not encrypted to us, truncated, tampered, no
signature, a signature by anyone else) raises :class:`PgpRejected` and the work file is removed: nothing
of the file reaches the loader. Outbound: encrypted to the partner's certificate and signed with our key.

Sequoia checks integrity itself (SEIPD MDC or AEAD), so a flipped or missing byte fails decryption.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pysequoia

from adapters.feed_exchange import PgpFailure, PgpRejected
from ledger_core.engine.errors import InvalidCommand

__all__ = [
    "SequoiaFeedCrypto",
    "certificate_of",
    "decrypt_inbound",
    "encrypt_outbound",
    "fingerprint_of",
    "generate_secret_key",
]


def generate_secret_key(user_id: str) -> bytes:
    """A new Cv25519 key (certification primary, signing and encryption subkeys), armored secret key."""
    return str(pysequoia.Tsk.generate(user_id)).encode()


def _tsk(secret_key: bytes) -> pysequoia.Tsk:
    try:
        return pysequoia.Tsk.from_bytes(secret_key)
    except Exception as error:
        raise InvalidCommand(f"not an OpenPGP secret key: {_first_line(error)}", field="secret_key") from error


def _cert(cert: bytes) -> pysequoia.Cert:
    try:
        return pysequoia.Cert.from_bytes(cert)
    except Exception as error:
        raise InvalidCommand(f"not an OpenPGP certificate: {_first_line(error)}", field="certificate") from error


def certificate_of(secret_key: bytes) -> bytes:
    """The armored public certificate of a secret key (what partners encrypt to)."""
    return str(_tsk(secret_key).extract_certificate()).encode()


def fingerprint_of(key: bytes) -> str:
    """The primary key fingerprint (lower-case hex) of a certificate or secret key."""
    return _cert(key).fingerprint


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _classify(error: BaseException) -> PgpFailure:
    text = _first_line(error)
    if "No key to decrypt" in text:
        return PgpFailure.NOT_FOR_US
    if "Signature verification failed" in text:
        return PgpFailure.BAD_SIGNATURE
    return PgpFailure.DAMAGED


def decrypt_inbound(
    source: Path, target: Path, our_secret_key: bytes | None, partner_cert: bytes | None, require_signature: bool
) -> list[str]:
    """Decrypt ``source`` into ``target`` (0600); the fingerprints of the certificates whose signatures verified.

    Raises :class:`PgpRejected` (``target`` absent afterwards) on any failure.
    """
    if our_secret_key is None:
        raise PgpRejected(source.name, PgpFailure.NO_KEY, "the ledger has no OpenPGP key")
    if require_signature and partner_cert is None:
        raise PgpRejected(source.name, PgpFailure.NO_PARTNER_KEY, "no partner certificate to verify with")
    decryptor = _tsk(our_secret_key).decryptor()
    signer = None if partner_cert is None else _cert(partner_cert)

    def store(_key_ids: list[str]) -> list[pysequoia.Cert]:
        return [] if signer is None else [signer]

    target.parent.mkdir(parents=True, exist_ok=True)
    target.touch(mode=0o600, exist_ok=True)
    os.chmod(target, 0o600)
    try:
        if require_signature:
            result = pysequoia.decrypt_file(source, target, decryptor=decryptor, store=store)
        else:
            result = pysequoia.decrypt_file(source, target, decryptor=decryptor)
    except Exception as error:  # noqa: BLE001 - pysequoia raises RuntimeError/OSError/ValueError alike
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        raise PgpRejected(source.name, _classify(error), _first_line(error)) from None
    if require_signature and not result.valid_sigs:
        target.unlink()
        raise PgpRejected(source.name, PgpFailure.BAD_SIGNATURE, "no valid signature by the partner")
    return [str(sig.certificate) for sig in result.valid_sigs]


def encrypt_outbound(source: Path, target: Path, partner_cert: bytes, our_secret_key: bytes | None) -> None:
    """Encrypt ``source`` to the partner's certificate into ``target`` (armored), signed with our key if any."""
    signer = None if our_secret_key is None else _tsk(our_secret_key).signer()
    pysequoia.encrypt_file(source, target, recipients=[_cert(partner_cert)], signer=signer)


class SequoiaFeedCrypto:
    """:class:`adapters.feed_exchange.FeedCrypto` with Sequoia-PGP."""

    def decrypt_inbound(
        self, source: Path, target: Path, our_secret_key: bytes | None, partner_cert: bytes | None, require: bool
    ) -> list[str]:
        return decrypt_inbound(source, target, our_secret_key, partner_cert, require)

    def encrypt_outbound(self, source: Path, target: Path, partner_cert: bytes, our_secret_key: bytes | None) -> None:
        encrypt_outbound(source, target, partner_cert, our_secret_key)
