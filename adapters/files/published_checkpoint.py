"""The last checkpoint this log published, kept outside the database, beside the signing key.

Each time the sealer commits a checkpoint it replaces ``<signing key file>.published`` (atomically:
temporary file, fsync, rename) with that checkpoint's signed note. At start (``ledger serve``,
``ledger sealer``) :func:`check_not_rolled_back` compares it with the database's newest checkpoint:
an older one (a restored backup, or the newest entries, tree rows and checkpoints deleted) or one of
the same size with another root is :class:`~ledger_core.engine.merkle.RolledBack`, and the server
refuses to start. A missing file (a ledger from before this file existed) is written at the next seal.
"""

from __future__ import annotations

import os
from pathlib import Path

from adapters.files.private_files import replace_private_file
from adapters.files.signing_key import signing_key_path
from ledger_core.engine.merkle import CheckpointRecord, RolledBack, note_text
from ledger_core.engine.ports import TreeStore
from proofs.checkpoint import Checkpoint, parse_body

__all__ = ["PUBLISHED_ENV", "PUBLISHED_SUFFIX", "PublishedCheckpoint", "check_not_rolled_back", "published_path"]

PUBLISHED_SUFFIX = ".published"
PUBLISHED_ENV = "LEDGER_PUBLISHED_CHECKPOINT_FILE"


def published_path(data_dir: Path, signing_key: Path | None = None) -> Path:
    """Where the published checkpoint is kept, never in the database (first match wins):
    ``LEDGER_PUBLISHED_CHECKPOINT_FILE``; ``<signing key file>.published`` when the key is a file in a
    writable directory; else ``<data dir>/checkpoint.published`` (a key read from a file descriptor or a
    read-only secrets mount)."""
    configured = os.environ.get(PUBLISHED_ENV)
    if configured:
        return Path(configured)
    key, _ = signing_key_path(data_dir, signing_key)
    special = key.is_absolute() and key.parts[1] in ("dev", "proc")  # /dev/fd/N, /proc/self/fd/N
    if not special and key.parent.is_dir() and os.access(key.parent, os.W_OK):
        return key.with_name(key.name + PUBLISHED_SUFFIX)
    return data_dir / f"checkpoint{PUBLISHED_SUFFIX}"


class PublishedCheckpoint:
    """The file recording the newest checkpoint published; a sealer observer (``sealed`` / ``close``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> Checkpoint | None:
        """The checkpoint last published (None: no file yet)."""
        try:
            note = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return parse_body(note_text(note))

    def sealed(self, record: CheckpointRecord) -> None:
        """Record ``record`` as published, unless the file already names a larger checkpoint."""
        current = self.read()
        if current is None or record.size >= current.size:
            replace_private_file(self.path, record.note.encode("utf-8"))

    def close(self) -> None:
        """Nothing to release."""


def check_not_rolled_back(store: TreeStore, path: Path) -> Checkpoint | None:
    """Raise :class:`RolledBack` unless the database still holds the published checkpoint (same size, same
    root) or a newer one: a newer database must hold the published size with the published root.

    Returns the published checkpoint (None when nothing was published yet).
    """
    published = PublishedCheckpoint(path).read()
    if published is None:
        return None
    latest = store.latest_checkpoint()
    found = 0 if latest is None else latest.size
    same = store.checkpoint_at(published.size) if found >= published.size else None
    found_root = "none" if same is None else same.root_hash.hex()
    if same is None or same.root_hash != published.root_hash:
        raise RolledBack(published.size, found, published.root_hash.hex(), found_root, str(path))
    return published
