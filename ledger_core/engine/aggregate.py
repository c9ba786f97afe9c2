"""Base class for the ledger's aggregates and their events.

Rules every aggregate follows (so the log stays a stable, replayable record):

* Each concrete event class declares ``EVENT_TYPE: ClassVar[str]``, a stable name such as
  ``"claim.submitted"``. The name, not the Python path, is written to the log; renaming a class or
  module never breaks replay.
* Event fields hold JSON values only (str, int, bool, None, list, dict): money as decimal strings,
  dates as ISO strings, personal data as sealed values. The mapper refuses anything else.
* ``partner_id`` is on every event: the owning partner, written to the envelope's ``partnerId``.
* Commands validate and raise :mod:`ledger_core.engine.errors` types; ``apply``/``__init__`` never fail.
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
# The RFC 4122 variant nibble (bits 10xx) for each hex digit of the raw SHA-1 output.
_VARIANT_DIGIT = {digit: f"{(int(digit, 16) & 0x3) | 0x8:x}" for digit in "0123456789abcdef"}


def uuid5_text(name: str) -> str:
    """``str(uuid.uuid5(LEDGER_NAMESPACE, name))``, computed without the stdlib's slow path (RFC 4122 §4.3)."""
    return uuid5_format(hashlib.sha1(_NAMESPACE_BYTES + name.encode(), usedforsecurity=False).hexdigest())


def uuid5_prefix(prefix: str) -> hashlib._Hash:
    """A SHA-1 state fed with the namespace and ``prefix``: ``uuid5_format`` of a copy updated with the rest
    of a name equals ``uuid5_text(prefix + rest)`` (saves re-hashing a shared prefix)."""
    return hashlib.sha1(_NAMESPACE_BYTES + prefix.encode(), usedforsecurity=False)


def uuid5_format(hexdigest: str) -> str:
    """The UUID text of a SHA-1 hex digest: first 16 bytes, version 5, RFC 4122 variant (§4.3)."""
    h = hexdigest
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT_DIGIT[h[16]]}{h[17:20]}-{h[20:32]}"


def derive_id(kind: str, *parts: str) -> UUID:
    """Deterministic id for an entity from its natural key, e.g. ``derive_id("claim", partner, ref)``."""
    return UUID(uuid5_text("\x1f".join((kind, *parts))))


def derive_id_text(kind: str, *parts: str) -> str:
    """``str(derive_id(kind, *parts))`` without building the ``UUID``."""
    return uuid5_text("\x1f".join((kind, *parts)))


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
