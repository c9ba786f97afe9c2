"""C2SP tlog-cosignature v1 (Ed25519): a witness's timestamped statement that a checkpoint is consistent.

A cosignature is a note signature line on a checkpoint (c2sp.org/tlog-cosignature, "Format")::

    — <witness name> base64(key ID || u64 timestamp (big-endian) || Ed25519 signature)

with key ID ``SHA-256(<name> || "\\n" || 0x04 || 32-byte public key)[:4]`` and the signature over the
message ``cosignature/v1\\ntime <timestamp>\\n`` followed by the checkpoint's note body (section "Ed25519
signed message"). A witness's verifier key is a C2SP vkey of type 0x04:
``<name>+<8 hex key ID>+<base64(0x04 || public key)>``; its secret key file is Go's signer key string
shape with the same type byte: ``PRIVATE+KEY+<name>+<key ID>+<base64(0x04 || seed)>``.

Pure: bytes and strings in, bytes and strings out; no clock (the timestamp is given), no files.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from proofs.errors import MalformedKey, MalformedNote, ProofError
from proofs.note import b64decode_strict, private_key_to_raw, public_key_to_raw

__all__ = [
    "ALG_COSIGNATURE_V1",
    "MAX_TIMESTAMP",
    "Cosignature",
    "CosignatureMissing",
    "Cosigner",
    "CosignerVerifier",
    "cosigned_message",
    "cosigner_key_id",
    "format_cosigner_skey",
    "generate_cosigner",
    "note_body",
    "note_signature_lines",
    "parse_cosigner_skey",
    "parse_cosigner_vkey",
    "verify_cosignatures",
    "with_signature_lines",
]

ALG_COSIGNATURE_V1 = 0x04
"""The signature type byte of an Ed25519 cosignature/v1 key (c2sp.org/tlog-cosignature)."""

MAX_TIMESTAMP = 2**63 - 1
_SIG_PREFIX = "\u2014 "
_HEADER = "cosignature/v1\n"


class CosignatureMissing(ProofError):
    """A checkpoint carries no valid cosignature from a witness the verifier requires."""

    def __init__(self, witness: str, reason: str) -> None:
        super().__init__(f"witness {witness}: {reason}")
        self.witness = witness


def cosigner_key_id(name: str, public_key: bytes) -> bytes:
    """``SHA-256(name || 0x0A || 0x04 || public key)[:4]`` (tlog-cosignature, "Format")."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ALG_COSIGNATURE_V1]) + public_key).digest()[:4]


def cosigned_message(body: str, timestamp: int) -> bytes:
    """The bytes a cosignature signs: ``cosignature/v1\\ntime <ts>\\n`` + the checkpoint body."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError(f"cosignature timestamp {timestamp} out of range 0..2^63-1")
    if not body.endswith("\n"):
        raise MalformedNote("a checkpoint body ends with a newline")
    return f"{_HEADER}time {timestamp}\n{body}".encode()


def _check_name(name: str) -> None:
    if not name or "+" in name or any(ch.isspace() or ch < " " for ch in name):
        raise MalformedKey(f"invalid witness name {name!r}: must be non-empty, without spaces or '+'")


@dataclass(frozen=True)
class Cosignature:
    """One verified cosignature: the witness's name and the POSIX time it cosigned at."""

    witness: str
    timestamp: int


@dataclass(frozen=True)
class CosignerVerifier:
    """A trusted witness key: name, key ID and Ed25519 public key (checked to agree)."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey = field(compare=False)

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.key_id != cosigner_key_id(self.name, public_key_to_raw(self.public_key)):
            raise MalformedKey(f"key ID {self.key_id.hex()} does not match the witness name and public key")

    @property
    def vkey(self) -> str:
        """``<name>+<8 hex key ID>+<base64(0x04 || public key)>``."""
        data = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + public_key_to_raw(self.public_key)).decode()
        return f"{self.name}+{self.key_id.hex()}+{data}"

    def verify_line(self, body: str, line: str) -> Cosignature | None:
        """The cosignature ``line`` states if it is this key's and valid; None if it is another key's line.

        A line of this key (name and key ID) whose signature does not verify raises :class:`CosignatureMissing`.
        """
        name, _, b64 = line.removeprefix(_SIG_PREFIX).partition(" ")
        blob = b64decode_strict(b64)
        if name != self.name or blob is None or blob[:4] != self.key_id:
            return None
        if len(blob) != 4 + 8 + 64:
            raise CosignatureMissing(self.name, f"a cosignature is 76 bytes, this one is {len(blob)}")
        (timestamp,) = struct.unpack(">Q", blob[4:12])
        if timestamp > MAX_TIMESTAMP:
            raise CosignatureMissing(self.name, "timestamp above 2^63-1")
        try:
            self.public_key.verify(blob[12:], cosigned_message(body, timestamp))
        except InvalidSignature:
            raise CosignatureMissing(self.name, "the cosignature does not verify") from None
        return Cosignature(self.name, timestamp)


@dataclass(frozen=True)
class Cosigner:
    """A witness's Ed25519 cosigning key with its name; ``repr`` never shows the key."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_name(self.name)

    def verifier(self) -> CosignerVerifier:
        """The matching :class:`CosignerVerifier`."""
        public = self.private_key.public_key()
        return CosignerVerifier(self.name, cosigner_key_id(self.name, public_key_to_raw(public)), public)

    def cosign(self, body: str, timestamp: int) -> str:
        """The cosignature line (ending in a newline) over the checkpoint ``body`` at ``timestamp``."""
        signature = self.private_key.sign(cosigned_message(body, timestamp))
        blob = self.verifier().key_id + struct.pack(">Q", timestamp) + signature
        return f"{_SIG_PREFIX}{self.name} {base64.b64encode(blob).decode()}\n"


