"""The master key that wraps every subject data key at rest (AES-256-GCM key wrapping).

Where it comes from (:func:`resolve_master_key`, first match wins): the key given by the caller;
``LEDGER_MASTER_KEY`` (base64, 32 bytes); the file named by ``LEDGER_MASTER_KEY_FILE``; the file
descriptor ``LEDGER_MASTER_KEY_FD`` (read once per process); else
``<data_dir>/master.key``, created on first use with mode 0600, but only when a data directory was
named: a bare database URL names none, so its key must be given explicitly (docs/embedding.md).

A fingerprint (HMAC-SHA256 of a fixed label under the key) is recorded by the key stores at first
open; a different key is refused at open (:class:`~adapters.ports.MasterKeyMismatch`) rather than
failing later when a subject key does not unwrap. A database dump without the master key holds no
usable subject keys; destroying a subject's wrapped key erases that subject.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from adapters.files.private_files import create_private_file, ensure_private_file, read_secret
from adapters.files.signing_key import descriptor_path
from adapters.ports import MasterKeyMismatch
from ledger_core.engine.errors import InvalidCommand

MASTER_KEY_ENV = "LEDGER_MASTER_KEY"
MASTER_KEY_FILE_ENV = "LEDGER_MASTER_KEY_FILE"
MASTER_KEY_FD_ENV = "LEDGER_MASTER_KEY_FD"
MASTER_KEY_FILE = "master.key"
FINGERPRINT_LABEL = b"proveniq-ledger/master-key-fingerprint/v1"
_NONCE = 12


def _decode(text: bytes | str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip() if isinstance(text, bytes) else text.strip().encode(), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        key = b""
    if len(key) != 32:
        raise InvalidCommand(f"{where} must hold 32 bytes of base64", field=where)
    return key


def read_master_key_file(path: Path) -> bytes:
    """The key in an existing file (base64); an absent file is an error, never created here."""
    try:
        return _decode(read_secret(path), str(path))
    except OSError as error:
        raise InvalidCommand(f"cannot read the master key file {path}: {error.strerror}", field=str(path)) from None


def resolve_master_key(explicit: bytes | Path | None, data_dir: Path | None) -> bytes:
    """The 32-byte master key: ``explicit`` (bytes or a key file), the environment, then ``data_dir``.

    ``data_dir`` None means no directory was named (a bare database URL): without an explicit key or
    the environment this is an error, never a key picked up from the current directory.
    """
    if isinstance(explicit, bytes):
        if len(explicit) != 32:
            raise InvalidCommand("the master key must be 32 bytes", field="master_key")
        return explicit
    if isinstance(explicit, Path):
        return read_master_key_file(explicit)
    configured = os.environ.get(MASTER_KEY_ENV)
    if configured:
        return _decode(configured, MASTER_KEY_ENV)
    named = os.environ.get(MASTER_KEY_FILE_ENV)
    if named:
        return read_master_key_file(Path(named))
    descriptor = os.environ.get(MASTER_KEY_FD_ENV)
    if descriptor:
        return read_master_key_file(descriptor_path(descriptor, MASTER_KEY_FD_ENV))
    if data_dir is None:
        raise InvalidCommand(
            "a database URL names no data directory, so the master key must be given: pass master_key="
            f" (bytes or a key file) or set {MASTER_KEY_ENV}, {MASTER_KEY_FILE_ENV} or {MASTER_KEY_FD_ENV}",
            field="master_key",
        )
    return _data_dir_master_key(data_dir)


def master_key_configured() -> bool:
    """Whether the environment names the master key (so it is not the data directory's ``master.key``)."""
    return any(os.environ.get(name) for name in (MASTER_KEY_ENV, MASTER_KEY_FILE_ENV, MASTER_KEY_FD_ENV))


def create_master_key_file(path: Path) -> None:
    """Write a new random master key to ``path`` (mode 0600); FileExistsError if it exists (never replaced:
    a lost master key is lost member data)."""
    create_private_file(path, base64.b64encode(AESGCM.generate_key(bit_length=256)) + b"\n")


def load_master_key(data_dir: Path) -> bytes:
    """The 32-byte master key as :func:`resolve_master_key` finds it (the environment's key, file or
    descriptor first), else the data directory's ``master.key``, created if missing."""
    return resolve_master_key(None, data_dir)


def _data_dir_master_key(data_dir: Path) -> bytes:
    path = data_dir / MASTER_KEY_FILE
    text = ensure_private_file(path, lambda: base64.b64encode(AESGCM.generate_key(bit_length=256)) + b"\n")
    return _decode(text, str(path))


def fingerprint(master_key: bytes) -> str:
    """Hex HMAC-SHA256 of a fixed label under the key: names the key without revealing it."""
    return hmac.new(master_key, FINGERPRINT_LABEL, hashlib.sha256).hexdigest()


class KeyWrapper:
    """Wraps and unwraps subject keys under the master key; the key id is the AAD."""

    def __init__(self, master_key: bytes) -> None:
        self._aead = AESGCM(master_key)
        self._fingerprint = fingerprint(master_key)

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def wrap(self, key_id: str, key: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, key, key_id.encode())

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], key_id.encode())
        except InvalidTag:
            raise MasterKeyMismatch(self._fingerprint, None) from None
