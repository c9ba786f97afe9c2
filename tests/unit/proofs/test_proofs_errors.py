"""The error hierarchy: every error is a ProofError, carries evidence and prints readably."""

from __future__ import annotations

import pickle

import pytest

from proofs import (
    InvalidIndex,
    InvalidProofShape,
    InvalidRange,
    InvalidTreeSizes,
    MalformedCheckpoint,
    MalformedKey,
    MalformedNote,
    MissingNodes,
    OriginMismatch,
    ProofError,
    RootMismatch,
    SignatureInvalid,
    UnverifiedNote,
)

ERRORS = [
    RootMismatch(b"\x01" * 32, b"\x02" * 32, 5),
    RootMismatch(b"\x01" * 32, b"\x02" * 32),
    InvalidProofShape("too short"),
    InvalidIndex(5, 5),
    InvalidTreeSizes(6, 5),
    InvalidRange(1, 4, "not a subtree"),
    MissingNodes(tuple((0, i) for i in range(10))),
    MalformedCheckpoint("no origin"),
    OriginMismatch("log-a", "log-b"),
    MalformedNote("no blank line"),
    MalformedKey("bad hash"),
    SignatureInvalid("example.com/log", "does not verify"),
    UnverifiedNote(("a+01020304",)),
    UnverifiedNote(()),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_errors_are_proof_errors_that_print_and_pickle(error: ProofError) -> None:
    """Each error derives from ProofError, has a non-empty str and survives pickling with its attributes."""
    assert isinstance(error, ProofError)
    assert str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert vars(copy) == vars(error)


def test_root_mismatch_prints_hex() -> None:
    """RootMismatch renders both roots as hex, calculated first, with the tree size."""
    text = str(RootMismatch(b"\xaa" * 32, b"\xbb" * 32, 7))
    assert text == f"root mismatch for tree size 7: calculated {'bb' * 32}, expected {'aa' * 32}"


def test_argument_errors_are_value_errors() -> None:
    """Errors about impossible arguments are also ValueErrors; verification failures are not."""
    assert isinstance(InvalidIndex(1, 1), ValueError)
    assert isinstance(InvalidTreeSizes(2, 1), ValueError)
    assert isinstance(InvalidRange(1, 4, "x"), ValueError)
    assert not isinstance(RootMismatch(b"", b""), ValueError)


def test_origin_mismatch_is_a_malformed_checkpoint() -> None:
    """OriginMismatch keeps both origins and is caught as MalformedCheckpoint."""
    err = OriginMismatch("log-a", "log-b")
    assert isinstance(err, MalformedCheckpoint)
    assert (err.expected, err.found) == ("log-a", "log-b")
    assert "log-a" in str(err)
    assert "log-b" in str(err)
