"""The envelope is byte-stable: a checked-in vector pins the entry format forever."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from ledger_core.engine.envelope import EventDraft, decode_entry, encode_entry, encode_payload, payload_value
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


_JSON_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | _JSON_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_JSON_TEXT, inner, max_size=4),
    max_leaves=12,
)


@given(payload=st.dictionaries(_JSON_TEXT, _JSON_VALUES, max_size=6), partner=st.sampled_from([None, "acme"]))
def test_an_encoded_payload_gives_the_entry_of_its_value(payload: dict[str, Any], partner: str | None) -> None:
    """A draft carrying its payload as canonical bytes (:class:`CanonicalPayload`, spliced in) is encoded to
    exactly the entry of the draft carrying the value, code points past U+E000 included (the reference
    encoder's case), and the bytes decode back to the value."""
    draft = EventDraft("e-1", "test.noted", "Test", "a-1", 2, partner, payload)
    encoded = draft._replace(payload=encode_payload(payload))
    at = {"position": 7, "prev": bytes(32), "aggregate_prev_position": 3, "recorded_at": "2026-12-07T00:00:00.000000Z"}
    assert encode_entry(encoded, **at) == encode_entry(draft, **at)  # type: ignore[arg-type]
    assert payload_value(encoded.payload) == payload_value(draft.payload) == payload
    assert pickle.loads(pickle.dumps(encoded)) == encoded
