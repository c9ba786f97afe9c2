"""Ports: the small interfaces ``ledger_core`` needs from the outside world. Adapters implement them."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import Protocol, runtime_checkable

from ledger_core.engine.chain import StoredRow
from ledger_core.engine.envelope import EventDraft
from ledger_core.engine.merkle import CheckpointRecord
from proofs.tree import NodeId, StoredNode


class Clock(Protocol):
    """Returns the current time, timezone-aware (UTC). Tests inject a fixed or stepping clock."""

    def __call__(self) -> datetime: ...


class LogReader(Protocol):
    """Read access to the stored log, for verification, tails and proofs."""

    def log_size(self) -> int:
        """Number of entries in the log (= next position)."""
        ...

    def read_rows(self, start: int, limit: int) -> Sequence[StoredRow]:
        """Up to ``limit`` rows with ``position >= start``, in position order (gaps are not filled)."""
        ...

    def read_aggregate_rows(self, aggregate_id: str) -> Sequence[StoredRow]:
        """Every row of one aggregate, in version order."""
        ...


@runtime_checkable
class DraftAppender(Protocol):
    """Group-commit entry point: queue one all-or-nothing save, get its positions when committed."""

    def submit_drafts(self, drafts: Sequence[EventDraft]) -> Future[list[int]]: ...

    def submit_drafts_async(self, drafts: Sequence[EventDraft]) -> asyncio.Future[list[int]]:
        """From a running event loop: an ``asyncio.Future`` resolved after the commit."""
        ...


@runtime_checkable
class AggregateRowsReader(Protocol):
    """Many aggregates' rows at once (claims batches: results files, reconciliation)."""

    def rows_of_aggregates(self, aggregate_ids: Sequence[str]) -> Sequence[StoredRow]:
        """Every row of the given aggregates, in position order (one query per few hundred ids)."""
        ...

    def entries_of_aggregates(self, aggregate_ids: Sequence[str]) -> Sequence[tuple[str, str, bytes]]:
        """``(aggregate id, type, entry)`` of every row of the given aggregates, grouped by aggregate, each in
        version order: what a fold reads, without the columns it does not (one query per few thousand ids)."""
        ...

    def aggregate_rows_after(self, aggregate_id: str, version: int, limit: int) -> Sequence[StoredRow]:
        """Up to ``limit`` rows of one aggregate with a version above ``version``, in version order (a long
        history read a page at a time: a claims file's ``chunk_loaded`` entries)."""
        ...

    def partner_aggregates_of_type(
        self, partner_id: str, event_type: str, *, start: int, stop: int, limit: int
    ) -> Sequence[tuple[int, str]]:
        """``(position, aggregate id)`` of up to ``limit`` rows of ``partner_id`` of type ``event_type`` with
        ``start <= position < stop``, in position order (the entries themselves are not read)."""
        ...


@runtime_checkable
class PartnerLogReader(Protocol):
    """Read one partner's entries (both recorders implement it: audit bundles, feeds, claims batches)."""

    def read_partner_rows(self, partner_id: str, start: int, limit: int) -> Sequence[StoredRow]:
        """Up to ``limit`` rows of ``partner_id`` with ``position >= start``, in position order."""
        ...

    def partner_rows_of_types(
        self, partner_id: str, types: Sequence[str], *, start: int, stop: int, limit: int, descending: bool = False
    ) -> Sequence[StoredRow]:
        """Up to ``limit`` rows of ``partner_id`` whose type is one of ``types`` with ``start <= position < stop``,
        in position order (``descending``: newest first)."""
        ...


class TreeStore(Protocol):
    """The Merkle tree beside the log, as C2SP tlog-tiles (``proofs.tiles``), and every signed checkpoint.

    The store keeps the tiles (tree levels 0, 8, 16, ...; level 0 repeats the log's ``leaf_hash`` column
    so tiles are served and proofs built without reading the log) and answers for every perfect node of
    the integrated tree, computing those between tile levels. The integrated size is the size of the
    latest checkpoint: tiles and that checkpoint are written in one transaction.
    """

    def log_size(self) -> int:
        """Number of entries in the log (integrated or not)."""
        ...

    def integrated_size(self) -> int:
        """Size of the latest checkpoint (0 before the first): leaves below it have their tiles stored."""
        ...

    def leaf_hashes(self, start: int, stop: int) -> Sequence[bytes]:
        """Stored leaf hashes of positions ``[start, stop)``, in order (shorter if the log ends first)."""
        ...

    def fetch_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        """The hashes of the given node ids (any level) from at most ONE tile query; absent ids are left out."""
        ...

    def nodes_completed_in(self, begin: int, end: int) -> Mapping[NodeId, bytes]:
        """Stored nodes (level >= 0) whose last leaf is in ``[begin, end)`` (what appending those leaves made)."""
        ...

    def count_nodes(self) -> int:
        """Number of perfect nodes (level >= 0) the stored tiles hold or imply (``2n - popcount(n)`` when intact)."""
        ...

    def read_tile(self, level: int, index: int, width: int = 256) -> bytes | None:
        """The stored hashes of tile ``(level, index)``, at least ``width`` of them (full or the partial edge), or
        None when fewer are stored."""
        ...

    def commit_integration(self, old_size: int, nodes: Sequence[StoredNode], checkpoint: CheckpointRecord) -> None:
        """Atomically store ``nodes`` (every level, leaves included) and ``checkpoint`` if the tree is still at
        ``old_size``: the store keeps the tiles they fill.

        Raises :class:`~ledger_core.engine.merkle.SealConflict` (and stores nothing) otherwise. Durable on return.
        """
        ...

    def latest_checkpoint(self) -> CheckpointRecord | None:
        """The checkpoint with the largest size, or None."""
        ...

    def checkpoint_at(self, size: int) -> CheckpointRecord | None:
        """The checkpoint of exactly ``size`` leaves, or None."""
        ...

    def first_checkpoint_after(self, position: int) -> CheckpointRecord | None:
        """The smallest checkpoint whose tree contains ``position`` (size > position), or None."""
        ...

    def checkpoints(self, after_size: int, limit: int) -> Sequence[CheckpointRecord]:
        """Up to ``limit`` checkpoints with size > ``after_size``, smallest first."""
        ...


class SealWatch(Protocol):
    """Wakes writers waiting for their entries to be sealed (adapters: ``adapters.workers.seal_waiter.SealWaiter``)."""

    async def wait_until_covered(self, position: int, timeout: float) -> None:
        """Return once the sealed size exceeds ``position``; :class:`~ledger_core.engine.merkle.NotSealed` after
        ``timeout`` seconds. Holds no thread while waiting."""
        ...

    def first_checkpoint_after(self, position: int) -> CheckpointRecord | None:
        """The first signed checkpoint containing ``position``, or None (blocking: one storage read at most)."""
        ...

    async def wait_until_sealed_async(self, position: int, timeout: float) -> CheckpointRecord:
        """Wait for, then read, the first checkpoint containing ``position``; ``NotSealed`` after ``timeout``."""
        ...
