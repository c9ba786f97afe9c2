"""The envelope is byte-stable: a checked-in vector pins the entry format forever."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rfc8785

from ledger_core.engine.envelope import EventDraft, decode_entry, encode_entry
from ledger_core.engine.errors import MalformedEntry
from proofs.hashing import leaf_hash

VECTORS = json.loads((Path(__file__).parents[2] / "data" / "envelope_vectors.json").read_text())


def _draft(spec: dict[str, object]) -> EventDraft:
    return EventDraft(**spec)  # type: ignore[arg-type]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_envelope_vectors(vector: dict[str, object]) -> None:
    """Encoding the vector's draft gives exactly the checked-in bytes and leaf hash."""
    entry = encode_entry(
        _draft(vector["draft"]),  # type: ignore[arg-type]
        position=vector["position"],  # type: ignore[arg-type]
        prev=None if vector["prev"] is None else bytes.fromhex(vector["prev"]),  # type: ignore[arg-type]
        aggregate_prev_position=vector["aggregatePrevPosition"],  # type: ignore[arg-type]
        recorded_at=vector["recordedAt"],  # type: ignore[arg-type]
    )
    assert entry.decode() == vector["entry"]
    assert leaf_hash(entry).hex() == vector["leafHash"]
    assert rfc8785.dumps(json.loads(entry)) == entry  # the reference implementation agrees


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_decode_round_trip(vector: dict[str, object]) -> None:
    """Decoding the vector's bytes gives back every header field."""
    envelope = decode_entry(str(vector["entry"]).encode())
    draft = vector["draft"]
    assert envelope.position == vector["position"]
    assert envelope.event_id == draft["event_id"]  # type: ignore[index]
    assert envelope.payload == draft["payload"]  # type: ignore[index]
    assert envelope.aggregate_prev_position == vector["aggregatePrevPosition"]


@pytest.mark.parametrize(
    "bad",
    [b"", b"not json", b"{}", b'{"v":2}', b"[1,2]"],
)
def test_decode_rejects_non_envelopes(bad: bytes) -> None:
    """Anything that is not a complete version-1 envelope is a MalformedEntry."""
    with pytest.raises(MalformedEntry):
        decode_entry(bad)
