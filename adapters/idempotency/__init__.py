"""Idempotency-Key records: the outcomes and port in :mod:`.store`, Redis and in-process implementations."""

from adapters.idempotency.memory import InProcessIdempotencyStore
from adapters.idempotency.store import (
    IDEMPOTENCY_TTL_S,
    IdempotencyKeyInFlight,
    IdempotencyKeyInvalid,
    IdempotencyKeyMismatch,
    IdempotencyOutcome,
    IdempotencyStore,
    InFlight,
    Mismatch,
    New,
    Replay,
    StoredResponse,
    parse_idempotency_key,
)

__all__ = [
    "IDEMPOTENCY_TTL_S",
    "IdempotencyKeyInFlight",
    "IdempotencyKeyInvalid",
    "IdempotencyKeyMismatch",
    "IdempotencyOutcome",
    "IdempotencyStore",
    "InFlight",
    "InProcessIdempotencyStore",
    "Mismatch",
    "New",
    "Replay",
    "StoredResponse",
    "parse_idempotency_key",
]
