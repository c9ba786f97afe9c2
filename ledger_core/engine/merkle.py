"""The Merkle tree beside the log: stored checkpoint records and the errors that carry tree evidence.

The tree over the log's leaf hashes is stored as its perfect-subtree nodes (``proofs.tree``); a
checkpoint is a signed C2SP tlog-checkpoint note of one tree size. These records and errors are shared
by sealing (:mod:`ledger_core.engine.sealing`), proofs (:mod:`ledger_core.engine.auditing`) and verification
(:mod:`ledger_core.engine.tree_verification`). Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger_core.engine.errors import IntegrityViolation, LedgerError
from proofs.checkpoint import Checkpoint, parse_body
from proofs.errors import MalformedNote


@dataclass(frozen=True, slots=True)
class CheckpointRecord:
    """A signed checkpoint as stored: tree ``size``, ``root_hash``, the signed ``note`` and ``signed_at``."""

    size: int
    root_hash: bytes
    note: str
    signed_at: str

    def body(self) -> Checkpoint:
        """The checkpoint the note's text states (signature NOT checked); raises ``MalformedCheckpoint``."""
        return parse_body(note_text(self.note))


def note_text(note: str) -> str:
    """The signed text of a C2SP signed note (everything up to the blank line), without verifying it."""
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNote("no blank line before the signatures")
    return note[: split + 1]


class NotSealed(LedgerError):
    """No checkpoint covers what was asked for (yet): the sealer has not integrated it."""

    code = "NOT_SEALED"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, **details)


class CheckpointNotFound(LedgerError):
    """No checkpoint of the asked tree ``size`` has been signed (``size`` None: none at all yet)."""

    code = "CHECKPOINT_NOT_FOUND"

    def __init__(self, size: int | None) -> None:
        what = "no checkpoint has been signed yet" if size is None else f"no checkpoint of size {size}"
        super().__init__(what, size=size)
        self.size = size


class SealConflict(LedgerError):
    """Another sealer integrated first: the tree is no longer at ``expected`` size. Retry from the new state."""

    code = "SEAL_CONFLICT"

    def __init__(self, expected: int, found: int) -> None:
        super().__init__(
            f"tree moved from size {expected} to {found} under this sealer", expected=expected, found=found
        )
        self.expected = expected
        self.found = found


class TreeIntegrityError(IntegrityViolation):
    """Stored tree data (nodes, checkpoints) disagrees with the log or with itself.

    ``position`` is the leaf position (or tree size) where the evidence is, ``expected`` what the log
    commits to, ``found`` what is stored.
    """

    code = "TREE_INTEGRITY"

    def __init__(self, message: str, position: int, expected: str, found: str, **details: Any) -> None:
        super().__init__(
            f"{message}: expected {expected}, found {found}", position, expected=expected, found=found, **details
        )
        self.expected = expected
        self.found = found


class NodeMismatch(TreeIntegrityError):
    """A stored node (level >= 1) differs from the node recomputed from the leaf hashes, or is missing/extra."""

    code = "TREE_NODE_MISMATCH"

    def __init__(self, level: int, index: int, expected: str, found: str) -> None:
        super().__init__(
            f"stored tree node ({level}, {index}) is wrong", index << level, expected, found, level=level, index=index
        )
        self.level = level
        self.index = index


class CheckpointMismatch(TreeIntegrityError):
    """A checkpoint's root (column or note body) differs from the tree recomputed at its size."""

    code = "CHECKPOINT_MISMATCH"

    def __init__(self, size: int, expected: str, found: str, reason: str) -> None:
        super().__init__(f"checkpoint at size {size} ({reason})", size, expected, found, size=size, reason=reason)
        self.size = size
        self.reason = reason


class CheckpointSignatureInvalid(TreeIntegrityError):
    """A stored checkpoint note does not verify against any trusted verifier key."""

    code = "CHECKPOINT_SIGNATURE_INVALID"

    def __init__(self, size: int, expected: str, found: str) -> None:
        super().__init__(f"checkpoint at size {size} has no valid signature", size, expected, found, size=size)
        self.size = size


class CheckpointInconsistent(TreeIntegrityError):
    """Two consecutive checkpoints are not consistent (the later tree does not extend the earlier one)."""

    code = "CHECKPOINT_INCONSISTENT"

    def __init__(self, old_size: int, new_size: int, expected: str, found: str) -> None:
        super().__init__(
            f"checkpoint {new_size} does not extend checkpoint {old_size}",
            new_size,
            expected,
            found,
            old_size=old_size,
            new_size=new_size,
        )
        self.old_size = old_size
        self.new_size = new_size


class LogTruncated(TreeIntegrityError):
    """The log holds fewer entries than a signed checkpoint says it had: entries were removed."""

    code = "LOG_TRUNCATED"

    def __init__(self, checkpoint_size: int, log_size: int) -> None:
        super().__init__(
            f"log is shorter than checkpoint {checkpoint_size}",
            log_size,
            f">= {checkpoint_size} entries",
            f"{log_size} entries",
            checkpoint_size=checkpoint_size,
            log_size=log_size,
        )
        self.checkpoint_size = checkpoint_size
        self.log_size = log_size


class RolledBack(TreeIntegrityError):
    """The database's newest checkpoint is older than (or differs from) the last one this log published.

    The published checkpoint is kept outside the database (beside the signing key): a database restored
    from an old backup, or with its newest entries, tree rows and checkpoints deleted, shows here.
    """

    code = "ROLLBACK_DETECTED"

    def __init__(self, published: int, found: int, expected: str, found_root: str, where: str) -> None:
        super().__init__(
            f"the log published checkpoint {published} (recorded in {where}) but the database's newest is {found}",
            published,
            expected,
            found_root,
            published=published,
            found_size=found,
            file=where,
        )
        self.published = published
        self.found_size = found
