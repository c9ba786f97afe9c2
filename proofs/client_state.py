"""A verifier's memory: the last checkpoint it verified, kept in a small file, checked against every other.

In the manner of immudb's client state and of transparency-log clients (RFC 9162 section 8.1.4: a
client keeps the tree head it trusts and requires a consistency proof from it to any newer one),
:class:`CheckpointState` remembers, per log origin, the largest checkpoint seen whose signature verified
(size, root hash, the signed note). Each newer or older checkpoint seen afterwards is compared with it:

* same size, other root: a **split view** (the log shows different histories to different clients);
* a consistency proof between the two that does not verify: the log was **rewritten**;
* the log's *latest* checkpoint smaller than the remembered one: a **rollback**.

The remembered checkpoint moves forward only when a consistency proof from it to the newer one has
verified; a checkpoint that could not be compared (no proof at hand) is reported as unchecked and does
not move it. The file is JSON, written atomically (``{"version": 1, "logs": {origin: {...}}}``).
Standard library and ``proofs`` only: the SDK ships this module.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from proofs.checkpoint import Checkpoint
from proofs.errors import ProofError
from proofs.verify import verify_consistency

__all__ = ["CheckpointState", "Comparison", "ConsistencyPath", "StateMismatch", "TrustedHead"]

STATE_VERSION = 1
ConsistencyPath = Callable[[int, int], Sequence[bytes] | None]
"""Fetches the RFC 9162 consistency path from one tree size to a larger one (e.g. from the server);
None when no such proof is at hand."""


class StateMismatch(ProofError):
    """A checkpoint contradicts the one this client verified before (split view, rewrite or rollback).

    ``kind`` is ``split view``, ``rewritten`` or ``rollback``; ``remembered`` and ``seen`` the two heads.
    """

    def __init__(self, kind: str, remembered: TrustedHead, seen: Checkpoint, reason: str) -> None:
        super().__init__(kind, remembered, seen, reason)
        self.kind, self.remembered, self.seen, self.reason = kind, remembered, seen, reason

    def __str__(self) -> str:
        return (
            f"{self.kind}: the log {self.seen.origin!r} showed size {self.seen.size} root"
            f" {self.seen.root_hash.hex()[:16]}, which {self.reason} (remembered size {self.remembered.size}"
            f" root {self.remembered.root_hash.hex()[:16]})"
        )


class Comparison(StrEnum):
    """What :meth:`CheckpointState.observe` concluded about a checkpoint."""

    FIRST = "first"  # nothing was remembered for this log: it is now
    SAME = "same"  # the remembered checkpoint itself
    ADVANCED = "advanced"  # newer, consistent with the remembered one: remembered now
    OLDER = "older"  # older, and the remembered one extends it
    UNCHECKED = "unchecked"  # no consistency proof at hand: neither trusted nor refused


@dataclass(frozen=True)
class TrustedHead:
    """The remembered checkpoint of one log."""

    origin: str
    size: int
    root_hash: bytes
    note: str


class CheckpointState:
    """The remembered checkpoints, per origin, in ``path`` (None: in memory only)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._heads: dict[str, TrustedHead] = {}
        if path is not None and path.exists():
            self._heads = _read(path)

    def remembered(self, origin: str) -> TrustedHead | None:
        return self._heads.get(origin)

    def needed(self, head: Checkpoint) -> tuple[int, int] | None:
        """The (older, newer) sizes of the consistency proof :meth:`observe` needs for ``head``, or None."""
        known = self._heads.get(head.origin)
        if known is None or known.size == head.size:
            return None
        return (min(known.size, head.size), max(known.size, head.size))

    def observe(
        self, head: Checkpoint, note: str, consistency: ConsistencyPath | None = None, *, latest: bool = False
    ) -> Comparison:
        """Compare a checkpoint whose signature has verified with the remembered one; raise
        :class:`StateMismatch` on a contradiction. ``latest``: the log presented it as its newest."""
        known = self._heads.get(head.origin)
        if known is None:
            self._remember(TrustedHead(head.origin, head.size, head.root_hash, note))
            return Comparison.FIRST
        if head.size == known.size:
            if head.root_hash != known.root_hash:
                raise StateMismatch("split view", known, head, "is another root for the same size")
            return Comparison.SAME
        if head.size < known.size and latest:
            raise StateMismatch("rollback", known, head, "is older than a checkpoint this client already verified")
        old, new = (known.size, known.root_hash), (head.size, head.root_hash)
        if head.size < known.size:
            old, new = new, old
        path = None if consistency is None else consistency(old[0], new[0])
        if path is None:
            return Comparison.UNCHECKED
        try:
            verify_consistency(old[0], new[0], old[1], new[1], list(path))
        except ProofError as error:
            raise StateMismatch("rewritten", known, head, f"is not consistent with it ({error})") from error
        if head.size < known.size:
            return Comparison.OLDER
        self._remember(TrustedHead(head.origin, head.size, head.root_hash, note))
        return Comparison.ADVANCED

    def _remember(self, head: TrustedHead) -> None:
        self._heads[head.origin] = head
        if self.path is not None:
            _write(self.path, self._heads)


def _read(path: Path) -> dict[str, TrustedHead]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("version") != STATE_VERSION:
            raise ValueError(f"unknown version {doc.get('version')!r}")
        return {
            origin: TrustedHead(origin, int(item["size"]), base64.b64decode(item["rootHash"]), str(item["note"]))
            for origin, item in doc["logs"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError, binascii.Error) as error:
        raise ProofError(f"the checkpoint state file {path} cannot be read: {error}") from None


def _write(path: Path, heads: dict[str, TrustedHead]) -> None:
    doc = {
        "version": STATE_VERSION,
        "logs": {
            origin: {"size": head.size, "rootHash": base64.b64encode(head.root_hash).decode(), "note": head.note}
            for origin, head in sorted(heads.items())
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(doc, out, indent=2, sort_keys=True)
        out.write("\n")
    os.replace(temporary, path)
