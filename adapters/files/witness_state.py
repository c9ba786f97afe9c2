"""A witness's state: the latest checkpoint it cosigned, per log, one small JSON file per origin.

tlog-witness requires the check of the old size and the recording of the new checkpoint to be atomic
(c2sp.org/tlog-witness, "add-checkpoint", the race of requests A and B). :meth:`WitnessState.advance`
holds an exclusive ``flock`` on the origin's lock file (across processes) and a thread lock (within
one), reads the last head, lets the caller decide, and durably replaces the file before returning, so
the witness persists the checkpoint before it answers.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path

from adapters.files.private_files import replace_private_file
from proofs.checkpoint import Checkpoint
from proofs.witness_protocol import WitnessedHead

__all__ = ["WitnessState"]


class WitnessState:
    """The witness's per-log heads under ``directory`` (``<sha256(origin)[:32]>.json``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)

    def _file(self, origin: str) -> Path:
        return self.directory / f"{hashlib.sha256(origin.encode()).hexdigest()[:32]}.json"

    def last(self, origin: str) -> WitnessedHead | None:
        """The latest head cosigned for ``origin`` (None: never)."""
        try:
            data = json.loads(self._file(origin).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return WitnessedHead(data["origin"], int(data["size"]), bytes.fromhex(data["rootHash"]))

    def advance(self, origin: str, decide: Callable[[WitnessedHead | None], Checkpoint]) -> Checkpoint:
        """Atomically: read the last head of ``origin``, ``decide`` (which raises to refuse), record its result."""
        path = self._file(origin)
        with self._lock, path.with_suffix(".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            checkpoint = decide(self.last(origin))
            record = {
                "origin": checkpoint.origin,
                "size": checkpoint.size,
                "rootHash": checkpoint.root_hash.hex(),
            }
            replace_private_file(path, (json.dumps(record, sort_keys=True) + "\n").encode())
            return checkpoint
