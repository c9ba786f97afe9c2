"""Base class for the ledger's aggregates and their events.

Rules every aggregate follows (so the log stays a stable, replayable record):

* Each concrete event class declares ``EVENT_TYPE: ClassVar[str]``, a stable name such as
  ``"claim.submitted"``. The name, not the Python path, is written to the log; renaming a class or
  module never breaks replay.
* Event fields hold JSON values only (str, int, bool, None, list, dict): money as decimal strings,
  dates as ISO strings, personal data as sealed values. The mapper refuses anything else.
* ``partner_id`` is on every event: the owning partner, written to the envelope's ``partnerId``.
* Commands validate and raise :mod:`ledger_core.errors` types; ``apply``/``__init__`` never fail.
* Aggregate ids are deterministic (``uuid5`` of natural keys) where a natural key exists, which makes
  resubmission idempotent and replays reproducible.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

# Namespace for every uuid5 the ledger derives. Fixed forever.
LEDGER_NAMESPACE = UUID("6f1b8f8e-3a4c-5d2e-9b7a-1c0d2e3f4a5b")


_NAMESPACE_BYTES = LEDGER_NAMESPACE.bytes


def uuid5_text(name: str) -> str:
    """``str(uuid.uuid5(LEDGER_NAMESPACE, name))``, computed without the stdlib's slow path (RFC 4122 §4.3)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode(), usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def derive_id(kind: str, *parts: str) -> UUID:
    """Deterministic id for an entity from its natural key, e.g. ``derive_id("claim", partner, ref)``."""
    return UUID(uuid5_text("\x1f".join((kind, *parts))))


class LedgerAggregate(Aggregate):
    """An eventsourcing aggregate owned by at most one partner."""

    AGGREGATE_TYPE: ClassVar[str] = ""
    partner_id: str | None

    class Event(Aggregate.Event):
        partner_id: str | None

    class Created(Event, Aggregate.Created):
        pass

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        """Trigger ``event_class``, stamping the owning partner on it."""
        kwargs.setdefault("partner_id", self.partner_id)
        super().trigger_event(event_class, **kwargs)
