"""C2SP tlog-cosignature v1: checked-in known answers (tests/data/cosignature_vectors.json), the encoding
(key ID with type 0x04, big-endian timestamp, signed message), and what a verifier refuses."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proofs.cosignature import (
    ALG_COSIGNATURE_V1,
    CosignatureMissing,
    cosigned_message,
    cosigner_key_id,
    format_cosigner_skey,
    generate_cosigner,
    parse_cosigner_skey,
    parse_cosigner_vkey,
    verify_cosignatures,
    with_signature_lines,
)
from proofs.errors import MalformedKey, MalformedNote
from proofs.note import parse_skey, parse_vkey, public_key_to_raw, sign_note

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "data" / "cosignature_vectors.json").read_text(encoding="utf-8")
)


def test_known_answer_line_is_reproduced() -> None:
    witness = parse_cosigner_skey(VECTORS["witnessSkey"])
    assert witness.verifier().vkey == VECTORS["witnessVkey"]
    assert witness.cosign(VECTORS["body"], VECTORS["timestamp"]) == VECTORS["cosignatureLine"]
    assert cosigned_message(VECTORS["body"], VECTORS["timestamp"]) == VECTORS["signedMessage"].encode()


def test_known_answer_note_verifies_and_the_log_signature_still_does() -> None:
    note = VECTORS["cosignedNote"]
    (found,) = verify_cosignatures(note, [parse_cosigner_vkey(VECTORS["witnessVkey"])])
    assert (found.witness, found.timestamp) == ("witness.example.com/w1", VECTORS["timestamp"])
    from proofs.note import open_note

    text, signers = open_note(note, [parse_vkey(VECTORS["logVkey"])])  # the witness line is ignored there
    assert text == VECTORS["body"]
    assert signers == ["example.com/behind-the-sofa"]


def test_line_layout_is_key_id_timestamp_signature() -> None:
    witness = parse_cosigner_skey(VECTORS["witnessSkey"])
    blob = base64.b64decode(VECTORS["cosignatureLine"].split(" ")[2])
    raw = public_key_to_raw(witness.private_key.public_key())
    assert blob[:4] == cosigner_key_id(witness.name, raw)
    assert struct.unpack(">Q", blob[4:12]) == (VECTORS["timestamp"],)
    assert len(blob) == 76
    assert base64.b64decode(VECTORS["witnessVkey"].split("+")[2])[0] == ALG_COSIGNATURE_V1


def test_a_log_key_is_not_a_witness_key() -> None:
    """Type 0x01 (a note key) and 0x04 (a cosigner key) never stand for each other."""
    with pytest.raises(MalformedKey):
        parse_cosigner_vkey(VECTORS["logVkey"])
    with pytest.raises(MalformedKey):
        parse_vkey(VECTORS["witnessVkey"])
    with pytest.raises(MalformedKey):
        parse_skey(VECTORS["witnessSkey"])


def test_missing_wrong_and_tampered_cosignatures_are_refused() -> None:
    note = VECTORS["cosignedNote"]
    other = generate_cosigner("witness.example.com/w1")  # same name, another key: its key ID differs
    with pytest.raises(CosignatureMissing, match="no cosignature"):
        verify_cosignatures(note, [other.verifier()])
    witness = parse_cosigner_vkey(VECTORS["witnessVkey"])
    tampered = note.replace("20852163", "20852164")
    with pytest.raises(CosignatureMissing, match="does not verify"):
        verify_cosignatures(tampered, [witness])
    later = note.replace("AAAABkGFDL", "AAAABkGFDM")  # another timestamp, same signature
    with pytest.raises(CosignatureMissing, match="does not verify"):
        verify_cosignatures(later, [witness])


def test_appending_lines_is_idempotent_and_checked() -> None:
    log_note = VECTORS["cosignedNote"].removesuffix(VECTORS["cosignatureLine"])
    once = with_signature_lines(log_note, [VECTORS["cosignatureLine"]])
    assert once == VECTORS["cosignedNote"]
    assert with_signature_lines(once, [VECTORS["cosignatureLine"]]) == once
    with pytest.raises(MalformedNote):
        with_signature_lines(once, ["not a signature"])


def test_secret_key_round_trip_and_key_id_check() -> None:
    witness = generate_cosigner("w.example/x")
    assert parse_cosigner_skey(format_cosigner_skey(witness)).verifier() == witness.verifier()
    broken = format_cosigner_skey(witness).replace(f"+{witness.verifier().key_id.hex()}+", "+00000000+")
    with pytest.raises(MalformedKey):
        parse_cosigner_skey(broken)


@given(st.integers(min_value=0, max_value=2**63 - 1), st.text(alphabet="abc/\n0123456789=", min_size=1))
def test_any_timestamp_and_body_round_trip(timestamp: int, text: str) -> None:
    body = text if text.endswith("\n") else text + "\n"
    witness = WITNESS
    signed = sign_note(body, LOG) + witness.cosign(body, timestamp)
    (found,) = verify_cosignatures(signed, [witness.verifier()])
    assert found.timestamp == timestamp


WITNESS = generate_cosigner("witness.example/prop")
LOG = parse_skey(VECTORS["logSkey"])
