"""verify_tree_and_checkpoints over an in-memory store: every kind of damage is caught, with evidence."""

from __future__ import annotations

import base64
import dataclasses

import pytest

from ledger_core.engine.merkle import (
    CheckpointInconsistent,
    CheckpointMismatch,
    CheckpointSignatureInvalid,
    LogTruncated,
    NodeMismatch,
    TreeIntegrityError,
)
from ledger_core.engine.sealing import Sealer
from ledger_core.engine.tree_verification import verify_tree_and_checkpoints
from proofs import Checkpoint, signed_checkpoint
from proofs.note import NoteSigner, generate_signer

from .conftest import ORIGIN
from .fakes import MemoryLog, MemoryTreeStore


@pytest.fixture
def sealed(log: MemoryLog, sealer: Sealer, store: MemoryTreeStore) -> MemoryTreeStore:
    """A log of 130 entries sealed as checkpoints 50, 100, 120, 130."""
    for i in range(120):
        log.append(f"a{i % 5}")
    sealer.seal_all()
    for i in range(10):
        log.append(f"b{i}")
    sealer.seal_all()
    return store


def test_intact_tree_verifies(sealed: MemoryTreeStore, signer: NoteSigner) -> None:
    """An untouched tree: every node, checkpoint, signature and consistency checks out."""
    summary = verify_tree_and_checkpoints(sealed, [signer.verifier()], chunk=17)
    assert (summary.integrated_size, summary.checkpoints, summary.nodes) == (130, 4, 2 * 130 - (130).bit_count())
    assert summary.signatures_checked


def test_empty_store_verifies(store: MemoryTreeStore) -> None:
    """No entries, no checkpoints: nothing to contradict."""
    summary = verify_tree_and_checkpoints(store)
    assert (summary.integrated_size, summary.checkpoints, summary.signatures_checked) == (0, 0, False)


def test_unsealed_tail_is_not_an_error(sealed: MemoryTreeStore, log: MemoryLog) -> None:
    """Entries after the latest checkpoint are simply not integrated yet."""
    log.append("late")
    assert verify_tree_and_checkpoints(sealed).log_size == 131


def test_tampered_node_names_it(sealed: MemoryTreeStore) -> None:
    """A changed hash in a stored tile is reported by (level, index) with the recomputed and stored hashes."""
    tile = sealed.tiles[(0, 0)]
    original = tile[28 * 32 : 29 * 32]
    sealed.corrupt_tile((0, 0), tile[: 28 * 32] + b"\x01" * 32 + tile[29 * 32 :])
    with pytest.raises(NodeMismatch) as caught:
        verify_tree_and_checkpoints(sealed, chunk=16)
    error = caught.value
    assert (error.level, error.index, error.position) == (0, 28, 28)
    assert (error.expected, error.found) == (original.hex(), "01" * 32)


def test_missing_node(sealed: MemoryTreeStore) -> None:
    """A tile cut short is reported as found: nothing."""
    sealed.corrupt_tile((0, 0), sealed.tiles[(0, 0)][: 32 * 100])
    with pytest.raises(NodeMismatch, match="nothing"):
        verify_tree_and_checkpoints(sealed)


def test_extra_node_beyond_the_tree(sealed: MemoryTreeStore) -> None:
    """A tile the tree cannot have (beyond the latest checkpoint) fails the count check."""
    sealed.corrupt_tile((0, 500), b"\x02" * 32)
    with pytest.raises(TreeIntegrityError, match="node count"):
        verify_tree_and_checkpoints(sealed)


def test_tampered_checkpoint_root_column(sealed: MemoryTreeStore) -> None:
    """A checkpoint whose stored root differs from the recomputed root is caught at its size."""
    sealed.records[100] = dataclasses.replace(sealed.records[100], root_hash=b"\x03" * 32)
    with pytest.raises(CheckpointMismatch) as caught:
        verify_tree_and_checkpoints(sealed)
    assert (caught.value.size, caught.value.reason, caught.value.found) == (100, "stored root", "03" * 32)


def test_tampered_checkpoint_body(sealed: MemoryTreeStore) -> None:
    """A note whose body states another root is caught even if the root column is right."""
    record = sealed.records[50]
    other = base64.b64encode(b"\x04" * 32).decode()
    lines = record.note.split("\n")
    lines[2] = other
    sealed.records[50] = dataclasses.replace(record, note="\n".join(lines))
    with pytest.raises(CheckpointMismatch, match="note body root"):
        verify_tree_and_checkpoints(sealed)


def test_body_edit_with_a_resigned_note_fails_the_signature(sealed: MemoryTreeStore, signer: NoteSigner) -> None:
    """A checkpoint re-signed by another key (right root, wrong signer) fails the signature check."""
    record = sealed.records[120]
    forged = signed_checkpoint(Checkpoint(ORIGIN, 120, record.root_hash), generate_signer(ORIGIN))
    sealed.records[120] = dataclasses.replace(record, note=forged)
    verify_tree_and_checkpoints(sealed)  # without trusted keys only structure is checked
    with pytest.raises(CheckpointSignatureInvalid) as caught:
        verify_tree_and_checkpoints(sealed, [signer.verifier()])
    assert caught.value.size == 120


def test_flipped_signature_byte(sealed: MemoryTreeStore, signer: NoteSigner) -> None:
    """One changed byte of the signature fails verification."""
    record = sealed.records[130]
    blob_start = record.note.rindex(" ") + 1
    blob = bytearray(base64.b64decode(record.note[blob_start:]))
    blob[10] ^= 1
    note = record.note[:blob_start] + base64.b64encode(bytes(blob)).decode() + "\n"
    sealed.records[130] = dataclasses.replace(record, note=note)
    with pytest.raises(CheckpointSignatureInvalid, match="does not verify"):
        verify_tree_and_checkpoints(sealed, [signer.verifier()])


def test_truncated_log(sealed: MemoryTreeStore, log: MemoryLog) -> None:
    """Removing the newest entries is caught: the log is shorter than the latest checkpoint."""
    del log.rows[125:]
    with pytest.raises(LogTruncated) as caught:
        verify_tree_and_checkpoints(sealed)
    assert (caught.value.checkpoint_size, caught.value.log_size) == (130, 125)


def test_inconsistent_checkpoints(sealed: MemoryTreeStore, signer: NoteSigner) -> None:
    """A consistency proof between two checkpoints that fails (a store serving a wrong node) names both sizes."""
    fetch = sealed.fetch_nodes

    def corrupt(ids):  # type: ignore[no-untyped-def]
        found = dict(fetch(ids))
        for node in found:
            if node.level == 5:
                found[node] = b"\x05" * 32
        return found

    sealed.fetch_nodes = corrupt  # type: ignore[method-assign]
    with pytest.raises(CheckpointInconsistent) as caught:
        verify_tree_and_checkpoints(sealed, [signer.verifier()])
    assert (caught.value.old_size, caught.value.new_size) == (50, 100)
