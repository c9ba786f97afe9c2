"""C2SP signed-note (c2sp.org/signed-note) with Ed25519 keys, byte-compatible with Go's
golang.org/x/mod/sumdb/note.

A signed note is UTF-8 text ending in a newline, a blank line, then one or more
signature lines `— <key name> <base64(4-byte key hash || signature)>` (U+2014, space).
The Ed25519 key hash is SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4].
A verifier key is the string `<name>+<8 hex key hash>+<base64(0x01 || public key)>`;
Go's signer key string `PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>` is also
supported. Keys are loaded from and dumped to bytes only: no file I/O here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from proofs.errors import MalformedKey, MalformedNote, SignatureInvalid, UnverifiedNote

__all__ = [
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "NoteSigner",
    "NoteVerifier",
    "format_skey",
    "generate_signer",
    "key_hash",
    "open_note",
    "parse_skey",
    "parse_vkey",
    "private_key_from_bytes",
    "private_key_to_pem",
    "private_key_to_raw",
    "public_key_from_bytes",
    "public_key_to_pem",
    "public_key_to_raw",
    "sign_note",
    "vkey_from_public_key",
]

ALG_ED25519 = 0x01
"""Signature type byte for Ed25519 (c2sp.org/signed-note, "Signature types")."""

MAX_SIGNATURES = 100
"""Notes with more signature lines are rejected (the spec requires accepting at least 16)."""

_SIG_PREFIX = "\u2014 "  # em dash, space


def b64decode_strict(text: str) -> bytes | None:
    """Decode standard base64 (RFC 4648 §4), accepting only the canonical encoding; None if invalid."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def has_control_chars(text: str) -> bool:
    """Whether `text` holds an ASCII control character other than newline (forbidden in notes)."""
    return any(ch < " " and ch != "\n" for ch in text)


def _is_valid_name(name: str) -> bool:
    """Key names are non-empty UTF-8 with no Unicode spaces and no '+' (c2sp.org/signed-note)."""
    if not name or "+" in name or has_control_chars(name) or any(ch.isspace() for ch in name):
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


def _check_name(name: str) -> None:
    if not _is_valid_name(name):
        raise MalformedKey(f"invalid key name {name!r}: must be non-empty, without spaces or '+'")


def key_hash(name: str, public_key: bytes) -> bytes:
    """The 4-byte Ed25519 key hash: SHA-256(name || 0x0A || 0x01 || public_key)[:4]."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def public_key_to_raw(key: Ed25519PublicKey) -> bytes:
    """The 32-byte RFC 8032 encoding of an Ed25519 public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def private_key_to_raw(key: Ed25519PrivateKey) -> bytes:
    """The 32-byte RFC 8032 seed of an Ed25519 private key. Keep it secret."""
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())


