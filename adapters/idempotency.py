"""Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): outcomes, the store port, key parsing.

A POST carrying ``Idempotency-Key`` is run at most once per (partner, key) for 24 hours:

- :meth:`IdempotencyStore.begin` atomically claims the key. :class:`New` (with a ``lease``) means
  "run the request, then :meth:`~IdempotencyStore.complete` or :meth:`~IdempotencyStore.abandon`";
  :class:`Replay` returns the stored response; :class:`InFlight` (409) means the first attempt is still
  running; :class:`Mismatch` (422) means the key was used with a different request fingerprint.
- An unfinished claim expires after its lease (60 s by default), so a worker that died mid-request does
  not block the key for a day; ``complete``/``abandon`` with a stale lease do nothing and return False.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from ledger_core.engine.errors import LedgerError

__all__ = [
    "IDEMPOTENCY_TTL_S",
    "LEASE_S",
    "IdempotencyKeyInFlight",
    "IdempotencyKeyInvalid",
    "IdempotencyKeyMismatch",
    "IdempotencyOutcome",
    "IdempotencyStore",
    "InFlight",
    "Mismatch",
    "New",
    "Replay",
    "StoredResponse",
    "parse_idempotency_key",
]

IDEMPOTENCY_TTL_S = 24 * 3600
LEASE_S = 60
_BARE_KEY = re.compile(r"[!#-\[\]-~]{1,255}")  # printable ASCII without space, '"' and '\'
_QUOTED_KEY = re.compile(r'"((?:[ !#-\[\]-~]|\\["\\]){1,255})"')  # RFC 8941 sf-string


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A completed response, replayed byte for byte (headers as name/value pairs, in order)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class New:
    """The key was free and is now claimed; pass ``lease`` to complete or abandon."""

    lease: str


@dataclass(frozen=True, slots=True)
class Replay:
    response: StoredResponse


@dataclass(frozen=True, slots=True)
class InFlight:
    """The first request with this key is still being processed (HTTP 409)."""


@dataclass(frozen=True, slots=True)
class Mismatch:
    """The key was used for a different request (HTTP 422)."""


IdempotencyOutcome = New | Replay | InFlight | Mismatch


class IdempotencyKeyInvalid(LedgerError):
    """HTTP 400: the Idempotency-Key header is empty, too long or not printable ASCII."""

    code = "IDEMPOTENCY_KEY_INVALID"
    status = 400


class IdempotencyKeyMismatch(LedgerError):
    """HTTP 422: the Idempotency-Key was already used with a different request."""

    code = "IDEMPOTENCY_KEY_REUSED"
    status = 422


class IdempotencyKeyInFlight(LedgerError):
    """HTTP 409: the first request with this Idempotency-Key has not finished yet."""

    code = "IDEMPOTENCY_REQUEST_IN_PROGRESS"
    status = 409


class IdempotencyStore(Protocol):
    """Idempotency records per (partner, key); every method is atomic across workers sharing the store."""

    def begin(self, partner_id: str, key: str, fingerprint: str) -> IdempotencyOutcome: ...

    def complete(
        self, partner_id: str, key: str, lease: str, status: int, headers: tuple[tuple[str, str], ...], body: bytes
    ) -> bool:
        """Store the response for replay (24 h); False if ``lease`` no longer holds the key."""
        ...

    def abandon(self, partner_id: str, key: str, lease: str) -> bool:
        """Release the claim so the client may retry (after a failure); False if ``lease`` no longer holds it."""
        ...


def parse_idempotency_key(value: str | None) -> str | None:
    """The key of an ``Idempotency-Key`` header (sf-string ``"..."`` or a bare token), None when absent.

    Raises :class:`IdempotencyKeyInvalid` (400) when it is empty, too long or not printable ASCII.
    """
    if value is None:
        return None
    text = value.strip()
    quoted = _QUOTED_KEY.fullmatch(text)
    if quoted:
        return re.sub(r"\\(.)", r"\1", quoted.group(1))
    if _BARE_KEY.fullmatch(text):
        return text
    raise IdempotencyKeyInvalid(
        "Idempotency-Key must be 1 to 255 printable ASCII characters", field="Idempotency-Key", value=text[:80]
    )
