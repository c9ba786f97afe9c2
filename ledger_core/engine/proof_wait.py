"""Waiting for a new entry to be sealed, then proving it: what a write answers with (the
inclusion proof of the command's newest entry, when the sealer integrates it in time).

No thread is held while waiting: the :class:`~ledger_core.engine.ports.SealWatch` wakes the coroutine once
the sealed size passes the position (the sealer's notification, or one shared poll). Reading the
checkpoint and building the proof are blocking storage reads, run on the event loop's default executor
(the server's worker pool) in one hop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ledger_core.engine.audit_log import AuditLog, ProvenEntry
from ledger_core.engine.merkle import NotSealed
from ledger_core.engine.ports import SealWatch


def _ignore(seconds: float) -> None:
    del seconds


class ProofWait:
    """Proofs of new entries, waited for at most ``timeout`` seconds; ``observe`` receives each wait's
    duration (a metric)."""

    def __init__(
        self, watch: SealWatch, audit: AuditLog, timeout: float, observe: Callable[[float], None] = _ignore
    ) -> None:
        self.watch = watch
        self.audit = audit
        self.timeout = timeout
        self.observe = observe

    async def proof_when_sealed(self, position: int) -> ProvenEntry | None:
        """The entry at ``position`` proven against the first checkpoint containing it, or None on timeout."""
        started = time.perf_counter()
        try:
            await self.watch.wait_until_covered(position, self.timeout)
        except NotSealed:
            return None
        finally:
            self.observe(time.perf_counter() - started)
        loop = asyncio.get_running_loop()
        proven = await loop.run_in_executor(None, self._first_proof, position)
        if proven is None:  # the size was announced before its checkpoint was readable (rare): wait for it
            remaining = max(self.timeout - (time.perf_counter() - started), 0.0)
            try:
                record = await self.watch.wait_until_sealed_async(position, remaining)
            except NotSealed:
                return None
            proven = await loop.run_in_executor(None, self.audit.prove, position, record.size)
        return proven

    def _first_proof(self, position: int) -> ProvenEntry | None:
        """The entry, its inclusion proof and the first checkpoint containing it (blocking, one hop)."""
        record = self.watch.first_checkpoint_after(position)
        return None if record is None else self.audit.prove_in(position, record)