def private_key_to_pem(key: Ed25519PrivateKey, password: bytes | None = None) -> bytes:
    """PKCS#8 PEM of an Ed25519 private key, encrypted when `password` is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def public_key_to_pem(key: Ed25519PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM of an Ed25519 public key."""
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def private_key_from_bytes(data: bytes, password: bytes | None = None) -> Ed25519PrivateKey:
    """Load an Ed25519 private key from PKCS#8 PEM or a 32-byte raw seed; raises `MalformedKey`."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(data, password=password)
        elif len(data) == 32 and password is None:
            key = Ed25519PrivateKey.from_private_bytes(data)
        else:
            raise MalformedKey(f"expected PEM or a 32-byte Ed25519 seed, got {len(data)} bytes")
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise MalformedKey(f"cannot load private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise MalformedKey(f"expected an Ed25519 private key, got {type(key).__name__}")
    return key


def public_key_from_bytes(data: bytes) -> Ed25519PublicKey:
    """Load an Ed25519 public key from SubjectPublicKeyInfo PEM or 32 raw bytes; raises `MalformedKey`."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(data)
        elif len(data) == 32:
            key = Ed25519PublicKey.from_public_bytes(data)
        else:
            raise MalformedKey(f"expected PEM or a 32-byte Ed25519 public key, got {len(data)} bytes")
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise MalformedKey(f"cannot load public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise MalformedKey(f"expected an Ed25519 public key, got {type(key).__name__}")
    return key


@dataclass(frozen=True)
class NoteVerifier:
    """A trusted Ed25519 note key: name, 4-byte key hash and public key (checked to agree)."""

    name: str
    key_hash: bytes
    public_key: Ed25519PublicKey = field(compare=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.key_hash != key_hash(self.name, public_key_to_raw(self.public_key)):
            raise MalformedKey(f"key hash {self.key_hash.hex()} does not match name and public key")

    @property
    def vkey(self) -> str:
        """The verifier key string `<name>+<hash>+<base64(0x01 || key)>`."""
        return vkey_from_public_key(self.name, self.public_key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether `signature` is this key's Ed25519 signature of `message`."""
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class NoteSigner:
    """An Ed25519 note signing key with its key name; `repr` never shows the key."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False, compare=False)
    key_hash: bytes = field(init=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        raw_public = public_key_to_raw(self.private_key.public_key())
        object.__setattr__(self, "key_hash", key_hash(self.name, raw_public))

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The matching public key."""
        return self.private_key.public_key()

    def verifier(self) -> NoteVerifier:
        """The `NoteVerifier` for this key."""
        return NoteVerifier(self.name, self.key_hash, self.public_key)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of `message` (RFC 8032, deterministic)."""
        return self.private_key.sign(message)


def generate_signer(name: str) -> NoteSigner:
    """A new random Ed25519 `NoteSigner` called `name`."""
    return NoteSigner(name, Ed25519PrivateKey.generate())


def vkey_from_public_key(name: str, public_key: Ed25519PublicKey | bytes) -> str:
    """Encode the verifier key `<name>+<8 hex key hash>+<base64(0x01 || public key)>`."""
    _check_name(name)
    raw = public_key if isinstance(public_key, bytes) else public_key_to_raw(public_key)
    if len(raw) != 32:
        raise MalformedKey(f"an Ed25519 public key is 32 bytes, got {len(raw)}")
    data = base64.b64encode(bytes([ALG_ED25519]) + raw).decode("ascii")
    return f"{name}+{key_hash(name, raw).hex()}+{data}"


def _parse_hash(hash16: str) -> bytes:
    if len(hash16) != 8 or any(ch not in "0123456789abcdefABCDEF" for ch in hash16):
        raise MalformedKey(f"key hash must be 8 hex digits, got {hash16!r}")
    return bytes.fromhex(hash16)


def _parse_key_data(key64: str, what: str) -> bytes:
    data = b64decode_strict(key64)
    if not data:
        raise MalformedKey(f"{what} is not canonical base64")
    if data[0] != ALG_ED25519:
        raise MalformedKey(f"unknown key algorithm {data[0]:#04x}")
    if len(data) != 33:
        raise MalformedKey(f"{what} must be 0x01 followed by 32 bytes, got {len(data) - 1} bytes")
    return data[1:]


def parse_vkey(vkey: str) -> NoteVerifier:
    """Parse a verifier key string as Go's `note.NewVerifier` does; raises `MalformedKey`."""
    name, _, rest = vkey.partition("+")
    hash16, _, key64 = rest.partition("+")
    _check_name(name)
    expected_hash = _parse_hash(hash16)
    raw = _parse_key_data(key64, "verifier key data")
    return NoteVerifier(name, expected_hash, Ed25519PublicKey.from_public_bytes(raw))


def format_skey(signer: NoteSigner) -> str:
    """Go's secret signer key string `PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>`. Keep it secret."""
    seed = base64.b64encode(bytes([ALG_ED25519]) + private_key_to_raw(signer.private_key)).decode("ascii")
    return f"PRIVATE+KEY+{signer.name}+{signer.key_hash.hex()}+{seed}"


def parse_skey(skey: str) -> NoteSigner:
    """Parse Go's signer key string (as `note.NewSigner`); the key hash must match; raises `MalformedKey`."""
    private, _, rest = skey.partition("+")
    key_word, _, rest = rest.partition("+")
    name, _, rest = rest.partition("+")
    hash16, _, key64 = rest.partition("+")
    if private != "PRIVATE" or key_word != "KEY":
        raise MalformedKey("signer key must start with PRIVATE+KEY+")
    _check_name(name)
    expected_hash = _parse_hash(hash16)
    seed = _parse_key_data(key64, "signer key data")
    signer = NoteSigner(name, Ed25519PrivateKey.from_private_bytes(seed))
    if signer.key_hash != expected_hash:
        raise MalformedKey(f"key hash {hash16} does not match name and key")
    return signer


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise MalformedNote("note text must end with a newline")
    if has_control_chars(text):
        raise MalformedNote("note text must not contain control characters other than newline")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedNote("note text must be valid UTF-8") from exc


def sign_note(text: str, *signers: NoteSigner) -> str:
    """Sign `text` (which must end in a newline) with one or more keys; return the signed note.

    Each signature covers exactly the UTF-8 bytes of `text` (c2sp.org/signed-note).
    """
    if not signers:
        raise ValueError("sign_note needs at least one signer")
    _check_text(text)
    message = text.encode("utf-8")
    lines = []
    for signer in signers:
        blob = base64.b64encode(signer.key_hash + signer.sign(message)).decode("ascii")
        lines.append(f"{_SIG_PREFIX}{signer.name} {blob}\n")
    return text + "\n" + "".join(lines)


def _verifier_map(verifiers: Iterable[NoteVerifier]) -> dict[tuple[str, bytes], NoteVerifier]:
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for verifier in verifiers:
        slot = (verifier.name, verifier.key_hash)
        other = known.setdefault(slot, verifier)
        if public_key_to_raw(other.public_key) != public_key_to_raw(verifier.public_key):
            raise MalformedKey(f"ambiguous verifiers: two keys named {verifier.name}+{verifier.key_hash.hex()}")
    return known


def open_note(note: str | bytes, verifiers: Iterable[NoteVerifier]) -> tuple[str, list[str]]:
    """Verify a signed note; return its text and the names of the known keys that signed it.

    Follows c2sp.org/signed-note and Go's `note.Open`: signatures whose (name, key
    hash) is unknown are ignored; a known key's signature that fails to verify
    rejects the whole note (`SignatureInvalid`); a note with no signature from a
    known key is rejected (`UnverifiedNote`); bad syntax raises `MalformedNote`.
    Repeated signatures by one key are checked once.
    """
    try:
        raw = note if isinstance(note, bytes) else note.encode("utf-8")
        note = raw.decode("utf-8")
    except UnicodeError as exc:  # undecodable bytes, or lone surrogates in a str
        raise MalformedNote("note is not valid UTF-8") from exc
    if has_control_chars(note):
        raise MalformedNote("note contains control characters other than newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNote("no blank line before the signatures")
    text, sig_block = note[: split + 1], note[split + 2 :]
    if not sig_block.endswith("\n"):
        raise MalformedNote("signature block must be non-empty and end with a newline")
    message = text.encode("utf-8")
    known = _verifier_map(verifiers)
    verified: list[str] = []
    unknown: list[str] = []
    seen: set[tuple[str, bytes]] = set()
    lines = sig_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote(f"more than {MAX_SIGNATURES} signatures")
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise MalformedNote(f"signature line must start with an em dash and a space: {line[:40]!r}")
        name, _, b64 = line[len(_SIG_PREFIX) :].partition(" ")
        blob = b64decode_strict(b64) if b64 else None
        if blob is None or not _is_valid_name(name) or len(blob) < 5:
            raise MalformedNote(f"malformed signature line {line[:60]!r}")
        slot = (name, blob[:4])
        verifier = known.get(slot)
        if verifier is None:
            label = f"{name}+{blob[:4].hex()}"
            if label not in unknown:
                unknown.append(label)
            continue
        if slot in seen:
            continue
        seen.add(slot)
        if not verifier.verify(message, blob[4:]):
            raise SignatureInvalid(name, f"signature by {name}+{blob[:4].hex()} does not verify")
        verified.append(name)
    if not verified:
        raise UnverifiedNote(tuple(unknown))
    return text, verified
