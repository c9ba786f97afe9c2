"""Signed promises of inclusion: the log's word, given at commit, that an entry will be in its tree.

Modelled on the Signed Certificate Timestamp of RFC 6962 §3.2: when a write asks not to wait for the
seal (``Prefer: respond-async``, RFC 7240 §4.1), the ledger answers as soon as the entry is durably in
the log, with the entry's leaf index, its RFC 9162 leaf hash (§2.1.1, SHA-256(0x00 || entry)) and a
timestamp, signed with the log's checkpoint key. The inclusion proof is fetched later; a proof that does
not show the promised leaf hash at the promised index is evidence of misbehaviour (:func:`check_kept`).

The signed bytes (all integers big-endian)::

    "proveniq-ledger/inclusion-promise/v1" || 0x0A      the context string (37 bytes)
    origin (UTF-8) || 0x0A                               the log's origin = the checkpoint key's name
    uint64 leafIndex                                     the entry's position (0-based)
    uint64 timestamp                                     milliseconds since the Unix epoch (RFC 6962 §3.2)
    leafHash (32 bytes)                                  SHA-256(0x00 || entry)

The signature is Ed25519 (RFC 8032) over those bytes, written as a C2SP signed-note signature is:
``base64(4-byte key hash || 64-byte signature)``, the key hash being SHA-256(origin || 0x0A || 0x01 ||
public key)[:4] (c2sp.org/signed-note). The context string keeps a promise from ever verifying as a
checkpoint note or a cosignature, and the other way round. Standard library and ``proofs`` only (the SDK
ships this module); no I/O.
"""

from __future__ import annotations

import base64
import hmac
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from proofs.errors import OriginMismatch, ProofError, SignatureInvalid
from proofs.hashing import HASH_SIZE
from proofs.note import NoteSigner, NoteVerifier, b64decode_strict, parse_vkey

__all__ = [
    "PROMISE_CONTEXT",
    "PROMISE_FORMAT",
    "InclusionPromise",
    "MalformedPromise",
    "PromiseBroken",
    "check_kept",
    "promise_message",
    "sign_promise",
    "verify_promise",
]

PROMISE_FORMAT = "proveniq-ledger/inclusion-promise/v1"
"""The ``format`` of a promise document, and (with a newline) the context string of its signed bytes."""
PROMISE_CONTEXT = PROMISE_FORMAT.encode("ascii") + b"\n"
_KEY_HASH_SIZE = 4
_SIGNATURE_SIZE = 64
_UINT64 = struct.Struct(">QQ")


