"""The witness's HTTP app over its real state directory (Litestar's TestClient): the tlog-witness statuses
and media types, the cosignature line, and the state kept across app instances (a restarted witness)."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import TestClient

from adapters.files.witness_state import WitnessState
from api.witness.app import MAX_REQUEST_BYTES, WitnessConfig, create_witness_app
from proofs.checkpoint import Checkpoint, signed_checkpoint
from proofs.cosignature import generate_cosigner, verify_cosignatures
from proofs.note import generate_signer
from proofs.witness_protocol import SIZE_CONTENT_TYPE, format_add_checkpoint

LOG = generate_signer("example.com/log")
WITNESS = generate_cosigner("witness.example/w1")


def _config(tmp_path: Path) -> WitnessConfig:
    return WitnessConfig(
        WITNESS, {LOG.name: [LOG.verifier()]}, WitnessState(tmp_path / "state"), clock=lambda: 1700000000.5
    )


def _note(size: int, root: bytes, signer=LOG) -> str:  # type: ignore[no-untyped-def]
    return signed_checkpoint(Checkpoint(signer.name, size, root), signer)


def test_cosigns_then_refuses_per_the_spec(tmp_path: Path) -> None:
    note = _note(1, bytes(32))
    with TestClient(create_witness_app(_config(tmp_path))) as client:
        assert client.get("/vkey").text == WITNESS.verifier().vkey + "\n"
        cosigned = client.post("/add-checkpoint", content=format_add_checkpoint(0, [], note))
        assert cosigned.status_code == 200
        (found,) = verify_cosignatures(note + cosigned.text, [WITNESS.verifier()])
        assert found.timestamp == 1700000000
        stale = client.post("/add-checkpoint", content=format_add_checkpoint(0, [], note))
        assert (stale.status_code, stale.text) == (409, "1\n")
        assert stale.headers["content-type"].startswith(SIZE_CONTENT_TYPE)
        stranger = generate_signer("example.com/other")
        unknown = client.post("/add-checkpoint", content=format_add_checkpoint(0, [], _note(1, bytes(32), stranger)))
        assert unknown.status_code == 404
        impostor = generate_signer(LOG.name)
        assert (
            client.post(
                "/add-checkpoint", content=format_add_checkpoint(1, [], _note(1, bytes(32), impostor))
            ).status_code
            == 403
        )
        assert client.post("/add-checkpoint", content=b"old x\n\n").status_code == 400
        assert client.post("/add-checkpoint", content=b"x" * (MAX_REQUEST_BYTES + 1)).status_code == 413
    # A restarted witness remembers: the same size with another root is a split view (409).
    with TestClient(create_witness_app(_config(tmp_path))) as client:
        split = client.post("/add-checkpoint", content=format_add_checkpoint(1, [], _note(1, bytes([1]) * 32)))
        assert (split.status_code, split.text) == (409, "1\n")
        again = client.post("/add-checkpoint", content=format_add_checkpoint(1, [], note))
        assert again.status_code == 200  # the same checkpoint again is cosigned again
