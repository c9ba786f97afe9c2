"""C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint): the signed statement of a log's tree head.

The body is a note text of at least three non-empty lines:

    <origin>\\n<tree size, decimal, no leading zeros>\\n<base64 RFC 6962 root hash>\\n
    [<extension line>\\n ...]

and is signed as a C2SP signed note (`proofs.note`). Parsing is strict: exactly
the canonical encoding of a checkpoint is accepted, so one tree head has one body.
The signed-note names are re-exported here for convenience.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from proofs.errors import MalformedCheckpoint, OriginMismatch
from proofs.hashing import HASH_SIZE
from proofs.note import (
    NoteSigner,
    NoteVerifier,
    b64decode_strict,
    generate_signer,
    has_control_chars,
    open_note,
    parse_vkey,
    sign_note,
    vkey_from_public_key,
)

__all__ = [
    "MAX_TREE_SIZE",
    "Checkpoint",
    "NoteSigner",
    "NoteVerifier",
    "format_body",
    "generate_signer",
    "open_note",
    "parse_body",
    "parse_vkey",
    "sign_note",
    "signed_checkpoint",
    "verify_checkpoint",
    "vkey_from_public_key",
]

MAX_TREE_SIZE = 2**64 - 1
"""Largest tree size a checkpoint may state (uint64, as in RFC 9162 and Go's parsers)."""


def _check_line(line: str, what: str) -> None:
    if not line:
        raise MalformedCheckpoint(f"{what} must be non-empty")
    if "\n" in line or has_control_chars(line):
        raise MalformedCheckpoint(f"{what} must be one line without control characters")
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedCheckpoint(f"{what} must be valid UTF-8") from exc


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: `origin` (log identity), `size`, RFC 9162 `root_hash`, opaque `extensions`.

    Validated on construction (raises `MalformedCheckpoint`), so every instance formats
    to a body that `parse_body` accepts.
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedCheckpoint(f"tree size must be an integer in [0, 2**64), got {self.size!r}")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise MalformedCheckpoint(f"root hash must be {HASH_SIZE} bytes")
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for line in self.extensions:
            _check_line(line, "extension line")


def format_body(checkpoint: Checkpoint) -> str:
    """The checkpoint note text: origin, size, base64 root hash, extension lines, each ending in a newline."""
    lines = [
        checkpoint.origin,
        str(checkpoint.size),
        base64.b64encode(checkpoint.root_hash).decode("ascii"),
        *checkpoint.extensions,
    ]
    return "".join(line + "\n" for line in lines)


def parse_body(text: str) -> Checkpoint:
    """Parse a checkpoint note text strictly (c2sp.org/tlog-checkpoint); raises `MalformedCheckpoint`.

    Rejects: a missing final newline, fewer than three lines, an empty origin, a size
    with a sign, leading zeros, non-ASCII digits or >= 2**64, a root hash that is not
    canonical base64 of 32 bytes, and empty extension lines.
    """
    if not text.endswith("\n"):
        raise MalformedCheckpoint("body must end with a newline")
    if has_control_chars(text):
        raise MalformedCheckpoint("body must not contain control characters other than newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedCheckpoint(f"body needs origin, size and root hash lines, got {len(lines)} line(s)")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise MalformedCheckpoint("origin must be non-empty")
    if not size_text or any(ch not in "0123456789" for ch in size_text):
        raise MalformedCheckpoint(f"tree size must be ASCII decimal digits, got {size_text[:30]!r}")
    if size_text != "0" and size_text.startswith("0"):
        raise MalformedCheckpoint(f"tree size must not have leading zeros, got {size_text[:30]!r}")
    if len(size_text) > 20 or int(size_text) > MAX_TREE_SIZE:
        raise MalformedCheckpoint("tree size does not fit in 64 bits")
    root = b64decode_strict(root_text)
    if root is None or len(root) != HASH_SIZE:
        raise MalformedCheckpoint(f"root hash must be canonical base64 of {HASH_SIZE} bytes")
    if any(not line for line in extensions):
        raise MalformedCheckpoint("extension lines must be non-empty")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def signed_checkpoint(checkpoint: Checkpoint, signer: NoteSigner, *cosigners: NoteSigner) -> str:
    """The checkpoint as a signed note. The spec says the key name SHOULD equal the origin."""
    return sign_note(format_body(checkpoint), signer, *cosigners)


def verify_checkpoint(note: str | bytes, vkey: str | NoteVerifier, *, origin: str | None = None) -> Checkpoint:
    """Verify a signed checkpoint against one trusted key and return its parsed body.

    `vkey` is a verifier key string or a `NoteVerifier`. When `origin` is given the
    checkpoint must come from that log (`OriginMismatch`). Raises the errors of
    `open_note` and `parse_body`; the body is parsed only after a signature verified.
    """
    verifier = parse_vkey(vkey) if isinstance(vkey, str) else vkey
    text, _ = open_note(note, [verifier])
    checkpoint = parse_body(text)
    if origin is not None and checkpoint.origin != origin:
        raise OriginMismatch(expected=origin, found=checkpoint.origin)
    return checkpoint
