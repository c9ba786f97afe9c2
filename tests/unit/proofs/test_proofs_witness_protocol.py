"""C2SP tlog-witness add-checkpoint: request encoding and the witness's decision in the spec's order
(400, 404, 403, 409 with the witness's size, 409 split view, 422 inconsistent), over real Merkle trees."""

from __future__ import annotations

import pytest
from unit.proofs.merkle_store import MemoryStore

from proofs import consistency_proof
from proofs.checkpoint import Checkpoint, signed_checkpoint
from proofs.note import generate_signer
from proofs.witness_protocol import (
    AddCheckpoint,
    Refusal,
    WitnessedHead,
    WitnessRefusal,
    decide,
    format_add_checkpoint,
    parse_add_checkpoint,
)

LOG = generate_signer("example.com/log")
LOGS = {LOG.name: [LOG.verifier()]}


def _tree(entries: list[bytes]) -> MemoryStore:
    return MemoryStore(entries)


def _note(entries: list[bytes], signer=LOG) -> str:  # type: ignore[no-untyped-def]
    return signed_checkpoint(Checkpoint(LOG.name, len(entries), _tree(entries).roots[-1]), signer)


def _head(entries: list[bytes]) -> WitnessedHead:
    return WitnessedHead(LOG.name, len(entries), _tree(entries).roots[-1])


ENTRIES = [f"entry {i}".encode() for i in range(20)]


def _request(old: list[bytes], new: list[bytes], signer=LOG) -> AddCheckpoint:  # type: ignore[no-untyped-def]
    proof = consistency_proof(len(old), len(new), _tree(new).fetch) if old else []
    return parse_add_checkpoint(format_add_checkpoint(len(old), proof, _note(new, signer)))


def _refusal(request: AddCheckpoint, last: WitnessedHead | None) -> WitnessRefusal:
    with pytest.raises(WitnessRefusal) as caught:
        decide(request, LOGS, last)
    return caught.value


def test_first_and_consistent_checkpoints_are_accepted() -> None:
    assert decide(_request([], ENTRIES[:5]), LOGS, None).size == 5
    assert decide(_request(ENTRIES[:5], ENTRIES[:13]), LOGS, _head(ENTRIES[:5])).size == 13
    assert decide(_request(ENTRIES[:13], ENTRIES[:13]), LOGS, _head(ENTRIES[:13])).size == 13  # same again


def test_request_body_round_trips() -> None:
    proof = consistency_proof(5, 13, _tree(ENTRIES[:13]).fetch)
    body = format_add_checkpoint(5, proof, _note(ENTRIES[:13]))
    assert body.startswith(b"old 5\n")
    parsed = parse_add_checkpoint(body)
    assert (parsed.old_size, list(parsed.proof), parsed.checkpoint) == (5, proof, _note(ENTRIES[:13]))


@pytest.mark.parametrize(
    "body",
    [b"old 05\n\nx", b"old -1\n\nx", b"new 5\n\nx", b"old 5\nnot base64!\n\nx", b"old 5\n", b"\xff\n\n"],
)
def test_malformed_requests_are_400(body: bytes) -> None:
    with pytest.raises(WitnessRefusal) as caught:
        parse_add_checkpoint(body)
    assert caught.value.status is Refusal.BAD_REQUEST


def test_unknown_log_404_and_unsigned_403() -> None:
    stranger = generate_signer("example.com/other")
    request = parse_add_checkpoint(
        format_add_checkpoint(0, [], signed_checkpoint(Checkpoint(stranger.name, 1, bytes(32)), stranger))
    )
    assert _refusal(request, None).status is Refusal.UNKNOWN_LOG
    impostor = generate_signer(LOG.name)  # the log's name, another key
    assert _refusal(_request([], ENTRIES[:3], impostor), None).status is Refusal.FORBIDDEN


def test_rollback_is_refused_with_the_witness_size() -> None:
    """The log offers an older checkpoint than the one the witness cosigned: 409 naming its size, or 400."""
    refused = _refusal(_request(ENTRIES[:5], ENTRIES[:8]), _head(ENTRIES[:13]))
    assert (refused.status, refused.size) == (Refusal.CONFLICT, 13)
    older = parse_add_checkpoint(format_add_checkpoint(13, [], _note(ENTRIES[:8])))
    assert _refusal(older, _head(ENTRIES[:13])).status is Refusal.BAD_REQUEST


def test_split_view_of_one_size_is_409() -> None:
    fork = [*ENTRIES[:12], b"forked entry"]
    refused = _refusal(_request(ENTRIES[:13], fork), _head(ENTRIES[:13]))
    assert (refused.status, refused.size) == (Refusal.CONFLICT, 13)
    assert "split view" in refused.reason


def test_inconsistent_extension_is_422() -> None:
    fork = [*ENTRIES[:4], b"forked", *ENTRIES[5:16]]
    proof = consistency_proof(13, 16, _tree(fork).fetch)
    request = parse_add_checkpoint(format_add_checkpoint(13, proof, _note(fork)))
    assert _refusal(request, _head(ENTRIES[:13])).status is Refusal.INCONSISTENT
    non_empty = parse_add_checkpoint(format_add_checkpoint(0, [bytes(32)], _note(ENTRIES[:3])))
    assert _refusal(non_empty, None).status is Refusal.INCONSISTENT
