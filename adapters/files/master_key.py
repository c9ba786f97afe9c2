"""The master key that wraps every subject data key at rest (AES-256-GCM key wrapping).

Loaded from ``LEDGER_MASTER_KEY`` (base64, 32 bytes) when set, else from ``<data_dir>/master.key``,
which is created on first use with mode 0600. A database dump without the master key holds no usable
subject keys; destroying a subject's wrapped key erases that subject.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from adapters.files.private_files import ensure_private_file
from ledger_core.engine.errors import InvalidCommand

MASTER_KEY_ENV = "LEDGER_MASTER_KEY"
MASTER_KEY_FILE = "master.key"
_NONCE = 12


def load_master_key(data_dir: Path) -> bytes:
    """The 32-byte master key (environment first, then the data directory, created if missing)."""
    configured = os.environ.get(MASTER_KEY_ENV)
    if configured:
        key = base64.b64decode(configured)
        if len(key) != 32:
            raise InvalidCommand(f"{MASTER_KEY_ENV} must be 32 bytes of base64", field=MASTER_KEY_ENV)
        return key
    path = data_dir / MASTER_KEY_FILE
    text = ensure_private_file(path, lambda: base64.b64encode(AESGCM.generate_key(bit_length=256)) + b"\n")
    key = base64.b64decode(text.strip())
    if len(key) != 32:
        raise InvalidCommand(f"{path} does not hold a 32-byte key", field=str(path))
    return key


class KeyWrapper:
    """Wraps and unwraps subject keys under the master key; the key id is the AAD."""

    def __init__(self, master_key: bytes) -> None:
        self._aead = AESGCM(master_key)

    def wrap(self, key_id: str, key: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, key, key_id.encode())

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        return self._aead.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], key_id.encode())
