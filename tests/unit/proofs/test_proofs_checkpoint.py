"""C2SP tlog-checkpoint bodies and signed checkpoints (proofs.checkpoint)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from proofs import (
    MAX_TREE_SIZE,
    Checkpoint,
    MalformedCheckpoint,
    OriginMismatch,
    SignatureInvalid,
    UnverifiedNote,
    format_body,
    generate_signer,
    leaf_hash,
    parse_body,
    sign_note,
    signed_checkpoint,
    verify_checkpoint,
)

ROOT = leaf_hash(b"root")
ROOT64 = base64.b64encode(ROOT).decode()
LOG = generate_signer("example.com/log")


def test_go_tlog_golden_body(note_vectors: Any) -> None:
    """format_body reproduces Go's FormatTree golden; parse_body reads it back."""
    vec = note_vectors["go_tlog_tree"]
    checkpoint = Checkpoint(vec["origin"], vec["size"], leaf_hash(vec["root_is_leaf_hash_of"].encode()))
    assert format_body(checkpoint) == vec["body"]
    assert parse_body(vec["body"]) == checkpoint
    assert parse_body(vec["wrong_origin_body"]).origin != vec["origin"]


def test_go_tlog_bad_bodies(note_vectors: Any) -> None:
    """Go's invalid tree bodies (hex size, bad base64) are MalformedCheckpoint."""
    for body in note_vectors["go_tlog_tree"]["bad_bodies"]:
        with pytest.raises(MalformedCheckpoint):
            parse_body(body)


def test_real_sum_golang_org_checkpoint_verifies(note_vectors: Any) -> None:
    """A real sum.golang.org signed checkpoint verifies with its published key and parses."""
    vec = note_vectors["sumdb_checkpoint"]
    checkpoint = verify_checkpoint(vec["note"], vec["vkey"], origin=vec["origin"])
    assert (checkpoint.origin, checkpoint.size) == (vec["origin"], vec["size"])
    assert checkpoint.root_hash == base64.b64decode(vec["root_hash_base64"])
    with pytest.raises(OriginMismatch):
        verify_checkpoint(vec["note"], vec["vkey"], origin="example.com/other-log")


def test_signed_checkpoint_round_trip_with_extensions() -> None:
    """signed_checkpoint then verify_checkpoint returns the same checkpoint, extensions included."""
    checkpoint = Checkpoint("example.com/log", 42, ROOT, ("ext one", "\u2014 ext two"))
    note = signed_checkpoint(checkpoint, LOG)
    assert note.startswith(f"example.com/log\n42\n{ROOT64}\next one\n\u2014 ext two\n\n\u2014 example.com/log ")
    assert verify_checkpoint(note, LOG.verifier().vkey) == checkpoint
    assert verify_checkpoint(note.encode(), LOG.verifier()) == checkpoint


def test_cosigned_checkpoint_verifies_with_log_key_alone() -> None:
    """A witness cosignature from a key the verifier does not know is ignored."""
    witness = generate_signer("example.com/witness")
    checkpoint = Checkpoint("example.com/log", 7, ROOT)
    note = signed_checkpoint(checkpoint, LOG, witness)
    assert verify_checkpoint(note, LOG.verifier()) == checkpoint


def test_tampered_checkpoints_are_rejected() -> None:
    """Changed size, root or signature fail; another key or renamed signer is unverified."""
    note = signed_checkpoint(Checkpoint("example.com/log", 42, ROOT), LOG)
    with pytest.raises(SignatureInvalid):
        verify_checkpoint(note.replace("\n42\n", "\n43\n"), LOG.verifier())
    with pytest.raises(SignatureInvalid):
        verify_checkpoint(note.replace(ROOT64, base64.b64encode(leaf_hash(b"other")).decode()), LOG.verifier())
    signature = note.rsplit(" ", 1)[1]
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    with pytest.raises(SignatureInvalid):
        verify_checkpoint(note.replace(signature, flipped), LOG.verifier())
    with pytest.raises(UnverifiedNote):
        verify_checkpoint(note, generate_signer("example.com/log").verifier())
    with pytest.raises(UnverifiedNote):
        verify_checkpoint(note.replace("\u2014 example.com/log", "\u2014 example.com/gol"), LOG.verifier())


