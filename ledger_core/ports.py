"""Ports: the small interfaces ``ledger_core`` needs from the outside world. Adapters implement them."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import Protocol, runtime_checkable

from ledger_core.chain import StoredRow
from ledger_core.envelope import EventDraft


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


class KeyStore(Protocol):
    """Per-subject data keys for personal data (crypto-shredding). Keys never enter the log."""

    def get_or_create(self, subject: str) -> tuple[str, bytes]:
        """Return ``(key id, 32-byte key)`` for ``subject``, creating it on first use."""
        ...

    def get(self, key_id: str) -> bytes | None:
        """The key with ``key_id``, or None once it has been destroyed."""
        ...

    def destroy(self, subject: str) -> int:
        """Destroy every key of ``subject``; return how many were destroyed."""
        ...


@runtime_checkable
class DraftAppender(Protocol):
    """Group-commit entry point: queue one all-or-nothing save, get its positions when committed."""

    def submit_drafts(self, drafts: Sequence[EventDraft]) -> Future[list[int]]: ...
