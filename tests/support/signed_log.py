"""A small signed log of real ledger envelopes, with its checkpoints, proofs and bundles (fuzzing seeds).

The valid documents that :mod:`tests.fuzz` mutates: what ``ledger proof verify`` and ``ledger audit
verify`` are given, built with the writers of :mod:`proofs` under a fixed key.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger_core.engine.envelope import EventDraft, encode_entry
from proofs import Checkpoint, CompactRange, inclusion_proof, leaf_hash, signed_checkpoint
from proofs.bundle import BUNDLE_FORMAT, BundleEntry, write_bundle
from proofs.checkpoint import verify_checkpoint
from proofs.note import NoteSigner

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SIGNER = NoteSigner("example.com/log", Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
VKEY = SIGNER.verifier().vkey


def _entries(count: int) -> list[bytes]:
    """``count`` real ledger envelopes of one aggregate, chained as the engine writes them."""
    out: list[bytes] = []
    for i in range(count):
        draft = EventDraft(
            event_id=f"00000000-0000-4000-8000-{i:012d}",
            type="claim.submitted" if i == 0 else "claim.reviewed",
            aggregate_type="claim",
            aggregate_id="claim-1",
            aggregate_version=i + 1,
            partner_id="fair_underwriting",
            payload={"amount": "12.50", "n": i},
        )
        prev = None if i == 0 else leaf_hash(out[-1])
        out.append(
            encode_entry(
                draft,
                position=i,
                prev=prev,
                aggregate_prev_position=None if i == 0 else i - 1,
                recorded_at="2026-12-06T12:00:00.000000Z",
            )
        )
    return out


class SignedTree:
    """A small signed log of real envelopes: its checkpoints, proofs and bundles."""

    def __init__(self, entries: list[bytes]) -> None:
        self.entries = entries
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.notes: dict[int, str] = {}
        compact = CompactRange()
        for i, entry in enumerate(entries):
            self.nodes.update({(n.level, n.index): n.hash for n in compact.append(leaf_hash(entry))})
            self.notes[i + 1] = signed_checkpoint(Checkpoint(SIGNER.name, i + 1, compact.root()), SIGNER)

    def fetch(self, ids: Iterable[Any]) -> dict[tuple[int, int], bytes]:
        return {i: self.nodes[i] for i in ids}

    def bundle(self, kind: str = BUNDLE_FORMAT) -> bytes:
        size = len(self.entries)
        out = io.StringIO()
        write_bundle(
            out,
            format=kind,
            checkpoint=self.notes[size],
            vkey=VKEY,
            tree_size=size,
            entries=[
                BundleEntry(i, entry, tuple(inclusion_proof(i, size, self.fetch)))
                for i, entry in enumerate(self.entries)
            ],
            subject={"partnerId": "fair_underwriting"} if kind == BUNDLE_FORMAT else {"aggregateId": "claim-1"},
        )
        return out.getvalue().encode("utf-8")

    def inclusion(self, index: int) -> bytes:
        size = len(self.entries)
        path = [h.hex() for h in inclusion_proof(index, size, self.fetch)]
        doc = {"leafIndex": index, "treeSize": size, "leafHash": leaf_hash(self.entries[index]).hex()}
        return json.dumps({**doc, "inclusionPath": path}).encode()


TREE = SignedTree(_entries(5))
CHECKPOINTS = {size: verify_checkpoint(note, VKEY) for size, note in TREE.notes.items()}
