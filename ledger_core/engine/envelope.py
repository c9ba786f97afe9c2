"""The log entry envelope: the bytes the hash chain and the Merkle tree commit to, forever.

An entry is the RFC 8785 canonical JSON of (keys shown in canonical order)::

    {"aggregate": {"id": <uuid str>, "prevPosition": <int|null>, "type": <str>, "version": <int>},
     "eventId": <uuid str>, "partnerId": <str|null>, "payload": {...},
     "position": <int>, "prev": <64 lowercase hex|null>, "recordedAt": <RFC 3339 UTC, microseconds, "Z">,
     "type": <stable event type>, "v": 1}

* ``position`` is the 0-based index in the one global log and equals the RFC 9162 leaf index.
* ``prev`` is the leaf hash of the entry at ``position - 1`` (null only at position 0): a hash chain.
* ``aggregate.prevPosition`` is the position of the same aggregate's previous event (null for its first
  event), so one aggregate's history is itself a verifiable chain inside the log.
* ``payload`` holds only JSON strings, integers, booleans, null, lists and objects. Money is a decimal
  string. Personal data appears only as a sealed value (the business rooms seal it before saving):
  ``{"sealed": {"alg": "A256GCM", "ct": <b64>, "kid": <str>, "nonce": <b64>}}`` or a salted commitment
  ``{"commitment": <64 hex>}``; never as plaintext.
* The leaf hash is SHA-256(0x00 || entry) (RFC 9162 §2.1.1). Entry bytes are stored verbatim, so
  verification never depends on re-encoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from ledger_core.engine.canonical import canonical_json_spliced, canonical_json_unchecked
from ledger_core.engine.errors import InvalidCommand, MalformedEntry

ENVELOPE_VERSION = 1
RECORDED_AT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class CanonicalPayload:
    """A payload already encoded: ``canonical``, the RFC 8785 bytes of a checked value (:func:`encode_payload`).

    A draft may carry one instead of the value. A bulk path encodes its payloads where it builds them (a
    worker process): they cross to the writing process as bytes, and :func:`encode_entry` splices them into
    the entry unchanged, so the entry's bytes are those of the same draft carrying the value."""

    __slots__ = ("canonical",)

    def __init__(self, canonical: bytes) -> None:
        self.canonical = canonical

    def __reduce__(self) -> tuple[type[CanonicalPayload], tuple[bytes]]:
        return CanonicalPayload, (self.canonical,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CanonicalPayload) and other.canonical == self.canonical

    def __hash__(self) -> int:
        return hash(self.canonical)

    def __repr__(self) -> str:
        return f"CanonicalPayload({len(self.canonical)} bytes)"

    def value(self) -> dict[str, Any]:
        """The payload as a value (what the draft carrying the value would hold)."""
        decoded: dict[str, Any] = orjson.loads(self.canonical)
        return decoded


def encode_payload(payload: dict[str, Any]) -> CanonicalPayload:
    """The :class:`CanonicalPayload` of a payload already checked (:func:`~ledger_core.engine.canonical.
    check_json_value`, or built only of admissible values)."""
    return CanonicalPayload(canonical_json_unchecked(payload))


def payload_value(payload: dict[str, Any] | CanonicalPayload) -> dict[str, Any]:
    """A draft's payload as a value, whichever form it carries."""
    return payload.value() if isinstance(payload, CanonicalPayload) else payload


class EventDraft(NamedTuple):
    """An event decided by an aggregate, waiting for its position in the log.

    Immutable like the rest; a named tuple because one is built per event on the hot path (a third of
    the cost of a frozen dataclass).
    """

    event_id: str
    type: str
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    partner_id: str | None
    payload: dict[str, Any] | CanonicalPayload
    """The payload's value, or its canonical bytes (:class:`CanonicalPayload`)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """A decoded log entry (what the canonical bytes say)."""

    position: int
    prev: str | None
    event_id: str
    type: str
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    aggregate_prev_position: int | None
    partner_id: str | None
    recorded_at: str
    payload: dict[str, Any]


def format_recorded_at(moment: datetime) -> str:
    """RFC 3339 UTC with exactly six fractional digits, so strings sort like times."""
    if moment.tzinfo is None:
        raise InvalidCommand("recordedAt must be timezone-aware", field="recordedAt")
    return utc_text(moment)


def utc_text(moment: datetime) -> str:
    """``moment`` (aware) in UTC as :data:`RECORDED_AT_FORMAT` writes it: through ``isoformat`` (C, about a
    quarter of ``strftime``'s cost: one call per claim of a bulk import) for the years it writes alike."""
    utc = moment.astimezone(UTC)
    if utc.year < 1000:  # strftime writes such a year without leading zeros
        return utc.strftime(RECORDED_AT_FORMAT)
    return utc.isoformat(timespec="microseconds")[:-6] + "Z"  # without "+00:00"


def parse_recorded_at(text: str) -> datetime:
    """Inverse of :func:`format_recorded_at`."""
    return datetime.strptime(text, RECORDED_AT_FORMAT).replace(tzinfo=UTC)


def encode_entry(
    draft: EventDraft,
    *,
    position: int,
    prev: bytes | None,
    aggregate_prev_position: int | None,
    recorded_at: str,
) -> bytes:
    """Return the canonical entry bytes for ``draft`` at ``position`` (payload already checked; a
    :class:`CanonicalPayload` is spliced in as it is)."""
    envelope: dict[str, Any] = {
        "aggregate": {
            "id": draft.aggregate_id,
            "prevPosition": aggregate_prev_position,
            "type": draft.aggregate_type,
            "version": draft.aggregate_version,
        },
        "eventId": draft.event_id,
        "partnerId": draft.partner_id,
        "payload": draft.payload,
        "position": position,
        "prev": None if prev is None else prev.hex(),
        "recordedAt": recorded_at,
        "type": draft.type,
        "v": ENVELOPE_VERSION,
    }
    payload = draft.payload
    if type(payload) is CanonicalPayload:
        envelope["payload"] = orjson.Fragment(payload.canonical)
        return canonical_json_spliced(envelope, lambda: {**envelope, "payload": payload.value()})
    return canonical_json_unchecked(envelope)


def decode_entry(entry: bytes) -> Envelope:
    """Parse entry bytes into an :class:`Envelope`; raise :class:`MalformedEntry` on any deviation."""
    try:
        doc = orjson.loads(entry)
        aggregate = doc["aggregate"]
        if doc["v"] != ENVELOPE_VERSION:
            raise MalformedEntry(f"unknown envelope version {doc['v']!r}")
        envelope = Envelope(
            position=doc["position"],
            prev=doc["prev"],
            event_id=doc["eventId"],
            type=doc["type"],
            aggregate_type=aggregate["type"],
            aggregate_id=aggregate["id"],
            aggregate_version=aggregate["version"],
            aggregate_prev_position=aggregate["prevPosition"],
            partner_id=doc["partnerId"],
            recorded_at=doc["recordedAt"],
            payload=doc["payload"],
        )
    except (orjson.JSONDecodeError, KeyError, TypeError) as error:
        raise MalformedEntry(f"not a ledger envelope: {error}") from error
    if len(doc) != 9 or len(aggregate) != 4:
        raise MalformedEntry("unexpected fields in envelope")
    if not isinstance(envelope.position, int) or not isinstance(envelope.aggregate_version, int):
        raise MalformedEntry("position and version must be integers")
    return envelope
