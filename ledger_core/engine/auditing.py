"""Proof services over the stored tree, and the offline checks that need to read envelopes (pure; ports only).

Serving (:class:`ProofService`): inclusion proofs for positions against a checkpoint (default the
latest), consistency proofs between two checkpoints, a per-aggregate **history proof**, and the
entries of a partner's **audit bundle**. Every proof is built from ONE batched node read
(``TreeStore.fetch_nodes``); many proofs share reads in chunks. Given the sealer's
:class:`~ledger_core.engine.right_edge.RightEdge`, inclusion proofs of recent entries read no node at all.

History proofs: the entries of one aggregate, version 1 to its head at a checkpoint, each with an
inclusion proof. An auditor checks offline (:func:`verify_history`) that every entry is in the
checkpointed tree at its stated position, that versions run 1, 2, ..., k, and that each entry's
``aggregate.prevPosition`` is the previous entry's position (null for version 1). Because every
entry commits to its back-link, no event can be left out *between* version 1 and the last entry
shown. What one proof cannot show on its own is that the last entry is the head, i.e. that no
version k+1 exists before the checkpoint: absence is not provable from inclusion proofs. It is
exposed by any later history proof of the same aggregate (its version k+1 would sit at a position
below this checkpoint's size) and by a full audit of the log (``ledger verify``); see docs/proofs.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from ledger_core.engine.envelope import decode_entry
from ledger_core.engine.errors import MalformedEntry
from ledger_core.engine.merkle import CheckpointRecord, NotSealed
from ledger_core.engine.ports import LogReader, PartnerLogReader, TreeStore
from ledger_core.engine.right_edge import RightEdge
from proofs.bundle import (
    BUNDLE_FORMAT,
    HISTORY_FORMAT,
    Bundle,
    BundleEntry,
    BundleInvalid,
    BundleReport,
    ConsistencyProof,
    InclusionProof,
    verify_bundle,
)
from proofs.note import NoteVerifier
from proofs.prove import consistency_proof, inclusion_proof_ids
from proofs.tree import NodeId

__all__ = [
    "HistoryProof",
    "HistorySummary",
    "ProofService",
    "check_bundle_envelopes",
    "verify_history",
]

PROOFS_PER_READ = 128
"""Inclusion proofs built from one node read when many are needed (bundles, histories)."""
_SCAN = 1000


@dataclass(frozen=True)
class HistoryProof:
    """An aggregate's entries up to a checkpoint, each with its inclusion proof."""

    aggregate_id: str
    checkpoint: CheckpointRecord
    entries: tuple[BundleEntry, ...]


@dataclass(frozen=True)
class HistorySummary:
    """What a verified history proof showed."""

    aggregate_id: str
    versions: int
    head_position: int
    report: BundleReport


class ProofService:
    """Proofs from stored nodes; ``store`` holds the tree, ``log`` the entries (needed for histories only)."""

    CACHED_CHECKPOINTS = 1024

    def __init__(self, store: TreeStore, log: LogReader | None = None, edge: RightEdge | None = None) -> None:
        self.store = store
        self.log = log
        self.edge = edge
        """Nodes near the right edge held by this process's sealer: read from memory, the rest from the store."""
        # Signed checkpoints never change once written, so sized look-ups are cached (bounded).
        self._by_size: dict[int, CheckpointRecord] = {}

    def checkpoint(self, size: int | None = None) -> CheckpointRecord:
        """The checkpoint of ``size`` leaves, or the latest; raises :class:`NotSealed` if there is none."""
        record = self._by_size.get(size) if size is not None else None
        if record is None:
            record = self.store.latest_checkpoint() if size is None else self.store.checkpoint_at(size)
            if record is not None and size is not None:
                if len(self._by_size) >= self.CACHED_CHECKPOINTS:
                    self._by_size.pop(next(iter(self._by_size)))
                self._by_size[size] = record
        if record is None:
            what = "no checkpoint has been signed yet" if size is None else f"no checkpoint of size {size}"
            raise NotSealed(what, size=size)
        return record

    def inclusion(self, position: int, size: int | None = None) -> tuple[InclusionProof, CheckpointRecord]:
        """Inclusion proof of ``position`` against the checkpoint of ``size`` (default: the latest)."""
        record = self.checkpoint(size)
        if not 0 <= position < record.size:
            raise NotSealed(
                f"position {position} is not in the checkpoint of size {record.size}",
                position=position,
                size=record.size,
            )
        return self.prove_many([position], record.size)[0], record

    def prove_many(self, positions: Sequence[int], size: int) -> list[InclusionProof]:
        """Inclusion proofs (with leaf hashes) of ``positions`` in the tree of ``size``, one read per chunk."""
        proofs: list[InclusionProof] = []
        for start in range(0, len(positions), PROOFS_PER_READ):
            chunk = positions[start : start + PROOFS_PER_READ]
            plans = [inclusion_proof_ids(position, size) for position in chunk]
            wanted: dict[NodeId, None] = {NodeId(0, position): None for position in chunk}
            for plan in plans:
                wanted.update(dict.fromkeys(plan.node_ids))
            nodes = self._nodes(list(wanted))
            for position, plan in zip(chunk, plans, strict=True):
                leaf = nodes.get(NodeId(0, position))
                if leaf is None:
                    raise NotSealed(f"position {position} is not in the log", position=position)
                proofs.append(InclusionProof(position, size, bytes(leaf), tuple(plan.assemble(nodes))))
        return proofs

    def _nodes(self, wanted: list[NodeId]) -> Mapping[NodeId, bytes]:
        """The nodes of ``wanted``: those the right edge holds from memory, the others in one store read."""
        if self.edge is None:
            return self.store.fetch_nodes(wanted)
        held = self.edge.fetch(wanted)
        if len(held) == len(wanted):
            return held
        return {**self.store.fetch_nodes([node for node in wanted if node not in held]), **held}

    def consistency(
        self, from_size: int, to_size: int
    ) -> tuple[ConsistencyProof, CheckpointRecord | None, CheckpointRecord]:
        """Consistency proof between the checkpoints of ``from_size`` and ``to_size`` (from 0: no old one)."""
        old = None if from_size == 0 else self.checkpoint(from_size)
        new = self.checkpoint(to_size)
        path = consistency_proof(from_size, to_size, self.store.fetch_nodes)
        return ConsistencyProof(from_size, to_size, tuple(path)), old, new

    def history(self, aggregate_id: str, size: int | None = None) -> HistoryProof:
        """Every entry of one aggregate in the checkpoint of ``size`` (default latest), with proofs."""
        if self.log is None:
            raise TypeError("history proofs need a LogReader")
        record = self.checkpoint(size)
        rows = [row for row in self.log.read_aggregate_rows(aggregate_id) if row.position < record.size]
        proofs = self.prove_many([row.position for row in rows], record.size)
        entries = tuple(
            BundleEntry(row.position, row.entry, proof.path) for row, proof in zip(rows, proofs, strict=True)
        )
        return HistoryProof(aggregate_id, record, entries)

    def partner_entries(self, reader: PartnerLogReader, partner_id: str, size: int) -> Iterator[BundleEntry]:
        """Yield one partner's entries below ``size`` with inclusion proofs, streaming (for bundles)."""
        position = 0
        while position < size:
            rows = [row for row in reader.read_partner_rows(partner_id, position, _SCAN) if row.position < size]
            if not rows:
                return
            proofs = self.prove_many([row.position for row in rows], size)
            for row, proof in zip(rows, proofs, strict=True):
                yield BundleEntry(row.position, row.entry, proof.path)
            position = rows[-1].position + 1


