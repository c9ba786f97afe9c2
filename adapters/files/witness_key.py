"""A witness's cosigning key: an Ed25519 cosignature/v1 key in one file (``ledger witness init``).

The file holds ``PRIVATE+KEY+<name>+<key ID>+<base64(0x04 || seed)>`` (:mod:`proofs.cosignature`), mode
0600, created atomically and never overwritten; its verifier key is what logs and auditors configure.
"""

from __future__ import annotations

from pathlib import Path

from adapters.files.private_files import create_private_file
from ledger_core.engine.errors import InvalidCommand
from proofs.cosignature import Cosigner, format_cosigner_skey, generate_cosigner, parse_cosigner_skey
from proofs.errors import MalformedKey

__all__ = ["create_witness_key", "load_witness_key"]


def create_witness_key(path: Path, name: str) -> Cosigner:
    """Create the key file ``path`` for the witness ``name``; FileExistsError if it exists."""
    try:
        cosigner = generate_cosigner(name)
    except MalformedKey as error:
        raise InvalidCommand(f"witness name {name!r}: {error}", field="name") from None
    create_private_file(path, (format_cosigner_skey(cosigner) + "\n").encode())
    return cosigner


def load_witness_key(path: Path) -> Cosigner:
    """Read a witness key file; a missing or malformed file raises :class:`InvalidCommand`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidCommand(f"witness key {path} does not exist", field="key") from None
    try:
        return parse_cosigner_skey(text)
    except MalformedKey as error:
        raise InvalidCommand(f"witness key {path} is not a cosignature/v1 key: {error}", field="key") from None