class MalformedPromise(ProofError):
    """A promise document that cannot be read (a missing field, a wrong type or length)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"malformed promise: {self.reason}"


class PromiseBroken(ProofError):
    """A proof that does not keep a (valid) promise: ``field`` differs, ``promised`` vs ``proven``."""

    def __init__(self, field: str, promised: object, proven: object) -> None:
        super().__init__(field, promised, proven)
        self.field = field
        self.promised = promised
        self.proven = proven

    def __str__(self) -> str:
        return f"promise not kept: {self.field} promised {self.promised}, proof shows {self.proven}"


@dataclass(frozen=True)
class InclusionPromise:
    """A signed promise of inclusion (see the module docstring for the signed bytes).

    ``signature`` is ``base64(key hash || Ed25519 signature)``; ``leaf_hash`` is 32 bytes.
    """

    origin: str
    leaf_index: int
    leaf_hash: bytes
    timestamp: int
    signature: str

    def message(self) -> bytes:
        """The bytes the signature covers."""
        return promise_message(self.origin, self.leaf_index, self.leaf_hash, self.timestamp)

    def to_json(self) -> dict[str, Any]:
        """The promise document (camelCase, ``leafHash`` in hex, as in the inclusion proof document)."""
        return {
            "format": PROMISE_FORMAT,
            "origin": self.origin,
            "leafIndex": self.leaf_index,
            "leafHash": self.leaf_hash.hex(),
            "timestamp": self.timestamp,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> InclusionPromise:
        """Read a promise document; :class:`MalformedPromise` names what is wrong."""
        if document.get("format") != PROMISE_FORMAT:
            raise MalformedPromise(f"format must be {PROMISE_FORMAT!r}, got {document.get('format')!r}")
        origin, digest, signature = document.get("origin"), document.get("leafHash"), document.get("signature")
        index, stamp = _uint64(document, "leafIndex"), _uint64(document, "timestamp")
        if not isinstance(origin, str) or not origin:
            raise MalformedPromise("origin must be a non-empty string")
        if not isinstance(digest, str) or not isinstance(signature, str):
            raise MalformedPromise("leafHash and signature must be strings")
        try:
            leaf_hash = bytes.fromhex(digest)
        except ValueError:
            raise MalformedPromise("leafHash must be hex") from None
        return cls(origin, index, leaf_hash, stamp, signature)


def _uint64(document: Mapping[str, Any], name: str) -> int:
    value = document.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**64:
        raise MalformedPromise(f"{name} must be an integer in [0, 2^64)")
    return value


def promise_message(origin: str, leaf_index: int, leaf_hash: bytes, timestamp: int) -> bytes:
    """The signed bytes of a promise (module docstring); :class:`MalformedPromise` on impossible values."""
    if not origin or "\n" in origin:
        raise MalformedPromise("origin must be a non-empty line")
    if len(leaf_hash) != HASH_SIZE:
        raise MalformedPromise(f"leafHash must be {HASH_SIZE} bytes, got {len(leaf_hash)}")
    if not (0 <= leaf_index < 2**64 and 0 <= timestamp < 2**64):
        raise MalformedPromise("leafIndex and timestamp must fit in 64 bits")
    return PROMISE_CONTEXT + origin.encode("utf-8") + b"\n" + _UINT64.pack(leaf_index, timestamp) + leaf_hash


def sign_promise(signer: NoteSigner, leaf_index: int, leaf_hash: bytes, timestamp: int) -> InclusionPromise:
    """Promise, with ``signer`` (the checkpoint key: its name is the origin), to include the leaf."""
    message = promise_message(signer.name, leaf_index, leaf_hash, timestamp)
    signature = base64.b64encode(signer.key_hash + signer.sign(message)).decode("ascii")
    return InclusionPromise(signer.name, leaf_index, leaf_hash, timestamp, signature)


def verify_promise(promise: InclusionPromise, vkey: str | NoteVerifier) -> None:
    """Check the promise's signature with the log's verifier key (pinned out of band).

    Raises :class:`OriginMismatch` (another log's key), :class:`SignatureInvalid` (a signature by
    another key, or one that does not cover these bytes) or :class:`MalformedPromise`.
    """
    verifier = parse_vkey(vkey) if isinstance(vkey, str) else vkey
    if promise.origin != verifier.name:
        raise OriginMismatch(verifier.name, promise.origin)
    raw = b64decode_strict(promise.signature)
    if raw is None or len(raw) != _KEY_HASH_SIZE + _SIGNATURE_SIZE:
        raise MalformedPromise("signature must be base64 of a 4-byte key hash and a 64-byte signature")
    if not hmac.compare_digest(raw[:_KEY_HASH_SIZE], verifier.key_hash):
        raise SignatureInvalid(verifier.name, f"signed by key hash {raw[:_KEY_HASH_SIZE].hex()}")
    if not verifier.verify(promise.message(), raw[_KEY_HASH_SIZE:]):
        raise SignatureInvalid(verifier.name, "the signature does not cover this promise")


def check_kept(promise: InclusionPromise, proof: Mapping[str, Any], origin: str | None = None) -> None:
    """Check that an inclusion proof document keeps the promise: same leaf index, same leaf hash (and, when
    given, the proof's checkpoint ``origin``). Verify the promise (:func:`verify_promise`) and the proof
    (:func:`proofs.documents.verify_document`) themselves first; raises :class:`PromiseBroken`."""
    index, digest = proof.get("leafIndex"), proof.get("leafHash")
    if index != promise.leaf_index:
        raise PromiseBroken("leafIndex", promise.leaf_index, index)
    if not isinstance(digest, str) or digest.lower() != promise.leaf_hash.hex():
        raise PromiseBroken("leafHash", promise.leaf_hash.hex(), digest)
    if origin is not None and origin != promise.origin:
        raise PromiseBroken("origin", promise.origin, origin)
