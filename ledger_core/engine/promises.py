"""Signed promises of inclusion for entries just committed (``Prefer: respond-async``; docs/proofs.md).

The log answers a write at commit, before the seal, with the entry's leaf index and the log's signature
over (index, leaf hash, time), like an RFC 6962 §3.2 SCT; the bytes and their verification are in
:mod:`proofs.promise`. The key is the checkpoint key (the log's identity: its name is the origin), so
only a process that holds it (the embedded sealer's server, or one given ``--signing-key``) promises.
"""

from __future__ import annotations

from ledger_core.engine.errors import NotFound
from ledger_core.engine.ports import Clock, LogReader
from proofs.hashing import leaf_hash
from proofs.note import NoteSigner
from proofs.promise import InclusionPromise, sign_promise


class InclusionPromises:
    """Promise the inclusion of committed entries, signed with ``signer`` at ``clock`` time."""

    def __init__(self, log: LogReader, signer: NoteSigner, clock: Clock) -> None:
        self.log = log
        self.signer = signer
        self.clock = clock

    @property
    def origin(self) -> str:
        return self.signer.name

    def promise(self, position: int) -> InclusionPromise:
        """The promise for the committed entry at ``position`` (one read of its row);
        :class:`NotFound` when the log holds no entry there (it was never committed)."""
        rows = self.log.read_rows(position, 1)
        if not rows or rows[0].position != position:
            raise NotFound("log entry", str(position))
        return self.promise_entry(position, rows[0].entry)

    def promise_entry(self, position: int, entry: bytes) -> InclusionPromise:
        """The promise for ``entry``, committed at ``position`` (no read)."""
        milliseconds = int(self.clock().timestamp() * 1000)
        return sign_promise(self.signer, position, leaf_hash(entry), milliseconds)
