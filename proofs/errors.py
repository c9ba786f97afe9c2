"""Errors raised by `proofs`: one hierarchy, every error carrying its evidence.

All errors derive from `ProofError`. Errors about bad arguments (an index or a
range that cannot exist) also derive from `ValueError`. Attributes are public so
an API layer can render them; `str()` renders hashes as hex.
"""

from __future__ import annotations

__all__ = [
    "InvalidIndex",
    "InvalidProofShape",
    "InvalidRange",
    "InvalidTreeSizes",
    "MalformedCheckpoint",
    "MalformedKey",
    "MalformedNote",
    "MissingNodes",
    "OriginMismatch",
    "ProofError",
    "RootMismatch",
    "SignatureInvalid",
    "UnverifiedNote",
]


class ProofError(Exception):
    """Base class of every error raised by the `proofs` package."""


class RootMismatch(ProofError):
    """A proof was well formed but hashes to a root other than the trusted one.

    `expected` is the root the caller supplied (e.g. from a checkpoint),
    `calculated` the root the proof leads to; `tree_size` names the tree when known.
    """

    def __init__(self, expected: bytes, calculated: bytes, tree_size: int | None = None) -> None:
        super().__init__(expected, calculated, tree_size)
        self.expected = expected
        self.calculated = calculated
        self.tree_size = tree_size

    def __str__(self) -> str:
        where = f" for tree size {self.tree_size}" if self.tree_size is not None else ""
        return f"root mismatch{where}: calculated {self.calculated.hex()}, expected {self.expected.hex()}"


class InvalidProofShape(ProofError):
    """A proof has the wrong number of hashes, or a proof, stored or leaf hash has the wrong length."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"invalid proof shape: {self.reason}"


class InvalidIndex(ProofError, ValueError):
    """A leaf index outside [0, size) (RFC 9162 §2.1.3: 0 <= index < tree_size)."""

    def __init__(self, index: int, size: int) -> None:
        super().__init__(index, size)
        self.index = index
        self.size = size

    def __str__(self) -> str:
        return f"leaf index {self.index} is not in a tree of size {self.size}"


class InvalidTreeSizes(ProofError, ValueError):
    """A consistency request whose sizes are not 0 <= old_size <= new_size."""

    def __init__(self, old_size: int, new_size: int) -> None:
        super().__init__(old_size, new_size)
        self.old_size = old_size
        self.new_size = new_size

    def __str__(self) -> str:
        return f"tree sizes must satisfy 0 <= old <= new, got old={self.old_size} new={self.new_size}"


class InvalidRange(ProofError, ValueError):
    """A leaf range [begin, end) that is not a subtree of the Merkle tree, or a corrupt frontier."""

    def __init__(self, begin: int, end: int, reason: str) -> None:
        super().__init__(begin, end, reason)
        self.begin = begin
        self.end = end
        self.reason = reason

    def __str__(self) -> str:
        return f"invalid range [{self.begin}, {self.end}): {self.reason}"


class MissingNodes(ProofError):
    """The node store did not return hashes for these `(level, index)` node ids."""

    def __init__(self, node_ids: tuple[tuple[int, int], ...]) -> None:
        super().__init__(node_ids)
        self.node_ids = node_ids

    def __str__(self) -> str:
        shown = ", ".join(f"({level}, {index})" for level, index in self.node_ids[:8])
        more = f" and {len(self.node_ids) - 8} more" if len(self.node_ids) > 8 else ""
        return f"node store is missing node(s) {shown}{more}"


class MalformedCheckpoint(ProofError):
    """A checkpoint body that is not a strict C2SP tlog-checkpoint."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"malformed checkpoint: {self.reason}"


class OriginMismatch(MalformedCheckpoint):
    """A validly signed checkpoint from another log than the one expected."""

    def __init__(self, expected: str, found: str) -> None:
        super().__init__(f"origin {found!r}, expected {expected!r}")
        self.args = (expected, found)
        self.expected = expected
        self.found = found


class MalformedNote(ProofError):
    """A signed note that does not follow the C2SP signed-note format."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"malformed note: {self.reason}"


class MalformedKey(ProofError, ValueError):
    """A key, key name, or verifier/signer key string that cannot be used."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"malformed key: {self.reason}"


class SignatureInvalid(ProofError):
    """A signature line from a known key (name and key hash match) failed to verify."""

    def __init__(self, key_name: str, reason: str) -> None:
        super().__init__(key_name, reason)
        self.key_name = key_name
        self.reason = reason

    def __str__(self) -> str:
        return f"invalid signature by {self.key_name}: {self.reason}"


class UnverifiedNote(ProofError):
    """No signature in the note came from a known key (C2SP signed-note: MUST reject).

    `signers` lists the `name+keyhash` of every signature that was present.
    """

    def __init__(self, signers: tuple[str, ...]) -> None:
        super().__init__(signers)
        self.signers = signers

    def __str__(self) -> str:
        found = ", ".join(self.signers) if self.signers else "none"
        return f"note has no signature from a known key (signatures by: {found})"
