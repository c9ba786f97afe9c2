"""The in-process idempotency store: a dict behind a lock (one process only; tests, embedded default)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from adapters.idempotency import (
    IDEMPOTENCY_TTL_S,
    LEASE_S,
    IdempotencyOutcome,
    InFlight,
    Mismatch,
    New,
    Replay,
    StoredResponse,
)

__all__ = ["InProcessIdempotencyStore"]


@dataclass(slots=True)
class _Entry:
    fingerprint: str
    lease: str
    expires: float
    response: StoredResponse | None = None


class InProcessIdempotencyStore:
    """:class:`~adapters.idempotency.IdempotencyStore` in memory; ``clock`` returns monotonic seconds."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, *, ttl_s: int = IDEMPOTENCY_TTL_S, lease_s: int = LEASE_S
    ) -> None:
        self._clock = clock
        self._ttl_s, self._lease_s = ttl_s, lease_s
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], _Entry] = {}

    def begin(self, partner_id: str, key: str, fingerprint: str) -> IdempotencyOutcome:
        with self._lock:
            now = self._clock()
            entry = self._live((partner_id, key), now)
            if entry is None:
                lease = secrets.token_hex(16)
                self._entries[(partner_id, key)] = _Entry(fingerprint, lease, now + self._lease_s)
                if len(self._entries) % 1024 == 0:
                    self._sweep(now)
                return New(lease)
            if entry.fingerprint != fingerprint:
                return Mismatch()
            if entry.response is None:
                return InFlight()
            return Replay(entry.response)

    def complete(
        self, partner_id: str, key: str, lease: str, status: int, headers: tuple[tuple[str, str], ...], body: bytes
    ) -> bool:
        with self._lock:
            now = self._clock()
            entry = self._live((partner_id, key), now)
            if entry is None or entry.response is not None or entry.lease != lease:
                return False
            entry.response = StoredResponse(status, tuple(headers), bytes(body))
            entry.expires = now + self._ttl_s
            return True

    def abandon(self, partner_id: str, key: str, lease: str) -> bool:
        with self._lock:
            entry = self._live((partner_id, key), self._clock())
            if entry is None or entry.response is not None or entry.lease != lease:
                return False
            del self._entries[(partner_id, key)]
            return True

    def _live(self, key: tuple[str, str], now: float) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires <= now:
            del self._entries[key]
            return None
        return entry

    def _sweep(self, now: float) -> None:
        for key in [k for k, entry in self._entries.items() if entry.expires <= now]:
            del self._entries[key]
