"""Verifying the stored Merkle tree and every signed checkpoint against the log (pure; ports only).

:func:`verify_tree_and_checkpoints` streams the log's leaf hashes through a ``proofs.CompactRange``
(O(log n) memory plus one chunk), and checks:

* every node the stored tiles hold or imply (C2SP tlog-tiles, leaves included) equals the node
  recomputed from the leaves, none is missing, and no extra one is stored (count check);
* every checkpoint's root column and note body equal the recomputed root at its size;
* every checkpoint's signature verifies against the trusted verifier keys (when any are given);
* each checkpoint is consistent with the next: an RFC 9162 consistency proof is built from the
  stored nodes and verified against the two signed roots;
* the log is not shorter than the latest checkpoint (truncation, which the hash chain alone cannot
  see).

The leaf hashes are taken from the log's ``leaf_hash`` column; :class:`~ledger_core.engine.chain.ChainVerifier`
(run first by ``ledger verify``) checks that column against the entry bytes. The first fault raises a
:class:`~ledger_core.engine.merkle.TreeIntegrityError` carrying position or size, expected and found.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ledger_core.engine.merkle import (
    CheckpointInconsistent,
    CheckpointMismatch,
    CheckpointRecord,
    CheckpointSignatureInvalid,
    LogTruncated,
    NodeMismatch,
    TreeIntegrityError,
)
from ledger_core.engine.ports import TreeStore
from proofs.checkpoint import Checkpoint
from proofs.errors import ProofError
from proofs.note import NoteVerifier, open_note
from proofs.prove import consistency_proof
from proofs.tree import CompactRange, NodeId
from proofs.verify import verify_consistency

__all__ = ["TreeSummary", "verify_tree_and_checkpoints"]

CHUNK = 10_000
_PAGE = 1000


@dataclass(frozen=True, slots=True)
class TreeSummary:
    """What an intact tree proved."""

    log_size: int
    integrated_size: int
    checkpoints: int
    nodes: int
    signatures_checked: bool
    latest: CheckpointRecord | None


def _checkpoints(store: TreeStore) -> Iterator[CheckpointRecord]:
    after = 0
    while page := store.checkpoints(after, _PAGE):
        yield from page
        after = page[-1].size


def verify_tree_and_checkpoints(
    store: TreeStore,
    verifiers: Sequence[NoteVerifier] = (),
    *,
    progress: Callable[[int, int], Any] | None = None,
    chunk: int = CHUNK,
) -> TreeSummary:
    """Recompute the tree from the leaf hashes and check nodes and checkpoints; raise at the first fault.

    ``verifiers`` are the trusted checkpoint keys; with none, signatures are not checked (the summary
    says so). ``progress(done, total)`` is called after each chunk of leaves.
    """
    latest = store.latest_checkpoint()
    integrated = 0 if latest is None else latest.size
    log_size = store.log_size()
    if log_size < integrated:
        raise LogTruncated(integrated, log_size)
    compact = CompactRange()
    pending = _checkpoints(store)
    target = next(pending, None)
    previous: tuple[CheckpointRecord, Checkpoint] | None = None
    count = nodes = 0
    position = 0
    while position < integrated:
        stop = min(integrated, position + chunk, target.size if target is not None else integrated)
        hashes = store.leaf_hashes(position, stop)
        if len(hashes) != stop - position:
            raise TreeIntegrityError(
                f"log entries missing in [{position}, {stop})", position, f"{stop - position} leaves", str(len(hashes))
            )
        created = [node for digest in hashes for node in compact.append(digest)]
        stored = dict(store.nodes_completed_in(position, stop))
        for node in created:
            found = stored.pop(node.id, None)
            if found is None or bytes(found) != node.hash:
                raise NodeMismatch(node.level, node.index, node.hash.hex(), "nothing" if found is None else found.hex())
        if stored:
            level, index = min(stored)
            raise NodeMismatch(level, index, "no node", bytes(stored[NodeId(level, index)]).hex())
        nodes += len(created)
        position = stop
        if target is not None and position == target.size:
            body = _check_checkpoint(target, compact.root(), verifiers)
            if previous is not None:
                _check_consistency(store, previous, (target, body))
            previous = (target, body)
            count += 1
            target = next(pending, None)
        if progress is not None:
            progress(position, integrated)
    expected_nodes = 2 * integrated - integrated.bit_count()  # perfect nodes of level >= 0 over [0, integrated)
    stored_nodes = store.count_nodes()
    if stored_nodes != expected_nodes:
        raise TreeIntegrityError("stored node count", integrated, str(expected_nodes), str(stored_nodes))
    if target is not None:  # a checkpoint row that is not on the way to the latest: impossible unless edited
        raise CheckpointMismatch(target.size, f"a size <= {integrated}", str(target.size), "checkpoint order")
    return TreeSummary(log_size, integrated, count, nodes, bool(verifiers), latest)


def _check_checkpoint(record: CheckpointRecord, root: bytes, verifiers: Sequence[NoteVerifier]) -> Checkpoint:
    if record.root_hash != root:
        raise CheckpointMismatch(record.size, root.hex(), record.root_hash.hex(), "stored root")
    try:
        body = record.body()
    except ProofError as error:
        raise CheckpointMismatch(record.size, "a C2SP checkpoint note", str(error), "note body") from error
    if body.size != record.size:
        raise CheckpointMismatch(record.size, str(record.size), str(body.size), "note body size")
    if body.root_hash != root:
        raise CheckpointMismatch(record.size, root.hex(), body.root_hash.hex(), "note body root")
    if verifiers:
        try:
            open_note(record.note, verifiers)
        except ProofError as error:
            keys = ", ".join(v.vkey for v in verifiers)
            raise CheckpointSignatureInvalid(record.size, f"a valid signature by {keys}", str(error)) from error
    return body


def _check_consistency(
    store: TreeStore, old: tuple[CheckpointRecord, Checkpoint], new: tuple[CheckpointRecord, Checkpoint]
) -> None:
    (old_record, old_body), (new_record, new_body) = old, new
    try:
        path = consistency_proof(old_record.size, new_record.size, store.fetch_nodes)
        verify_consistency(old_record.size, new_record.size, old_body.root_hash, new_body.root_hash, path)
    except ProofError as error:
        raise CheckpointInconsistent(
            old_record.size, new_record.size, "a valid consistency proof", str(error)
        ) from error
