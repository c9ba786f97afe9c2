"""Writers and parsers agree (issue 18 item 14b): whatever a writer of :mod:`proofs` produces, its parser
reads back unchanged, for signed notes, checkpoints, verifier and signer keys, proof documents and
bundles. A value the writer accepts and the parser refuses (or reads differently) would be a document
the ledger publishes and an auditor cannot check.
"""

from __future__ import annotations

import io
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from proofs import Checkpoint, format_body, parse_body, signed_checkpoint, verify_checkpoint
from proofs.bundle import (
    BUNDLE_FORMAT,
    BundleEntry,
    ConsistencyProof,
    InclusionProof,
    parse_bundle,
    parse_proof,
    write_bundle,
)
from proofs.hashing import leaf_hash
from proofs.note import NoteSigner, format_skey, open_note, parse_skey, parse_vkey, sign_note

ROUND_TRIPS = settings(max_examples=120, deadline=None, derandomize=True, database=None)
# one line of a note: UTF-8 (no lone surrogates), no control characters (c2sp.org/signed-note)
LINE = st.text(st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=40)
NAME = st.text(st.characters(exclude_categories=["Cs", "Cc", "Zs", "Zl", "Zp"], exclude_characters="+"), min_size=1)
HASH = st.binary(min_size=32, max_size=32)
SIZE = st.integers(0, 2**64 - 1)


def signer(name: str, seed: bytes) -> NoteSigner:
    return NoteSigner(name, Ed25519PrivateKey.from_private_bytes(seed))


@ROUND_TRIPS
@given(name=NAME.filter(lambda n: not any(ch.isspace() for ch in n)), seed=HASH)
def test_keys_round_trip(name: str, seed: bytes) -> None:
    key = signer(name, seed)
    assert parse_vkey(key.verifier().vkey).vkey == key.verifier().vkey
    assert format_skey(parse_skey(format_skey(key))) == format_skey(key)


@ROUND_TRIPS
@given(lines=st.lists(LINE, min_size=1, max_size=6), seed=HASH)
def test_signed_notes_round_trip(lines: list[str], seed: bytes) -> None:
    key = signer("example.com/log", seed)
    text = "".join(line + "\n" for line in lines)
    assert open_note(sign_note(text, key), [key.verifier()]) == (text, ["example.com/log"])


@ROUND_TRIPS
@given(origin=LINE, size=SIZE, root=HASH, extensions=st.lists(LINE, max_size=3), seed=HASH)
def test_checkpoints_round_trip(origin: str, size: int, root: bytes, extensions: list[str], seed: bytes) -> None:
    checkpoint = Checkpoint(origin, size, root, tuple(extensions))
    assert parse_body(format_body(checkpoint)) == checkpoint
    key = signer("example.com/log", seed)
    assert verify_checkpoint(signed_checkpoint(checkpoint, key), key.verifier()) == checkpoint


@ROUND_TRIPS
@given(index=SIZE, size=SIZE, leaf=HASH, path=st.lists(HASH, max_size=64))
def test_proof_documents_round_trip(index: int, size: int, leaf: bytes, path: list[bytes]) -> None:
    inclusion = InclusionProof(index, size, leaf, tuple(path))
    assert parse_proof(json.loads(json.dumps(inclusion.to_json()))) == inclusion
    consistency = ConsistencyProof(index, size, tuple(path))
    assert parse_proof(json.loads(json.dumps(consistency.to_json()))) == consistency


@ROUND_TRIPS
@given(
    entries=st.lists(st.tuples(SIZE, st.binary(max_size=64), st.lists(HASH, max_size=4)), max_size=5),
    size=SIZE,
    subject=st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3),
)
def test_bundles_round_trip(entries: list[tuple[int, bytes, list[bytes]]], size: int, subject: dict[str, str]) -> None:
    written = [BundleEntry(index, entry, tuple(path)) for index, entry, path in entries]
    out = io.StringIO()
    write_bundle(
        out, format=BUNDLE_FORMAT, checkpoint="c\n", vkey="v", tree_size=size, entries=written, subject=subject
    )
    bundle = parse_bundle(out.getvalue())
    assert (bundle.format, bundle.tree_size, bundle.checkpoint, bundle.vkey) == (BUNDLE_FORMAT, size, "c\n", "v")
    assert bundle.subject == subject
    assert [(e.leaf_index, e.entry, e.inclusion_path) for e in bundle.entries] == [
        (e.leaf_index, e.entry, e.inclusion_path) for e in written
    ]
    assert [e.stated_leaf_hash for e in bundle.entries] == [leaf_hash(e.entry) for e in written]
