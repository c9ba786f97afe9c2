"""Signed promises of inclusion (proofs/promise.py): checked-in vectors for the signed bytes and the
signature, verification, tampering, and the check that a later proof keeps the promise."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from proofs.errors import OriginMismatch, SignatureInvalid
from proofs.hashing import leaf_hash
from proofs.note import NoteSigner, generate_signer
from proofs.promise import (
    PROMISE_FORMAT,
    InclusionPromise,
    MalformedPromise,
    PromiseBroken,
    check_kept,
    promise_message,
    sign_promise,
    verify_promise,
)

# The vector: key seed 00 01 .. 1f named "example.com/log", entry b"hello" at index 1234, time
# 1765000000000 ms. The message is written out field by field (module docstring of proofs/promise.py).
SIGNER = NoteSigner("example.com/log", Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
VKEY = "example.com/log+d455c521+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
LEAF_HASH = bytes.fromhex("8a2a5c9b768827de5a9552c38a044c66959c68f6d2f21b5260af54d2f87db827")
MESSAGE = bytes.fromhex(
    "70726f76656e69712d6c65646765722f696e636c7573696f6e2d70726f6d6973652f7631"  # the context string
    "0a"
    "6578616d706c652e636f6d2f6c6f67"  # "example.com/log"
    "0a"
    "00000000000004d2"  # leafIndex 1234
    "0000019af232b200"  # timestamp 1765000000000
    "8a2a5c9b768827de5a9552c38a044c66959c68f6d2f21b5260af54d2f87db827"  # leafHash
)
SIGNATURE = "1FXFIc+8JSgMMFXLYnU7rNFwveljYOF8vKRz7MhQq8U4qohq6v8SlsHv/y2vyiPeIYjlUPkIMuTzXhf1UhIL238Hdgs="


def test_vector_leaf_hash_is_rfc9162() -> None:
    assert leaf_hash(b"hello") == LEAF_HASH


def test_vector_signed_bytes() -> None:
    assert promise_message("example.com/log", 1234, LEAF_HASH, 1765000000000) == MESSAGE
    assert MESSAGE.startswith(PROMISE_FORMAT.encode() + b"\n")


def test_vector_signature() -> None:
    promise = sign_promise(SIGNER, 1234, LEAF_HASH, 1765000000000)
    assert promise.signature == SIGNATURE  # Ed25519 is deterministic (RFC 8032)
    assert SIGNER.verifier().vkey == VKEY
    raw = base64.b64decode(SIGNATURE)
    assert raw[:4] == SIGNER.key_hash
    SIGNER.public_key.verify(raw[4:], MESSAGE)  # the bare signature over the written-out bytes
    verify_promise(promise, VKEY)


def test_document_round_trip() -> None:
    promise = sign_promise(SIGNER, 1234, LEAF_HASH, 1765000000000)
    document = promise.to_json()
    assert document == {
        "format": PROMISE_FORMAT,
        "origin": "example.com/log",
        "leafIndex": 1234,
        "leafHash": LEAF_HASH.hex(),
        "timestamp": 1765000000000,
        "signature": SIGNATURE,
    }
    assert InclusionPromise.from_json(document) == promise


@pytest.mark.parametrize(
    "change",
    [
        {"leaf_index": 1235},
        {"timestamp": 1765000000001},
        {"leaf_hash": leaf_hash(b"hellO")},
    ],
)
def test_a_tampered_promise_fails(change: dict[str, Any]) -> None:
    promise = dataclasses.replace(sign_promise(SIGNER, 1234, LEAF_HASH, 1765000000000), **change)
    with pytest.raises(SignatureInvalid):
        verify_promise(promise, VKEY)


def test_a_flipped_signature_bit_fails() -> None:
    raw = bytearray(base64.b64decode(SIGNATURE))
    raw[-1] ^= 1
    promise = dataclasses.replace(
        sign_promise(SIGNER, 1234, LEAF_HASH, 1765000000000), signature=base64.b64encode(bytes(raw)).decode()
    )
    with pytest.raises(SignatureInvalid, match="does not cover"):
        verify_promise(promise, VKEY)


def test_another_key_of_the_same_name_fails() -> None:
    other = generate_signer("example.com/log")
    with pytest.raises(SignatureInvalid, match="key hash"):
        verify_promise(sign_promise(other, 1234, LEAF_HASH, 1765000000000), VKEY)


def test_another_log_fails() -> None:
    other = generate_signer("example.org/other")
    with pytest.raises(OriginMismatch):
        verify_promise(sign_promise(other, 1234, LEAF_HASH, 1765000000000), VKEY)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("format", "proveniq-ledger/inclusion-proof/v1"),
        ("leafIndex", -1),
        ("leafIndex", True),
        ("timestamp", "1765000000000"),
        ("leafHash", "zz"),
        ("origin", ""),
    ],
)
def test_malformed_documents_are_named(field: str, value: object) -> None:
    document = sign_promise(SIGNER, 1234, LEAF_HASH, 1765000000000).to_json() | {field: value}
    with pytest.raises(MalformedPromise):
        InclusionPromise.from_json(document)


def test_a_short_leaf_hash_is_refused() -> None:
    with pytest.raises(MalformedPromise, match="32 bytes"):
        sign_promise(SIGNER, 1234, LEAF_HASH[:31], 1765000000000)


def test_check_kept() -> None:
    promise = sign_promise(SIGNER, 1234, LEAF_HASH, 1765000000000)
    check_kept(promise, {"leafIndex": 1234, "leafHash": LEAF_HASH.hex()}, origin="example.com/log")
    with pytest.raises(PromiseBroken, match="leafIndex"):
        check_kept(promise, {"leafIndex": 1233, "leafHash": LEAF_HASH.hex()})
    with pytest.raises(PromiseBroken, match="leafHash"):
        check_kept(promise, {"leafIndex": 1234, "leafHash": leaf_hash(b"other").hex()})
    with pytest.raises(PromiseBroken, match="origin"):
        check_kept(promise, {"leafIndex": 1234, "leafHash": LEAF_HASH.hex()}, origin="example.org/other")