def generate_cosigner(name: str) -> Cosigner:
    """A new random witness key called ``name``."""
    return Cosigner(name, Ed25519PrivateKey.generate())


def _split_key(text: str, parts: int) -> list[str]:
    fields = text.split("+", parts - 1)
    if len(fields) != parts:
        raise MalformedKey("a key string has the fields <name>+<key ID>+<key data>")
    return fields


def _key_material(data64: str, what: str) -> bytes:
    data = b64decode_strict(data64)
    if data is None or len(data) != 33 or data[0] != ALG_COSIGNATURE_V1:
        raise MalformedKey(f"{what} must be base64 of 0x04 followed by 32 bytes (a cosignature/v1 key)")
    return data[1:]


def _key_id(hex8: str) -> bytes:
    if len(hex8) != 8 or any(ch not in "0123456789abcdef" for ch in hex8.lower()):
        raise MalformedKey(f"a key ID is 8 hex digits, got {hex8!r}")
    return bytes.fromhex(hex8)


def parse_cosigner_vkey(vkey: str) -> CosignerVerifier:
    """Parse a witness verifier key ``<name>+<key ID>+<base64(0x04 || key)>``; raises :class:`MalformedKey`."""
    name, hex8, data64 = _split_key(vkey.strip(), 3)
    _check_name(name)
    raw = _key_material(data64, "witness verifier key data")
    return CosignerVerifier(name, _key_id(hex8), Ed25519PublicKey.from_public_bytes(raw))


def format_cosigner_skey(cosigner: Cosigner) -> str:
    """``PRIVATE+KEY+<name>+<key ID>+<base64(0x04 || seed)>``. Keep it secret."""
    seed = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + private_key_to_raw(cosigner.private_key)).decode()
    return f"PRIVATE+KEY+{cosigner.name}+{cosigner.verifier().key_id.hex()}+{seed}"


def parse_cosigner_skey(skey: str) -> Cosigner:
    """Parse a witness secret key string; the key ID must match; raises :class:`MalformedKey`."""
    private, key_word, name, hex8, data64 = _split_key(skey.strip(), 5)
    if (private, key_word) != ("PRIVATE", "KEY"):
        raise MalformedKey("a witness secret key starts with PRIVATE+KEY+")
    _check_name(name)
    cosigner = Cosigner(name, Ed25519PrivateKey.from_private_bytes(_key_material(data64, "witness key data")))
    if cosigner.verifier().key_id != _key_id(hex8):
        raise MalformedKey(f"key ID {hex8} does not match the witness name and key")
    return cosigner


def note_body(note: str) -> str:
    """The signed text of a note (up to and including the newline before the blank line)."""
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNote("no blank line before the signatures")
    return note[: split + 1]


def note_signature_lines(note: str) -> list[str]:
    """The signature lines of a note, each without its final newline."""
    block = note[len(note_body(note)) + 1 :]
    if not block.endswith("\n"):
        raise MalformedNote("signature block must be non-empty and end with a newline")
    lines = block[:-1].split("\n")
    if any(not line.startswith(_SIG_PREFIX) for line in lines):
        raise MalformedNote("every signature line starts with an em dash and a space")
    return lines


def with_signature_lines(note: str, lines: Iterable[str]) -> str:
    """``note`` with the given signature lines appended (each once; lines already there are skipped)."""
    present = set(note_signature_lines(note))
    added = []
    for line in lines:
        bare = line.rstrip("\n")
        if not bare.startswith(_SIG_PREFIX) or "\n" in bare:
            raise MalformedNote(f"not a signature line: {bare[:60]!r}")
        if bare not in present:
            present.add(bare)
            added.append(bare + "\n")
    return note + "".join(added)


def verify_cosignatures(note: str, witnesses: Sequence[CosignerVerifier]) -> list[Cosignature]:
    """The cosignature of each required witness on ``note``, in the order given.

    Lines of other keys are ignored (tlog-witness: clients ignore unknown cosignatures); a required
    witness with no valid line raises :class:`CosignatureMissing`. The log's own signature is not
    checked here: verify the checkpoint first.
    """
    body = note_body(note)
    lines = note_signature_lines(note)
    found = []
    for witness in witnesses:
        cosignature = next((c for line in lines if (c := witness.verify_line(body, line)) is not None), None)
        if cosignature is None:
            raise CosignatureMissing(witness.name, "the checkpoint carries no cosignature from this witness")
        found.append(cosignature)
    return found
