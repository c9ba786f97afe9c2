"""The writer protocol: length-prefixed msgpack frames (msgspec) over a local stream socket.

A frame is a 4-byte big-endian length then the msgpack body. The client sends :class:`SaveRequest`
(one save: all-or-nothing, like :meth:`~adapters.group_commit.GroupCommitter.submit`); the writer answers
each with one :class:`SaveReply` carrying the same ``id``, in commit order (not request order). A reply is
sent only after the commit returned: a reply with positions is an acknowledged, durable save. The
writer also pushes :class:`Committed` (the rows of each committed batch) to every connected worker.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any, NamedTuple

import msgspec

from ledger_core.engine.envelope import CanonicalPayload, EventDraft
from ledger_core.engine.errors import ConcurrencyConflict
from ledger_core.engine.sequencer import SequencedEntry

HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024
"""A frame larger than this is refused (the writer closes the connection): a save is a few kilobytes."""


class WireDraft(NamedTuple):
    """An :class:`~ledger_core.engine.envelope.EventDraft` on the wire: a payload already encoded
    (:class:`~ledger_core.engine.envelope.CanonicalPayload`) travels as its bytes."""

    event_id: str
    type: str
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    partner_id: str | None
    payload: dict[str, Any] | bytes

    @classmethod
    def of(cls, draft: EventDraft) -> WireDraft:
        payload = draft.payload
        encoded = payload.canonical if isinstance(payload, CanonicalPayload) else payload
        return cls(*draft[:6], encoded)

    def draft(self) -> EventDraft:
        payload = self.payload
        return EventDraft(*self[:6], CanonicalPayload(payload) if isinstance(payload, bytes) else payload)


class SaveRequest(msgspec.Struct, array_like=True, frozen=True):
    """One save: its drafts (an aggregate's pending events), committed together or not at all."""

    id: int
    drafts: list[WireDraft]

    @classmethod
    def of(cls, request_id: int, drafts: Sequence[EventDraft]) -> SaveRequest:
        return cls(request_id, [WireDraft.of(draft) for draft in drafts])

    def event_drafts(self) -> list[EventDraft]:
        """The drafts as the committer takes them."""
        return [draft.draft() for draft in self.drafts]


class Conflict(msgspec.Struct, array_like=True, frozen=True):
    """A :class:`~ledger_core.engine.errors.ConcurrencyConflict` on the wire."""

    aggregate_id: str
    expected_version: int
    found_version: int | None

    def error(self) -> ConcurrencyConflict:
        return ConcurrencyConflict(self.aggregate_id, self.expected_version, self.found_version)


class SaveReply(msgspec.Struct, array_like=True, frozen=True, tag=1):
    """The outcome of one save: its positions, or the conflict that refused it, or the failure of its
    transaction (``error``: a message; nothing of the save was stored)."""

    id: int
    positions: list[int] | None = None
    conflict: Conflict | None = None
    error: str | None = None


class Committed(msgspec.Struct, array_like=True, frozen=True, tag=2):
    """The rows of one committed batch, pushed to every worker after the commit and before the batch's
    replies: its followers read them from memory (:class:`~adapters.writer.recent.RecentRows`)."""

    entries: list[SequencedEntry]


_encoder = msgspec.msgpack.Encoder()
request_decoder = msgspec.msgpack.Decoder(SaveRequest)
reply_decoder = msgspec.msgpack.Decoder(SaveReply | Committed)


def frame(message: SaveRequest | SaveReply | Committed) -> bytes:
    """The bytes of one frame: header and body."""
    body = _encoder.encode(message)
    return HEADER.pack(len(body)) + body


def split_frames(buffer: bytearray) -> list[memoryview]:
    """Remove and return every complete frame body at the start of ``buffer`` (a partial one stays)."""
    bodies: list[memoryview] = []
    start = 0
    view = memoryview(bytes(buffer))
    while len(view) - start >= HEADER.size:
        (length,) = HEADER.unpack_from(view, start)
        if length > MAX_FRAME:
            raise ValueError(f"frame of {length} bytes exceeds {MAX_FRAME}")
        end = start + HEADER.size + length
        if end > len(view):
            break
        bodies.append(view[start + HEADER.size : end])
        start = end
    del buffer[:start]
    return bodies
