"""The checkpoint signing key: an Ed25519 C2SP note key whose name is the log's origin.

Stored as Go's signer key string (``golang.org/x/mod/sumdb/note``), one line::

    PRIVATE+KEY+<origin>+<8 hex key hash>+<base64(0x01 || 32-byte seed)>

chosen over PEM because it carries the key name, so the origin cannot drift from the key, and Go's
``note.NewSigner`` and the transparency-dev tools read it as is. Where it comes from, first match wins:
``--signing-key PATH``, ``LEDGER_SIGNING_KEY_FILE``, ``LEDGER_SIGNING_KEY_FD`` (a file descriptor the
key is written to, read once per process), else ``<data dir>/checkpoint.key``, which is created (mode
0600, atomically) by ``ledger init`` or the first sealer. A PostgreSQL deployment must name its key
(:mod:`adapters.key_sources`). The origin of a new key is
``--origin`` / ``LEDGER_ORIGIN`` or, by default, ``proveniq-ledger/<16 hex of SHA-256(public key)>``:
stable for the life of the key and distinct per ledger. ``ledger checkpoint vkey`` prints the verifier
key to hand to auditors.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from adapters.files.private_files import create_private_file, read_secret, replace_private_file
from ledger_core.engine.errors import InvalidCommand
from proofs.errors import MalformedKey
from proofs.note import NoteSigner, format_skey, parse_skey, public_key_to_raw
from proofs.note import generate_signer as _generate

SIGNING_KEY_FILE = "checkpoint.key"
PREVIOUS_SUFFIX = ".previous"
"""``<key file>.previous``: the verifier keys of the keys this one replaced, oldest first, one per line."""
SIGNING_KEY_ENV = "LEDGER_SIGNING_KEY_FILE"
SIGNING_KEY_FD_ENV = "LEDGER_SIGNING_KEY_FD"
ORIGIN_ENV = "LEDGER_ORIGIN"
ORIGIN_PREFIX = "proveniq-ledger/"

__all__ = [
    "ORIGIN_ENV",
    "SIGNING_KEY_ENV",
    "SIGNING_KEY_FD_ENV",
    "SIGNING_KEY_FILE",
    "create_signing_key",
    "default_origin",
    "ensure_signing_key",
    "load_signing_key",
    "previous_vkeys",
    "rotate_signing_key",
    "signing_key_path",
]


def default_origin(public_key: bytes) -> str:
    """``proveniq-ledger/<first 16 hex digits of SHA-256(raw public key)>``."""
    return ORIGIN_PREFIX + hashlib.sha256(public_key).hexdigest()[:16]


def signing_key_path(data_dir: Path, explicit: Path | None = None) -> tuple[Path, bool]:
    """The key file to use and whether it was configured explicitly (flag or environment)."""
    if explicit is not None:
        return explicit, True
    configured = os.environ.get(SIGNING_KEY_ENV)
    if configured:
        return Path(configured), True
    descriptor = os.environ.get(SIGNING_KEY_FD_ENV)
    if descriptor:
        return descriptor_path(descriptor, SIGNING_KEY_FD_ENV), True
    return data_dir / SIGNING_KEY_FILE, False


def descriptor_path(value: str, variable: str) -> Path:
    """``/dev/fd/N`` for the descriptor number ``value`` of the environment variable ``variable``."""
    if not value.strip().isdigit():
        raise InvalidCommand(f"{variable} must be a file descriptor number, not {value!r}", field=variable)
    return Path(f"/dev/fd/{int(value)}")


def load_signing_key(path: Path) -> NoteSigner:
    """Read a signer key file; raises :class:`InvalidCommand` if missing or malformed."""
    try:
        text = read_secret(path).decode("utf-8").strip()
    except FileNotFoundError:
        raise InvalidCommand(f"signing key {path} does not exist", field="signing_key") from None
    try:
        return parse_skey(text)
    except MalformedKey as error:
        raise InvalidCommand(
            f"signing key {path} is not a PRIVATE+KEY+ signer key: {error}", field="signing_key"
        ) from None


def create_signing_key(path: Path, origin: str | None = None) -> NoteSigner:
    """Create a new key file at ``path`` (mode 0600) named ``origin``; never overwrites (FileExistsError).

    The file is written to a temporary name, fsynced and hard-linked into place, so a concurrent reader
    sees either no file or the whole key.
    """
    draft = _generate("placeholder")
    name = origin or default_origin(public_key_to_raw(draft.public_key))
    try:
        signer = NoteSigner(name, draft.private_key)
    except MalformedKey as error:
        raise InvalidCommand(f"origin {name!r} cannot be a key name: {error}", field="origin") from None
    create_private_file(path, (format_skey(signer) + "\n").encode())
    return signer


def ensure_signing_key(
    data_dir: Path, explicit: Path | None = None, origin: str | None = None, *, sealed_as: str | None = None
) -> NoteSigner:
    """The signer to use: an explicitly configured key must exist; the data-dir key is created if missing.

    ``origin`` (or ``LEDGER_ORIGIN``) names a key being created; for an existing key it must match.
    ``sealed_as`` is the origin of the ledger's latest checkpoint, if any: a ledger that already has
    checkpoints never gets a fresh key silently (its key was lost or is elsewhere).
    """
    path, configured = signing_key_path(data_dir, explicit)
    wanted = origin or os.environ.get(ORIGIN_ENV) or None
    if not configured and not path.exists() and sealed_as is not None:
        raise InvalidCommand(
            f"this ledger's checkpoints are signed as {sealed_as} but {path} is missing:"
            " restore the key or pass --signing-key",
            field="signing_key",
        )
    if not configured and not path.exists():
        try:
            return create_signing_key(path, wanted)
        except FileExistsError:
            pass  # another process created it first: use theirs
    signer = load_signing_key(path)
    if wanted is not None and signer.name != wanted:
        raise InvalidCommand(
            f"the signing key is named {signer.name!r} but the origin asked for is {wanted!r};"
            " the origin of a ledger is its key's name and cannot change",
            field="origin",
        )
    return signer


def previous_vkeys(path: Path) -> list[str]:
    """The verifier keys the key at ``path`` replaced (``ledger keys rotate``), oldest first."""
    try:
        text = path.with_name(path.name + PREVIOUS_SUFFIX).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [line.strip() for line in text.splitlines() if line.strip()]


def rotate_signing_key(path: Path) -> tuple[NoteSigner, str]:
    """Replace the key at ``path`` by a new one of the same name (the origin never changes); returns the new
    signer and the old verifier key, which is appended to ``<key>.previous`` first (so a crash between the
    two writes leaves the old key current and listed, never a key lost). Checkpoints signed before keep
    verifying with the old vkey; running sealers sign with the old key until restarted."""
    old = load_signing_key(path)
    new = NoteSigner(old.name, _generate(old.name).private_key)
    listed = previous_vkeys(path)
    old_vkey = old.verifier().vkey
    if old_vkey not in listed:
        listed.append(old_vkey)
    replace_private_file(path.with_name(path.name + PREVIOUS_SUFFIX), "".join(f"{vkey}\n" for vkey in listed).encode())
    replace_private_file(path, (format_skey(new) + "\n").encode())
    return new, old_vkey