def test_validly_signed_garbage_is_not_a_checkpoint() -> None:
    """A correctly signed note whose text is not a checkpoint raises MalformedCheckpoint."""
    note = sign_note("if this is a valid checkpoint then I'll eat my hat\n", LOG)
    with pytest.raises(MalformedCheckpoint):
        verify_checkpoint(note, LOG.verifier())


def _noncanonical(b64: str) -> str:
    """Same bytes, but with the unused low bits of the last base64 digit set."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = b64.rstrip("=")[-1]
    return b64.rstrip("=")[:-1] + alphabet[alphabet.index(last) | 1] + "="


@pytest.mark.parametrize(
    "body",
    [
        f"log\n42\n{ROOT64}",  # no final newline
        "log\n42\n",  # too few lines
        f"\n42\n{ROOT64}\n",  # empty origin
        f"log\n\n{ROOT64}\n",  # empty size
        f"log\n+42\n{ROOT64}\n",
        f"log\n-1\n{ROOT64}\n",
        f"log\n042\n{ROOT64}\n",  # leading zero
        f"log\n4 2\n{ROOT64}\n",
        f"log\n\u0664\u0662\n{ROOT64}\n",  # non-ASCII digits
        f"log\n{2**64}\n{ROOT64}\n",
        f"log\n{'9' * 40}\n{ROOT64}\n",
        f"log\n42\n{base64.b64encode(ROOT[:31]).decode()}\n",  # 31-byte root
        f"log\n42\n{ROOT64.rstrip('=')}\n",  # missing padding
        f"log\n42\n{_noncanonical(ROOT64)}\n",
        f"log\n42\n {ROOT64}\n",
        f"log\n42\n{ROOT64}\n\n",  # empty extension line
        f"log\n42\n{ROOT64}\next\n\nmore\n",
        f"log\r\n42\n{ROOT64}\n",  # control character
    ],
)
def test_malformed_bodies_are_rejected(body: str) -> None:
    """parse_body is strict: any deviation from the canonical body raises MalformedCheckpoint."""
    with pytest.raises(MalformedCheckpoint):
        parse_body(body)


def test_size_bounds() -> None:
    """Sizes 0 and 2**64-1 are valid, and the empty tree formats as size 0."""
    for size in (0, MAX_TREE_SIZE):
        checkpoint = Checkpoint("log", size, ROOT)
        assert parse_body(format_body(checkpoint)) == checkpoint


@pytest.mark.parametrize(
    "kwargs",
    [
        {"origin": ""},
        {"origin": "two\nlines"},
        {"size": -1},
        {"size": MAX_TREE_SIZE + 1},
        {"size": True},
        {"root_hash": ROOT[:31]},
        {"root_hash": "not bytes"},
        {"extensions": ("",)},
        {"extensions": ("a\nb",)},
        {"origin": "lone \ud800 surrogate"},
    ],
)
def test_invalid_checkpoints_cannot_be_built(kwargs: dict[str, Any]) -> None:
    """Checkpoint validates on construction, so it always formats to a parseable body."""
    fields: dict[str, Any] = {"origin": "log", "size": 1, "root_hash": ROOT, **kwargs}
    with pytest.raises(MalformedCheckpoint):
        Checkpoint(**fields)


def test_extensions_are_stored_as_a_tuple() -> None:
    """Extensions given as a list are kept as an immutable tuple."""
    assert Checkpoint("log", 1, ROOT, ["ext"]).extensions == ("ext",)  # type: ignore[arg-type]