def verify_history(bundle: Bundle, trusted: Sequence[str | NoteVerifier] = ()) -> HistorySummary:
    """Verify a history proof offline: inclusion of every entry, then the aggregate's chain of back-links.

    Raises :class:`~proofs.bundle.BundleInvalid` naming the first failing part. See the module
    docstring for what completeness this does and does not establish.
    """
    if bundle.format != HISTORY_FORMAT:
        raise BundleInvalid("format", f"expected {HISTORY_FORMAT}, got {bundle.format}")
    report = verify_bundle(bundle, trusted)
    aggregate_id = bundle.subject.get("aggregateId")
    if not bundle.entries:
        raise BundleInvalid("entries", "a history proof holds at least the aggregate's first event")
    previous: int | None = None
    for i, item in enumerate(bundle.entries):
        where = f"entry {i} (leafIndex {item.leaf_index})"
        try:
            envelope = decode_entry(item.entry)
        except MalformedEntry as error:
            raise BundleInvalid(where, f"not a ledger envelope: {error}") from error
        if envelope.position != item.leaf_index:
            raise BundleInvalid(where, f"envelope says position {envelope.position}")
        if envelope.aggregate_id != aggregate_id:
            raise BundleInvalid(where, f"belongs to aggregate {envelope.aggregate_id}, not {aggregate_id}")
        if envelope.aggregate_version != i + 1:
            raise BundleInvalid(where, f"version {envelope.aggregate_version}, expected {i + 1} (an event is missing)")
        if envelope.aggregate_prev_position != previous:
            raise BundleInvalid(
                where, f"prevPosition {envelope.aggregate_prev_position}, expected {previous} (an event is missing)"
            )
        previous = item.leaf_index
    assert previous is not None  # entries is non-empty; narrows the type only
    return HistorySummary(str(aggregate_id), len(bundle.entries), previous, report)


def check_bundle_envelopes(bundle: Bundle) -> int:
    """For a partner bundle of ledger envelopes: each sits at its leaf index and belongs to the partner.

    Returns how many entries were checked; raises :class:`~proofs.bundle.BundleInvalid`. Run after
    :func:`proofs.bundle.verify_bundle` (which needs no knowledge of envelopes).
    """
    if bundle.format != BUNDLE_FORMAT:
        raise BundleInvalid("format", f"expected {BUNDLE_FORMAT}, got {bundle.format}")
    partner = bundle.subject.get("partnerId")
    for i, item in enumerate(bundle.entries):
        where = f"entry {i} (leafIndex {item.leaf_index})"
        try:
            envelope = decode_entry(item.entry)
        except MalformedEntry as error:
            raise BundleInvalid(where, f"not a ledger envelope: {error}") from error
        if envelope.position != item.leaf_index:
            raise BundleInvalid(where, f"envelope says position {envelope.position}")
        if partner is not None and envelope.partner_id != partner:
            raise BundleInvalid(where, f"belongs to partner {envelope.partner_id!r}, not {partner!r}")
    return len(bundle.entries)
